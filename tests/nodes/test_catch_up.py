"""A silo restored from an older backup, with real processes over mTLS on 127.0.0.1: it
verifies every round it missed from the aggregator's evidence before it takes part again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fedsilo.runtime.round_ledger import FileLedgerStore
from tests.nodes.federation import Federation

pytestmark = pytest.mark.slow
SILOS = [f"s{i}" for i in range(1, 6)]


def test_a_silo_restored_from_an_older_backup_catches_up_before_it_takes_part(
    tmp_path: Path,
) -> None:
    # adverts wait long enough for a restarted silo to make it into the next round
    fed = Federation.provisioned(tmp_path, silos=5, params=20_000, rounds=3, advertise_keys=8)
    state, backup = tmp_path / "state-s1", tmp_path / "backup-s1"
    try:
        fed.start_aggregator()
        for silo in SILOS[1:]:
            fed.start_silo(silo)
        fed.start_crashing("s1", {"event": "round-final", "round": "1"})
        assert fed.wait("s1", timeout=60) == -9, fed.log("s1")
        shutil.copytree(state, backup)  # the operator's backup, taken after round 1
        fed.start_crashing("s1", {"event": "round-final", "round": "2"})
        assert fed.wait("s1", timeout=60) == -9, fed.log("s1")
        shutil.rmtree(state)
        shutil.copytree(backup, state)  # ... restored after round 2
        before = len(fed.events("s1"))
        fed.start_silo("s1")
        for name in ["agg", *SILOS]:
            assert fed.wait(name) == 0, fed.log(name)

        after = [e for e in fed.events("s1")[before:] if e["event"] != "stage"]
        kinds = [(e["event"], e.get("round")) for e in after]
        assert ("caught-up", 2) in kinds, kinds
        assert kinds.index(("caught-up", 2)) < kinds.index(("trained", 3))
        # it sent nothing in round 2 after the restore: a late advert is refused, and it waits
        restored_at = float(str(after[0]["ts"]))
        agg = fed.events("agg")
        round_3 = next(e for e in agg if e["event"] == "round-opened" and e["round"] == 3)
        late = [
            e
            for e in agg
            if e["event"] == "stage-answered"
            and e["silo"] == "s1"
            and restored_at < float(str(e["ts"])) < float(str(round_3["ts"]))
        ]
        assert late == [], late
        for round_number in (2, 3):
            record = fed.released(round_number)
            assert record is not None
            survivors = record["survivors"]
            assert isinstance(survivors, list) and "s1" in survivors
        # auto is full verification at this size: s1 caught up from every survivor's y_u
        assert (tmp_path / "agg-state" / "rounds" / "inputs-000002.bin").is_file()
        kept = FileLedgerStore(state / "ledger.json").load()
        final = fed.released(3)
        assert kept is not None and final is not None and kept.final_round == 3
        assert kept.head.hex() == final["chain_head"]
    finally:
        fed.stop_all()
