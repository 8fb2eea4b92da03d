"""The example federation (`federation_configs/hospitals-masking.yaml`) provisioned once per
module and copied per test, and an aggregator state directory halted in round 2: what the
certificate-rule and epoch-reset tests start from."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

EXAMPLE = Path(__file__).parents[1] / "federation_configs" / "hospitals-masking.yaml"
SILOS = ("st-marys", "city-general", "northside-clinic", "university-hospital")


def fresh_copy(pristine: Path, tmp_path: Path) -> Path:
    """A private copy of the provisioned federation directory, for a test to change."""
    copy = tmp_path / "fed"
    shutil.copytree(pristine, copy)
    return copy


def halted_in_round_two(tmp_path: Path, head_1: str) -> Path:
    """An aggregator state directory that completed round 1 (``H_1 = head_1``, hex) and
    halted in round 2."""
    rounds = tmp_path / "aggregator-state" / "rounds"
    rounds.mkdir(parents=True)
    (rounds / "round-000001.json").write_text(json.dumps({"round": 1, "chain_head": head_1}))
    return rounds.parent
