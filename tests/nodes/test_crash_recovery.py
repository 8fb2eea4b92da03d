"""`kill -9` (and a failing disk) at the protocol's critical steps, with real node
processes over mTLS on 127.0.0.1: the same session completes, and the model equals an
uninterrupted run's.

The task puts round 1's deltas on the quantizer's grid (clip 1, 65537 levels,
grid 2^-15), so the aggregate of round 1 is the same bits in every run whatever
the sessions' randomness, and "the same model" can be compared exactly across
two federations. A node is crashed by :mod:`tests.nodes.crashing_node`
right after it logs the step, and restarted with the ordinary CLI.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from fedsilo.protocol.events import AggregateReleased, RoundOpened, StageAnswered
from fedsilo.runtime.round_ledger import FileLedgerStore
from fedsilo.runtime.state import AggregatorState
from tests.nodes.federation import Federation

pytestmark = pytest.mark.slow
SILOS = [f"s{i}" for i in range(1, 6)]
GRID: dict[str, object] = {"grid": 2.0**-15}


def provisioned(root: Path, **timeouts: float) -> Federation:
    return Federation.provision(root, 5, 20_000, timeouts, levels=65537, options=GRID)


def final_model(fed: Federation) -> np.ndarray:
    state = AggregatorState(fed.root / "agg-state")
    return np.concatenate([t.numpy().ravel() for t in state.model(1).values()])


def run_to_completion(fed: Federation) -> None:
    assert fed.wait("agg") == 0, fed.log("agg")
    for silo in SILOS:
        assert fed.wait(silo) == 0, fed.log(silo)


def assert_one_session_completed_by_everyone(fed: Federation) -> None:
    """Round 1 was released from its first (and only) session with every silo in it, and
    every silo, the crashed one too, finalized the chain head the aggregator derived."""
    record = fed.released(1)
    assert record is not None and record["survivors"] == SILOS
    sessions = [e for e in fed.audit("agg") if isinstance(e, RoundOpened)]
    assert len(sessions) == 1, sessions
    assert str(record["session"]).startswith(sessions[0].session)
    for silo in SILOS:
        kept = FileLedgerStore(fed.root / f"state-{silo}" / "ledger.json").load()
        assert kept is not None and kept.final_round == 1, silo
        assert kept.head.hex() == record["chain_head"], silo


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    fed = provisioned(tmp_path_factory.mktemp("uninterrupted"))
    try:
        fed.start_aggregator()
        for silo in SILOS:
            fed.start_silo(silo)
        run_to_completion(fed)
        model = final_model(fed)
        assert np.any(model != 0)  # a model that moved: equality below means something
        return model
    finally:
        fed.stop_all()


@pytest.fixture
def federation(tmp_path: Path) -> Iterator[Federation]:
    fed = provisioned(tmp_path)
    try:
        yield fed
    finally:
        fed.stop_all()


def assert_a_silo_killed_after_resumes(
    fed: Federation, uninterrupted: np.ndarray, stage: str, resumed_in: str
) -> None:
    """s3 is killed right after it handled ``stage`` and started again: it resumes the same
    session in state ``resumed_in``, and the round ends as an uninterrupted one."""
    fed.start_aggregator()
    for silo in SILOS:
        if silo == "s3":
            fed.start_crashing(silo, {"silo": silo, "event": "stage", "stage": stage})
        else:
            fed.start_silo(silo)
    assert fed.wait("s3", timeout=60) == -9, fed.log("s3")  # it died by SIGKILL
    fed.start_silo("s3")
    run_to_completion(fed)
    resumed = fed.wait_for_event("s3", event="session-resumed")
    assert resumed["state"] == resumed_in
    assert_one_session_completed_by_everyone(fed)
    assert np.array_equal(final_model(fed), uninterrupted)


def test_a_silo_killed_after_signing_the_view_resumes_the_same_session(
    uninterrupted: np.ndarray, federation: Federation
) -> None:
    assert_a_silo_killed_after_resumes(
        federation, uninterrupted, "consistency-check", "await-signatures"
    )


def test_a_silo_killed_after_revealing_resumes_the_same_session(
    uninterrupted: np.ndarray, federation: Federation
) -> None:
    assert_a_silo_killed_after_resumes(federation, uninterrupted, "unmasking", "await-release")


def test_an_aggregator_killed_after_an_unmasking_response_resumes_the_same_session(
    uninterrupted: np.ndarray, federation: Federation
) -> None:
    federation.start_crashing("agg", {"event": "stage-answered", "stage": "unmasking"})
    for silo in SILOS:
        federation.start_silo(silo)
    assert federation.wait("agg", timeout=60) == -9, federation.log("agg")
    federation.start_aggregator()
    run_to_completion(federation)
    federation.wait_for_event("agg", event="session-resumed", round=1)
    assert_one_session_completed_by_everyone(federation)
    assert np.array_equal(final_model(federation), uninterrupted)


def test_a_silo_whose_disk_fails_before_revealing_sends_no_share(tmp_path: Path) -> None:
    federation = provisioned(tmp_path, unmasking=3)  # s3 will never answer: do not wait long
    try:
        disk_fails_before_revealing(federation)
    finally:
        federation.stop_all()


def disk_fails_before_revealing(federation: Federation) -> None:
    federation.start_aggregator()
    for silo in SILOS:
        if silo == "s3":
            at = {"silo": silo, "event": "stage", "stage": "consistency-check"}
            federation.start_crashing(silo, at, then="fail-fsync")
        else:
            federation.start_silo(silo)
    assert federation.wait("s3", timeout=60) != 0
    last = federation.log("s3").strip().splitlines()[-1]
    assert last.startswith("fedsilo: error: ") and "durab" in last.lower(), last
    # s3 is gone, so whatever the aggregator has from it now is all it will ever have
    released = federation.wait_for("agg", AggregateReleased, round=1)
    events = federation.audit("agg")
    unmasked = {e.silo for e in events if isinstance(e, StageAnswered) and e.stage == "unmasking"}
    assert "s3" not in unmasked and len(unmasked) >= 3
    assert list(released.contributors) == SILOS  # its input was in; the others unmasked it
