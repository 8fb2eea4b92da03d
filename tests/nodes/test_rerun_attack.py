"""The exact cross-session attack, by a malicious aggregator process against real silo
processes over mTLS on 127.0.0.1 (:mod:`tests.nodes.rogue_aggregator`).

Session A of round 1 is unmasked with every silo in it and every silo is told "not
released"; session B of round 1 is then announced, on the same chain head or on one
differing in one bit. A second sum of round 1 minus the first would be a victim's
update. Every silo must refuse session B before sending anything in it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fedsilo.protocol.events import InputAccepted, RoundOpened, StageAnswered
from tests.nodes.federation import Federation

pytestmark = pytest.mark.slow
SILOS = [f"s{i}" for i in range(1, 6)]


@pytest.fixture
def federation(tmp_path: Path) -> Iterator[Federation]:
    # short stages: session B waits for adverts that never come
    fed = Federation.provisioned(tmp_path, silos=5, params=20_000, advertise_keys=4, unmasking=3)
    try:
        yield fed
    finally:
        fed.stop_all()


def run_attack(fed: Federation, attack: str) -> dict[str, str]:
    """Run ``attack``; returns each silo's last line (all of them exited with an error)."""
    fed.start_rogue_aggregator(attack)
    for silo in SILOS:
        fed.start_silo(silo)
    assert fed.wait("agg") == 0, fed.log("agg")
    last = {}
    for silo in SILOS:
        assert fed.wait(silo) == 1, fed.log(silo)
        last[silo] = fed.log(silo).strip().splitlines()[-1]
    return last


def assert_no_second_sum(fed: Federation) -> None:
    events = fed.events("agg")
    outcome = {e["session"]: e["unmasked"] for e in events if e["event"] == "attack-session"}
    assert outcome == {"A": True, "B": False}  # the attack got as far as it can
    audit = fed.audit("agg")
    sessions = [i for i, e in enumerate(audit) if isinstance(e, RoundOpened)]
    assert len(sessions) == 2
    in_b = [e for e in audit[sessions[1] :] if isinstance(e, StageAnswered | InputAccepted)]
    assert in_b == []  # no silo sent session B anything: no advert, input or share


def test_session_b_of_an_unmasked_round_on_the_same_head_is_refused_by_every_silo(
    federation: Federation,
) -> None:
    last = run_attack(federation, "rerun-round")
    for silo, line in last.items():
        assert line.startswith("fedsilo: error: round 1 was already unmasked in session"), silo
    assert_no_second_sum(federation)


def test_session_b_on_a_head_differing_in_one_bit_is_refused_by_every_silo(
    federation: Federation,
) -> None:
    last = run_attack(federation, "rerun-flipped")
    for silo, line in last.items():
        assert line.startswith("fedsilo: error: the aggregator announced round 1 on chain head"), (
            silo,
            line,
        )
    assert_no_second_sum(federation)
