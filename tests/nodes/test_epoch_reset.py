"""The epoch reset, end to end with real processes over mTLS on 127.0.0.1.

Round 1 reaches unmasking, then the aggregator host loses its journal: every silo
that revealed refuses any other session of round 1, so the round can never
finish and the federation halts naming it. The operators' signed reset is the
only way on: with fewer than ``t`` signatures it is refused; with ``t`` it is
installed, served to every silo, verified by each, and round 1 runs once more
from the model the reset names.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli_helpers import fedsilo
from tests.nodes.federation import Federation

pytestmark = pytest.mark.slow
SILOS = [f"s{i}" for i in range(1, 6)]  # t = 4


def halted_round_one(fed: Federation) -> None:
    """Round 1 unmasked by t silos, the aggregator killed and its journal lost."""
    fed.start_crashing("agg", {"event": "stage-answered", "stage": "unmasking"}, count=4)
    for silo in SILOS:
        fed.start_silo(silo)
    assert fed.wait("agg", timeout=60) == -9, fed.log("agg")
    for silo in SILOS:
        fed.kill(silo)
    shutil.rmtree(fed.root / "agg-state" / "journal")
    fed.start_aggregator()
    for silo in SILOS:
        fed.start_silo(silo)
    assert fed.wait("agg") == 1
    assert "round 1 aborted" in fed.log("agg").strip().splitlines()[-1]
    refusing = [s for s in SILOS if fed.wait(s) == 1 and "already unmasked" in fed.log(s)]
    assert len(refusing) >= 4, {s: fed.log(s)[-300:] for s in SILOS}


def sign(fed: Federation, record: Path, silo: str) -> None:
    node = fed.root / "fed" / silo
    out = fedsilo(
        "federation", "reset", "sign", str(record),
        "--key", str(node / f"{silo}.key"), "--cert", str(node / f"{silo}.crt"),
        "--config", str(fed.config_path),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr


def apply(fed: Federation, record: Path) -> tuple[int, str]:
    out = fedsilo(
        "federation", "reset", "apply", str(record), "--config", str(fed.config_path),
        "--certs", str(fed.root / "fed"), "--state-dir", str(fed.root / "agg-state"),
    )  # fmt: skip
    return out.returncode, out.stderr.strip()


def test_a_halted_round_resumes_only_after_a_reset_signed_by_t_operators(tmp_path: Path) -> None:
    fed = Federation.provisioned(tmp_path, silos=5, params=20_000, advertise_keys=4, unmasking=3)
    record = tmp_path / "reset.json"
    try:
        halted_round_one(fed)
        out = fedsilo(
            "federation", "reset", "propose", "--config", str(fed.config_path),
            "--state-dir", str(tmp_path / "agg-state"), "--round", "1", "--out", str(record),
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        for silo in SILOS[:3]:
            sign(fed, record, silo)
        code, error = apply(fed, record)  # t - 1 signatures
        assert code != 0 and len(error.splitlines()) == 1, error
        assert "only when t = 4 have signed" in error
        assert not (tmp_path / "agg-state" / "resets").exists()

        sign(fed, record, SILOS[3])
        code, error = apply(fed, record)
        assert code == 0, error
        fed.start_aggregator()
        for silo in SILOS:
            fed.start_silo(silo)
        for name in ["agg", *SILOS]:
            assert fed.wait(name) == 0, fed.log(name)[-2000:]
        for silo in SILOS:
            fed.wait_for_event(silo, event="reset-applied", round=1, reset=1)
        released = fed.released(1)
        assert released is not None and released["survivors"] == SILOS
        resume_head = json.loads(record.read_text())["resume_head"]
        assert released["previous_head"] == resume_head  # from the model the reset names
    finally:
        fed.stop_all()
