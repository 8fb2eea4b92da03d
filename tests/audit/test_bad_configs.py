"""Every config in federation_configs/bad/ fails exactly the rules it names."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cli_helpers import fedsilo

BAD = sorted((Path(__file__).parents[2] / "federation_configs" / "bad").glob("*.yaml"))


def expected_rules(path: Path) -> set[str]:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must name its rule on line 1"
    return set(first.removeprefix("# expect: ").split())


def audit(*args: str) -> subprocess.CompletedProcess[str]:
    return fedsilo("audit", "config", *args)


def test_the_bad_folder_is_not_empty() -> None:
    assert len(BAD) >= 10


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_config_is_unsafe_and_fails_exactly_its_intended_rules(path: Path) -> None:
    result = audit(str(path), "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    failed = {r["rule"] for r in report["results"] if r["status"] == "fail"}
    assert failed == expected_rules(path)
    assert report["verdict"] == "unsafe"
    text = audit(str(path))
    assert all(rule in text.stdout for rule in expected_rules(path))
