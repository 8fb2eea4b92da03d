"""A silo restored from a backup older than the session it already advertised in (the real
nodes, in memory): the aggregator refuses its second, different advert, and the restored
silo sits that session out instead of failing; the session goes on with what the silo sent
before."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

from fedsilo.errors import TransportError
from fedsilo.pki.files import certificate_der, load_certificate
from fedsilo.runtime.events import EventLog
from fedsilo.transport.calls import CallContext, SignedEnvelope
from fedsilo.transport.memory import InMemoryAggregator, InMemoryClient
from tests.nodes.live import LiveFederation

SILOS = ["s1", "s2", "s3", "s4"]


class ShortPatience(InMemoryClient):
    """A silo's real in-memory connection that gives up waiting after ``cap`` seconds (so a
    silo waiting for a session that never comes ends within the test)."""

    def __init__(self, server: InMemoryAggregator, certificate_der: bytes, cap: float) -> None:
        super().__init__(server, certificate_der)
        self._cap = cap

    def await_signed(self, context: CallContext, patience: float) -> SignedEnvelope:
        return super().await_signed(context, min(patience, self._cap))


def events(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def wait_for(found: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not found():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_silo_restored_while_its_earlier_advert_stands_sits_the_session_out(
    tmp_path: Path,
) -> None:
    # adverts wait for every silo; s4 starts last, so round 1 takes adverts until it does
    live = LiveFederation(tmp_path, silos=4, params=3_000, transport="memory", advertise_keys=60)
    try:
        live.run_rounds()
        live.start_silos(SILOS[:3])

        def advertised() -> list[dict[str, object]]:
            return [
                e
                for e in events(live.log_stream)
                if e["event"] == "stage-answered"
                and e["silo"] == "s1"
                and e["stage"] == "advertise-keys"
            ]

        wait_for(lambda: bool(advertised()), "s1's advert")
        # s1's state as the operator's backup from before round 1 had it: nothing at all
        restored_log = io.StringIO()
        assert live.hub is not None
        der = certificate_der(load_certificate(live.files("s1").cert))
        restored = live.manual_silo(
            "s1",
            client=ShortPatience(live.hub, der, cap=3),
            state=tmp_path / "restored-s1",
            log=EventLog("s1", restored_log),
        )
        outcome: list[BaseException] = []

        def run() -> None:
            try:
                restored.run_round(1)
            except BaseException as exc:  # the test reads it
                outcome.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        wait_for(
            lambda: (
                not thread.is_alive()
                or any(e["event"] == "session-skipped" for e in events(restored_log))
            ),
            "the restored silo to skip the session",
        )
        assert not outcome, outcome  # it did not fail at the refusal
        skipped = next(e for e in events(restored_log) if e["event"] == "session-skipped")
        assert "already holds other adverts from this silo" in str(skipped["reason"])
        live.start_silos(SILOS[3:])
        live.finish()
        thread.join(30)
        assert not thread.is_alive()
        # it waited for a next session (none came: the federation had one round), not failed
        assert len(outcome) == 1 and isinstance(outcome[0], TransportError), outcome
        assert live.silo_errors == {}, live.silo_errors
        assert len(advertised()) == 1  # its second advert was refused, not taken
        live.assert_released_exactly(SILOS)
    finally:
        live.close()
