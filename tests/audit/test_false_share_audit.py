"""An auditor checks a logged false-share evidence with the config and the roster's
certificates alone: `fedsilo audit false-share` names the liar, or says it is not proven."""

from __future__ import annotations

import json
from pathlib import Path

from fedsilo.audit.operators import silo_roster
from fedsilo.config.schemes import scheme_params
from fedsilo.pki.files import load_identity_key
from fedsilo.protocol.masking import records
from fedsilo.protocol.masking.messages import UnmaskingShares
from fedsilo.protocol.masking.sharing import evidence_record
from fedsilo.testing.adversary import RevealsFalseShare
from fedsilo.testing.harness import Federation, random_inputs, run_aggregation
from tests.cli_helpers import fedsilo
from tests.nodes.federation import Federation as ProvisionedNodes


def logged_evidence(tmp_path: Path) -> tuple[Path, Path, dict[str, object], UnmaskingShares]:
    """A real provisioned federation; silo s2 reveals a false share; the aggregator's
    ``false-share`` log line. Returns the config, the certs, the line and an honest reply."""
    nodes = ProvisionedNodes.provisioned(tmp_path, silos=5, params=16)
    config, certs = nodes.config, tmp_path / "fed"
    identities = tuple(load_identity_key(certs / s.name / f"{s.name}.key") for s in config.silos)
    fed = Federation(
        silo_roster(config, certs),
        identities,
        scheme_params(config, 16),
        config.federation,
        bytes.fromhex(config.digest().removeprefix("sha256:")),
    )
    liar = RevealsFalseShare(colluders={2: identities[1]}, liar=2, owner=3, kind="self")
    run = run_aggregation(fed, random_inputs(fed, 16), adversary=liar)
    (evidence,) = run.false_shares
    line: dict[str, object] = {
        "event": "false-share",
        "silo": "s2",
        "evidence": evidence_record(evidence),
    }
    honest = next(m for m in run.adversary.seen if isinstance(m, UnmaskingShares) and m.sender == 1)
    return nodes.config_path, certs, line, honest


def test_an_auditor_proves_the_liar_from_the_logged_line_and_the_certificates(
    tmp_path: Path,
) -> None:
    config, certs, line, _ = logged_evidence(tmp_path)
    path = tmp_path / "false-share.json"
    path.write_text(json.dumps(line))
    out = fedsilo("audit", "false-share", str(path), "--config", str(config), "--certs", str(certs))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("PROVEN: s2 revealed a false share of the self-mask seed of s3")


def test_evidence_swapped_for_an_honest_response_is_not_proven(tmp_path: Path) -> None:
    config, certs, line, honest = logged_evidence(tmp_path)
    evidence = dict(line["evidence"])  # type: ignore[call-overload]
    evidence["response"] = records.unmasking_record(honest)
    path = tmp_path / "framed.json"
    path.write_text(json.dumps(evidence))
    out = fedsilo("audit", "false-share", str(path), "--config", str(config), "--certs", str(certs))
    assert out.returncode == 1, out.stderr
    assert out.stdout.startswith("NOT PROVEN")


def test_a_file_that_is_no_evidence_is_refused_in_one_line(tmp_path: Path) -> None:
    config, certs, _, _ = logged_evidence(tmp_path)
    path = tmp_path / "nothing.json"
    path.write_text("[1, 2]")
    out = fedsilo("audit", "false-share", str(path), "--config", str(config), "--certs", str(certs))
    assert out.returncode == 2
    assert "holds no false-share evidence" in out.stderr and "Traceback" not in out.stderr
