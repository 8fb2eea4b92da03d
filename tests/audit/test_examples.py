"""Every example config of a scheme nodes run, once provisioned, audits as safe; an example
of a scheme no node runs yet audits unsafe for exactly that reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import fedsilo

EXAMPLES = sorted((Path(__file__).parents[2] / "federation_configs").glob("*.yaml"))
NOT_RUNNABLE = {"banks-paillier"}  # threshold Paillier's sessions are issue 12
RUNNABLE = [e for e in EXAMPLES if e.stem not in NOT_RUNNABLE]
MASKING_EXAMPLE = next(e for e in EXAMPLES if e.stem == "hospitals-masking")


def provisioned_audit(example: Path, tmp_path: Path) -> tuple[int, dict[str, Any]]:
    out = tmp_path / "fed"
    provisioned = fedsilo("certs", "provision", str(example), "--out", str(out))
    assert provisioned.returncode == 0, provisioned.stderr
    assert "development" in provisioned.stdout
    result = fedsilo("audit", "config", str(out / example.name), "--certs", str(out), "--json")
    return result.returncode, json.loads(result.stdout)


@pytest.mark.parametrize("example", RUNNABLE, ids=lambda p: p.stem)
def test_provisioned_example_audits_safe(example: Path, tmp_path: Path) -> None:
    code, report = provisioned_audit(example, tmp_path)
    assert code == 0, report
    assert report["verdict"] == "safe"
    assert report["counts"]["fail"] == 0 and report["counts"]["not-checked"] == 0


@pytest.mark.parametrize("example", sorted(NOT_RUNNABLE))
def test_an_example_no_node_runs_audits_unsafe_for_that_reason_alone(
    example: str, tmp_path: Path
) -> None:
    code, report = provisioned_audit(EXAMPLES[0].parent / f"{example}.yaml", tmp_path)
    assert code == 1 and report["verdict"] == "unsafe"
    failed = {r["rule"] for r in report["results"] if r["status"] == "fail"}
    assert failed == {"scheme.runnable"}


def test_an_unprovisioned_example_is_incomplete_or_unsafe_never_safe() -> None:
    result = fedsilo("audit", "config", str(EXAMPLES[0]))
    assert result.returncode == 1  # nothing pinned yet
    assert "ca.pinned" in result.stdout


def test_auditing_without_certs_of_a_pinned_config_is_incomplete(tmp_path: Path) -> None:
    out = tmp_path / "fed"
    fedsilo("certs", "provision", str(MASKING_EXAMPLE), "--out", str(out))
    result = fedsilo("audit", "config", str(out / MASKING_EXAMPLE.name))
    assert result.returncode == 3
    assert "INCOMPLETE" in result.stdout


def test_an_unreadable_config_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("federation: [unclosed\n")
    result = fedsilo("audit", "config", str(bad))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stderr.startswith("fedsilo: error:")
