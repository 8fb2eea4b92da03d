"""Every example config, once provisioned, audits as safe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import fedsilo

EXAMPLES = sorted((Path(__file__).parents[2] / "federation_configs").glob("*.yaml"))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_provisioned_example_audits_safe(example: Path, tmp_path: Path) -> None:
    out = tmp_path / "fed"
    provisioned = fedsilo("certs", "provision", str(example), "--out", str(out))
    assert provisioned.returncode == 0, provisioned.stderr
    assert "development" in provisioned.stdout
    result = fedsilo("audit", "config", str(out / example.name), "--certs", str(out), "--json")
    assert result.returncode == 0, result.stdout
    report = json.loads(result.stdout)
    assert report["verdict"] == "safe"
    assert report["counts"]["fail"] == 0 and report["counts"]["not-checked"] == 0


def test_an_unprovisioned_example_is_incomplete_or_unsafe_never_safe() -> None:
    result = fedsilo("audit", "config", str(EXAMPLES[0]))
    assert result.returncode == 1  # nothing pinned yet
    assert "ca.pinned" in result.stdout


def test_auditing_without_certs_of_a_pinned_config_is_incomplete(tmp_path: Path) -> None:
    out = tmp_path / "fed"
    fedsilo("certs", "provision", str(EXAMPLES[0]), "--out", str(out))
    result = fedsilo("audit", "config", str(out / EXAMPLES[0].name))
    assert result.returncode == 3
    assert "INCOMPLETE" in result.stdout


def test_an_unreadable_config_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("federation: [unclosed\n")
    result = fedsilo("audit", "config", str(bad))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stderr.startswith("fedsilo: error:")
