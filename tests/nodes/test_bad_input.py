"""Bad input over the wire: the sender gets a typed error, the others are still served,
and the round's result is still exact. Silo s5 is played by the test.

Every test that uses only the transport interface runs over both transports (mutual-TLS
gRPC and in-memory): this is the transport conformance suite. Those that cut a gRPC
stream by hand are gRPC's alone."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from fedsilo.audit.events import parse_events
from fedsilo.errors import (
    ContextMismatchError,
    EquivocationError,
    FedsiloError,
    NotReadyError,
    RemoteProtocolError,
    RosterError,
    SessionClosedError,
    SignatureError,
    UnexpectedMessageError,
)
from fedsilo.protocol.events import RoundOpened
from fedsilo.protocol.masking.messages import ConsistencySignature, KeyAdvert
from fedsilo.protocol.messages import Ack
from fedsilo.protocol.outputs import RESULT_DOWNLOAD
from fedsilo.runtime.events import EventLog
from fedsilo.runtime.nodes import AggregatorNode
from fedsilo.transport import frames
from fedsilo.transport.calls import CallContext, InputChunk
from fedsilo.transport.client import AggregatorClient, Backoff
from fedsilo.transport.codec import Announcement
from fedsilo.transport.link import AggregatorLink
from fedsilo.transport.status import ERROR_KEY, RESUME_KEY
from tests.nodes.live import TRANSPORTS, LiveFederation, framed

HONEST = ["s1", "s2", "s3", "s4"]


@pytest.fixture(params=TRANSPORTS)
def live(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LiveFederation]:
    federation = LiveFederation(tmp_path, transport=request.param)
    federation.run_rounds()
    try:
        yield federation
    finally:
        federation.close()


def rogue(live: LiveFederation) -> tuple[AggregatorLink, Announcement]:
    client = live.client("s5")
    return client, live.announcement(client, "s5")


def upload_raw(client: AggregatorLink, chunks: list[InputChunk]) -> None:
    """Send exactly ``chunks`` (from any offset the aggregator asks: the same ones)."""
    client.upload_from(lambda start: iter(chunks))


def chunk(a: Announcement, **fields: object) -> InputChunk:
    ctx = CallContext.of(a.context, "masked-input", 5)
    values = {"offset": 0, "total_length": a.vector_length, "data": bytes(8)} | fields
    return InputChunk(context=ctx, **values)  # type: ignore[arg-type]


def refused(
    live: LiveFederation,
    action: object,
    error: type[FedsiloError],
    code: grpc.StatusCode,
    text: str,
    quiet: bool = True,
) -> None:
    """``action`` raises the aggregator's ``error``, that very class, sent as ``code``;
    with no honest silo active, nothing changed."""
    before = live.node.mailbox.progress
    with pytest.raises(error) as caught:
        action()  # type: ignore[operator]
    assert type(caught.value) is error, repr(caught.value)
    assert str(caught.value).startswith("the aggregator refused: ")
    assert text in str(caught.value)
    wire = caught.value.__cause__
    if live.transport == "grpc":
        assert isinstance(wire, grpc.RpcError)
        assert wire.code() == code, wire
    else:  # in memory, the cause is the very error the aggregator raised
        assert type(wire) is error, repr(wire)
    if quiet:
        assert live.node.mailbox.progress == before


def finish_without_s5(live: LiveFederation) -> None:
    live.start_silos(HONEST)
    live.finish()
    live.assert_released_exactly(HONEST)


def test_a_chunk_of_the_wrong_length_is_refused(live: LiveFederation) -> None:
    client, a = rogue(live)
    refused(
        live,
        lambda: upload_raw(client, [chunk(a, data=bytes(5))]),
        RemoteProtocolError,
        grpc.StatusCode.INVALID_ARGUMENT,
        "whole number",
    )
    finish_without_s5(live)


def test_an_empty_chunk_is_refused(live: LiveFederation) -> None:
    client, a = rogue(live)
    refused(
        live,
        lambda: upload_raw(client, [chunk(a, data=b"")]),
        RemoteProtocolError,
        grpc.StatusCode.INVALID_ARGUMENT,
        "an empty chunk",
    )
    finish_without_s5(live)


def test_a_chunk_beyond_the_declared_size_is_refused(live: LiveFederation) -> None:
    client, a = rogue(live)
    refused(
        live,
        lambda: upload_raw(client, [chunk(a, offset=a.vector_length - 1)]),
        RemoteProtocolError,
        grpc.StatusCode.INVALID_ARGUMENT,
        "beyond",
    )
    finish_without_s5(live)


def test_a_declared_size_beyond_the_limit_is_refused_before_allocation(
    live: LiveFederation,
) -> None:
    client, a = rogue(live)
    refused(
        live,
        lambda: upload_raw(client, [chunk(a, total_length=10**12)]),
        RemoteProtocolError,
        grpc.StatusCode.INVALID_ARGUMENT,
        "declared",
    )
    finish_without_s5(live)


def test_a_message_for_a_stage_that_is_not_current_is_refused(live: LiveFederation) -> None:
    client, a = rogue(live)
    early = ConsistencySignature(a.context, 5, (0, 0), (), b"\x00" * 64)
    refused(
        live,
        lambda: client.submit(framed(early)),
        UnexpectedMessageError,
        grpc.StatusCode.FAILED_PRECONDITION,
        "not accepted in state collect-adverts",
    )
    finish_without_s5(live)


def test_a_body_labelled_for_another_stage_is_read_as_that_stage_and_refused(
    live: LiveFederation,
) -> None:
    """The stage label says which message the body is: an advert labelled share-keys is
    read as a share upload, and the session refuses it."""
    client, a = rogue(live)
    advert = live.rogue_session("s5", a).start()[0]
    assert isinstance(advert, KeyAdvert)
    honest = framed(advert)
    wire = dataclasses.replace(
        honest, context=dataclasses.replace(honest.context, stage="share-keys")
    )
    refused(
        live,
        lambda: client.submit(wire),
        RemoteProtocolError,
        grpc.StatusCode.INVALID_ARGUMENT,
        "a malformed share-keys message",
    )
    finish_without_s5(live)


def test_a_chunk_labelled_for_another_stage_or_round_is_refused(live: LiveFederation) -> None:
    client, a = rogue(live)
    base = chunk(a)
    mislabelled = dataclasses.replace(
        base, context=dataclasses.replace(base.context, stage="unmasking")
    )
    refused(
        live,
        lambda: upload_raw(client, [mislabelled]),
        ContextMismatchError,
        grpc.StatusCode.FAILED_PRECONDITION,
        "labelled stage 'unmasking', not 'masked-input'",
    )
    # the open session's id, another round
    later = dataclasses.replace(base, context=dataclasses.replace(base.context, round=2))
    refused(
        live,
        lambda: upload_raw(client, [later]),
        ContextMismatchError,
        grpc.StatusCode.FAILED_PRECONDITION,
        "another federation, session or round",
    )
    finish_without_s5(live)


def test_a_badly_signed_advert_gets_a_specific_status_not_internal(live: LiveFederation) -> None:
    client, a = rogue(live)
    advert = live.rogue_session("s5", a).start()[0]
    assert isinstance(advert, KeyAdvert)
    signature = bytearray(advert.signature)
    signature[-1] ^= 1
    forged = dataclasses.replace(advert, signature=bytes(signature))
    refused(
        live,
        lambda: client.submit(framed(forged)),
        SignatureError,
        grpc.StatusCode.UNAUTHENTICATED,
        "the advert of silo 's5' is not validly signed",
        quiet=False,  # the forger is excluded from the stage
    )
    finish_without_s5(live)


def test_an_ack_before_the_release_is_refused_and_changes_nothing(live: LiveFederation) -> None:
    client, a = rogue(live)
    ack = Ack(a.context, 5, bytes(32), b"\x00" * 64)
    refused(
        live,
        lambda: client.submit(framed(ack)),
        UnexpectedMessageError,
        grpc.StatusCode.FAILED_PRECONDITION,
        "not accepted in state collect-adverts",
    )
    finish_without_s5(live)


def fetch_request(a: Announcement, stage: str, sender: int = 5) -> CallContext:
    return CallContext.of(a.context, stage, sender)


def test_a_fetch_of_the_sum_before_the_release_is_refused(live: LiveFederation) -> None:
    client, a = rogue(live)
    refused(
        live,
        lambda: client.fetch("result", fetch_request(a, RESULT_DOWNLOAD), 10, 1),
        NotReadyError,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        "no released aggregate for that session",
    )
    finish_without_s5(live)


@pytest.mark.parametrize(
    ("stage", "sender", "error", "code", "text"),
    [
        (
            "release",
            5,
            RemoteProtocolError,
            grpc.StatusCode.INVALID_ARGUMENT,
            "nothing to fetch for stage 'release'",
        ),
        (
            RESULT_DOWNLOAD,
            1,
            RosterError,
            grpc.StatusCode.PERMISSION_DENIED,
            "in the name of silo 1",
        ),
    ],
    ids=["an unknown stage", "another silo's name"],
)
def test_a_fetch_outside_the_gate_is_refused_before_anything_is_looked_up(
    live: LiveFederation,
    stage: str,
    sender: int,
    error: type[FedsiloError],
    code: grpc.StatusCode,
    text: str,
) -> None:
    client, a = rogue(live)
    refused(
        live,
        lambda: client.fetch("result", fetch_request(a, stage, sender), 10, 1),
        error,
        code,
        text,
    )
    finish_without_s5(live)


def test_an_identical_resend_is_accepted_once_and_is_idempotent(live: LiveFederation) -> None:
    client, a = rogue(live)
    advert = live.rogue_session("s5", a).start()[0]
    assert isinstance(advert, KeyAdvert)
    client.submit(framed(advert))
    after_first = live.node.mailbox.progress
    client.submit(framed(advert))
    assert live.node.mailbox.progress == after_first
    finish_without_s5(live)  # s5 then falls silent and is dropped at ShareKeys


def test_a_different_body_for_the_same_stage_is_refused_as_equivocation(
    live: LiveFederation,
) -> None:
    client, a = rogue(live)
    first = live.rogue_session("s5", a, seed=1).start()[0]
    second = live.rogue_session("s5", a, seed=2).start()[0]
    assert isinstance(first, KeyAdvert) and isinstance(second, KeyAdvert)
    client.submit(framed(first))
    refused(
        live,
        lambda: client.submit(framed(second)),
        EquivocationError,
        grpc.StatusCode.ALREADY_EXISTS,
        "different",
    )
    finish_without_s5(live)


def test_another_round_under_the_open_session_id_is_a_context_mismatch_not_equivocation(
    live: LiveFederation,
) -> None:
    """Its context is wrong before its body is compared with what was accepted."""
    client, a = rogue(live)
    first = live.rogue_session("s5", a).start()[0]
    assert isinstance(first, KeyAdvert)
    client.submit(framed(first))
    moved = dataclasses.replace(first, context=dataclasses.replace(first.context, round=2))
    refused(
        live,
        lambda: client.submit(framed(moved)),
        ContextMismatchError,
        grpc.StatusCode.FAILED_PRECONDITION,
        "another federation, session or round",
    )
    finish_without_s5(live)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_message_replayed_into_another_session_or_later_round_is_refused(
    tmp_path: Path, transport: str
) -> None:
    live = LiveFederation(tmp_path, rounds=2, transport=transport)
    live.run_rounds()
    try:
        client, a = rogue(live)
        recorded = live.rogue_session("s5", a).start()[0]
        assert isinstance(recorded, KeyAdvert)
        client.submit(framed(recorded))  # round 1: s5 joins, then falls silent
        live.start_silos(HONEST)
        first = live.node.mailbox.session_id
        deadline = time.monotonic() + 60
        # round 1 completes without s5 and the aggregator moves on to round 2's session
        while live.fed.released(1) is None or live.node.mailbox.session_id == first:
            assert time.monotonic() < deadline, "round 2 never opened"
            live.threads[0].join(0.05)
        # honest silos are busy with round 2 meanwhile, so the session progress moves
        refused(
            live,
            lambda: client.submit(framed(recorded)),
            SessionClosedError,
            grpc.StatusCode.FAILED_PRECONDITION,
            "another",
            quiet=False,
        )
        moved = dataclasses.replace(
            recorded, context=dataclasses.replace(recorded.context, round=2)
        )
        refused(
            live,
            lambda: client.submit(framed(moved)),
            SessionClosedError,
            grpc.StatusCode.FAILED_PRECONDITION,
            "another",
            quiet=False,
        )
        live.finish()
        live.assert_released_exactly(HONEST, 1)
        live.assert_released_exactly(HONEST, 2)
    finally:
        live.close()


class TruncatingClient(AggregatorClient):
    """A silo whose first upload is cut off after one chunk, as a dropped connection would."""

    resumed_at: int | None = None

    def upload_from(self, source: Callable[[int], Iterator[InputChunk]]) -> None:
        if self.resumed_at is None:
            try:
                first = frames.input_chunk_pb(next(source(0)))
                self._stub.UploadInput(iter([first]), timeout=10)
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.ABORTED
                trailers = dict(exc.trailing_metadata())
                assert trailers[ERROR_KEY] == "incomplete-upload"
                self.resumed_at = int(trailers[RESUME_KEY])
        super().upload_from(source)


def test_a_truncated_stream_gets_a_typed_error_and_resumes_to_an_exact_sum(tmp_path: Path) -> None:
    live = LiveFederation(tmp_path, params=600_000)
    live.run_rounds()
    try:
        client = TruncatingClient(live.address, *live.pem("s5"), Backoff(patience=5))
        node = live.manual_silo("s5", client)
        live.start_silos(HONEST)
        node.run_round(1)
        live.finish()
        assert client.resumed_at == (1 << 20) // 4  # told exactly where to resume
        live.assert_released_exactly([*HONEST, "s5"])
    finally:
        live.close()


class AbandoningClient(AggregatorClient):
    """A silo that sends one chunk of its masked input and is never heard from again."""

    def upload_from(self, source: Callable[[int], Iterator[InputChunk]]) -> None:
        with contextlib.suppress(grpc.RpcError):
            self._stub.UploadInput(iter([frames.input_chunk_pb(next(source(0)))]), timeout=10)
        raise SystemExit("crashed mid-upload")


def test_an_abandoned_upload_reruns_the_round_as_a_fresh_session(tmp_path: Path) -> None:
    live = LiveFederation(tmp_path, params=600_000)
    live.run_rounds()
    first_session = live.node.mailbox.session_id
    try:
        client = AbandoningClient(live.address, *live.pem("s5"), Backoff(patience=5))
        node = live.manual_silo("s5", client)
        live.start_silos(HONEST)
        with pytest.raises(SystemExit):
            node.run_round(1)
        live.finish()
        assert "session-restart" in live.log_stream.getvalue()
        assert "stopped part-way" in live.log_stream.getvalue()
        record = live.fed.released(1)
        assert first_session is not None and record is not None
        assert record["session"] != first_session.hex()  # released by a fresh session
        live.assert_released_exactly(HONEST)
    finally:
        live.close()


def test_a_restarted_aggregator_resumes_after_the_last_completed_round(tmp_path: Path) -> None:
    live = LiveFederation(tmp_path, rounds=2)
    live.run_rounds()
    live.start_silos([*HONEST, "s5"])
    live.finish()
    live.close()
    assert live.fed.released(2) is not None
    (
        tmp_path / "agg-state" / "rounds" / "round-000002.json"
    ).unlink()  # as if it crashed in round 2
    log = io.StringIO()
    restarted = AggregatorNode(
        live.files("agg"),
        tmp_path / "fed",
        tmp_path / "agg-state",
        live.address,
        EventLog("aggregator", log),
    )
    restarted.start()

    def run_until_stopped() -> None:
        with contextlib.suppress(FedsiloError):  # stopping mid-round ends run() with an error
            restarted.run()

    thread = threading.Thread(target=run_until_stopped, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not (opened := opened_rounds(log.getvalue())):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert opened[0] == 2  # round 1 is not run again
    finally:
        restarted.stop(grace=0)
        thread.join(10)


def opened_rounds(log: str) -> list[int]:
    """The rounds whose sessions the aggregator opened, in order (through the one reader)."""
    return [e.round for e in parse_events(log.splitlines()) if isinstance(e, RoundOpened)]
