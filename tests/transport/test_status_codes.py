"""At the transport boundary every error has its own status and name, both ways: the
aggregator refuses with its class's row of the table and the silo raises that class
again. A peer's fault is never INTERNAL, which is kept for the aggregator's own failures."""

from __future__ import annotations

import importlib
import pkgutil

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fedsilo
from fedsilo.errors import (
    ConfigProblemsError,
    ContextMismatchError,
    FalseDecryptionShareError,
    FalseShareError,
    FedsiloError,
    IncompleteUploadError,
    NotReadyError,
    PKIError,
    RemoteProtocolError,
    RosterError,
    SignatureError,
    TooFewSurvivorsError,
    TransportError,
)
from fedsilo.transport.status import (
    ERROR_KEY,
    ERRORS,
    OWN_FAULTS,
    RESUME_KEY,
    SILO_DECISIONS,
    error_of,
    refusal_of,
    status_of,
)

PREFIX = "the aggregator refused: "


def every_error() -> list[type[FedsiloError]]:
    for module in pkgutil.walk_packages(fedsilo.__path__, "fedsilo."):
        importlib.import_module(module.name)  # so that every subclass is defined
    found, todo = [], [FedsiloError]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.append(sub)
            todo.append(sub)
    return found


EVERY_CLASS = [FedsiloError, *every_error()]
# what crosses the wire as itself: everything but the decisions only a silo makes
RELAYED_CLASSES = [k for k in EVERY_CLASS if k not in SILO_DECISIONS]


def samples(kind: type[FedsiloError]) -> list[FedsiloError]:
    """``kind`` as a peer relays it, and as its own constructor builds it."""
    built: dict[type[FedsiloError], FedsiloError] = {
        IncompleteUploadError: IncompleteUploadError("masked input incomplete", 262_144),
        TooFewSurvivorsError: TooFewSurvivorsError("masked-input", 2, 3, ("s4", "s5")),
        FalseShareError: FalseShareError("silo 's2' revealed a false share", object()),
        FalseDecryptionShareError: FalseDecryptionShareError("silo 2's shares fail", 2),
        ConfigProblemsError: ConfigProblemsError("fed.yaml", ["silos[1].name: required"]),
    }
    own = [built[kind]] if kind in built else [kind("config digest mismatch: a, b")]
    return [kind.relayed("config digest mismatch: a, b"), *own]


def sent(error: FedsiloError) -> FedsiloError:
    """``error`` refused by the servicer and read back by the client (the wire between
    is gRPC's: status, details, trailing metadata)."""
    refusal = refusal_of(error)
    return error_of(refusal.status, refusal.message, refusal.trailers)


@pytest.mark.parametrize("error", every_error(), ids=lambda e: e.__name__)
def test_only_the_aggregators_own_failures_are_internal(error: type[FedsiloError]) -> None:
    code = status_of(error.__new__(error))
    assert (code is grpc.StatusCode.INTERNAL) == issubclass(error, OWN_FAULTS), code


def test_a_peers_faults_get_the_status_that_names_them() -> None:
    assert status_of(SignatureError("x")) is grpc.StatusCode.UNAUTHENTICATED
    assert status_of(PKIError("x")) is grpc.StatusCode.PERMISSION_DENIED
    assert status_of(RosterError("x")) is grpc.StatusCode.PERMISSION_DENIED
    assert status_of(RemoteProtocolError("x")) is grpc.StatusCode.INVALID_ARGUMENT
    assert status_of(TooFewSurvivorsError("x", 1, 3)) is grpc.StatusCode.ABORTED
    assert status_of(ContextMismatchError("x")) is grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.parametrize("error", EVERY_CLASS, ids=lambda e: e.__name__)
def test_every_error_class_has_a_row_of_its_own(error: type[FedsiloError]) -> None:
    assert error in ERRORS, f"{error.__module__}.{error.__qualname__} has no row"


def test_the_table_lists_no_class_but_the_errors() -> None:
    assert set(ERRORS) == set(EVERY_CLASS)


def test_every_row_has_its_own_name() -> None:
    names = [name for _, name in ERRORS.values()]
    assert len(set(names)) == len(names)
    assert all(name.replace("-", "").isalpha() and name.islower() for name in names)


def test_only_not_ready_travels_as_deadline_exceeded_so_the_client_polls_on_nothing_else() -> None:
    polled = [
        kind for kind, (status, _) in ERRORS.items() if status is grpc.StatusCode.DEADLINE_EXCEEDED
    ]
    assert polled == [NotReadyError]


def test_only_transport_errors_travel_as_unavailable_so_the_client_retries_nothing_else() -> None:
    retried = [
        kind for kind, (status, _) in ERRORS.items() if status is grpc.StatusCode.UNAVAILABLE
    ]
    assert retried == [TransportError]


@pytest.mark.parametrize("kind", RELAYED_CLASSES, ids=lambda e: e.__name__)
def test_every_error_crosses_the_wire_as_its_own_class(kind: type[FedsiloError]) -> None:
    for error in samples(kind):
        back = sent(error)
        assert type(back) is kind
        assert str(back) == PREFIX + str(error)
        assert status_of(back) is status_of(error)
        assert back.from_peer and not error.from_peer  # a peer said it, not this process


@pytest.mark.parametrize("kind", sorted(SILO_DECISIONS, key=str))
def test_a_reply_naming_a_decision_only_a_silo_makes_is_refused_not_obeyed(
    kind: type[FedsiloError],
) -> None:
    """A silo skips a session it cannot join (NotJoinableError); an aggregator that could
    send one would make it skip the ack of a verified round and train the next one on the
    model before (see tests/nodes/test_forged_refusals.py)."""
    back = sent(kind("please rejoin"))
    assert type(back) is RemoteProtocolError
    assert "only a silo decides" in str(back) and "please rejoin" in str(back)


@pytest.mark.parametrize("kind", EVERY_CLASS, ids=lambda e: e.__name__)
def test_no_error_carries_a_status_code(kind: type[FedsiloError]) -> None:
    for error in [*samples(kind), *map(sent, samples(kind))]:
        assert not any(isinstance(v, grpc.StatusCode) for v in vars(error).values()), error
        assert not any(isinstance(a, grpc.StatusCode) for a in error.args), error


def test_the_refusal_names_the_class_in_the_trailers() -> None:
    refusal = refusal_of(ContextMismatchError("config digest mismatch: sha256:ab, sha256:cd"))
    assert refusal.status is grpc.StatusCode.FAILED_PRECONDITION
    assert refusal.message == "config digest mismatch: sha256:ab, sha256:cd"
    assert refusal.trailers == ((ERROR_KEY, "context-mismatch"),)


def test_an_incomplete_upload_carries_its_resume_offset_both_ways() -> None:
    refusal = refusal_of(IncompleteUploadError("resume at offset 262144", 262_144))
    assert dict(refusal.trailers) == {ERROR_KEY: "incomplete-upload", RESUME_KEY: "262144"}
    back = sent(IncompleteUploadError("resume at offset 262144", 262_144))
    assert isinstance(back, IncompleteUploadError)
    assert back.offset == 262_144


@pytest.mark.parametrize("offset", [None, "", "-1", "12a", "²", "9" * 40])
def test_an_incomplete_upload_without_a_usable_offset_has_none(offset: str | None) -> None:
    trailers = [(ERROR_KEY, "incomplete-upload")]
    trailers += [(RESUME_KEY, offset)] if offset is not None else []
    back = error_of(grpc.StatusCode.ABORTED, "cut short", trailers)
    assert type(back) is IncompleteUploadError
    assert back.offset is None


@pytest.mark.parametrize(
    ("status", "trailers", "text"),
    [
        (grpc.StatusCode.UNAVAILABLE, [], "cannot reach the aggregator: "),
        (grpc.StatusCode.DEADLINE_EXCEEDED, [], "the aggregator did not answer in time: "),
        (grpc.StatusCode.UNKNOWN, [], "UNKNOWN, without a fedsilo error name"),
        (grpc.StatusCode.FAILED_PRECONDITION, [(ERROR_KEY, "no-such-error")], "without"),
        (grpc.StatusCode.INVALID_ARGUMENT, [(ERROR_KEY, "context-mismatch")], "without"),
        (grpc.StatusCode.FAILED_PRECONDITION, [(ERROR_KEY, b"context-mismatch")], "without"),
    ],
    ids=["network", "deadline", "not fedsilo", "unknown name", "status disagrees", "binary"],
)
def test_a_reply_the_table_does_not_name_is_a_transport_error(
    status: grpc.StatusCode, trailers: list[tuple[str, str | bytes]], text: str
) -> None:
    error = error_of(status, "details", trailers)
    assert type(error) is TransportError
    assert text in str(error) and str(error).endswith("details")


@given(st.sampled_from(RELAYED_CLASSES), st.text())
def test_any_message_comes_back_word_for_word(kind: type[FedsiloError], message: str) -> None:
    back = sent(kind.relayed(message))
    assert type(back) is kind
    assert str(back) == PREFIX + message


def test_a_relayed_error_keeps_no_fields_it_was_not_told() -> None:
    relayed = sent(TooFewSurvivorsError("masked-input", 2, 3, ("s4",)))
    assert isinstance(relayed, TooFewSurvivorsError)
    assert (relayed.stage, relayed.have, relayed.need, relayed.missing) == (None, None, None, ())
    assert "only 2 silos remain but 3 are needed" in str(relayed) and "missing: s4" in str(relayed)
    share = sent(FalseShareError("silo 's2' revealed a false share", object()))
    assert isinstance(share, FalseShareError) and share.evidence is None
