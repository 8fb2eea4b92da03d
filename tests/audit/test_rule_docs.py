"""Every rule the auditor emits is documented in docs/auditing.md, and nothing else is."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from fedsilo.audit.config_audit import audit_config
from fedsilo.audit.report import AuditReport, Status
from fedsilo.audit.resets import audit_reset, propose_reset, sign_reset_file
from fedsilo.config.load import load_config
from fedsilo.runtime.provisioning import provision_federation

ROOT = Path(__file__).parents[2]
CONFIGS = sorted((ROOT / "federation_configs").rglob("*.yaml"))
NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def documented_rules() -> set[str]:
    text = (ROOT / "docs" / "auditing.md").read_text()
    return set(re.findall(r"^\| `([a-z][a-z.-]*)` \|", text, re.MULTILINE))


def reset_audit(pinned: Path, fed: Path, tmp_path: Path) -> AuditReport:
    """`federation reset verify` of a reset of round 1 that one operator signed."""
    config = load_config(pinned)
    state = tmp_path / "aggregator-state"
    state.mkdir()
    record = tmp_path / "reset.json"
    record.write_text(propose_reset(config, state, 1).to_json())
    silo = fed / "st-marys" / "st-marys"
    sign_reset_file(record, config, silo.with_suffix(".key"), silo.with_suffix(".crt"))
    return audit_reset(record, config, fed)[1]


def test_the_rule_table_lists_exactly_the_rules_the_auditor_emits(tmp_path: Path) -> None:
    emitted = {r.rule for path in CONFIGS for r in audit_config(path, NOW).results}
    fed = tmp_path / "fed"
    pinned = provision_federation(ROOT / "federation_configs" / "hospitals-masking.yaml", fed, NOW)
    emitted |= {r.rule for r in audit_config(pinned, NOW, fed).results}
    emitted |= {r.rule for r in reset_audit(pinned, fed, tmp_path).results}
    (fed / "st-marys" / "st-marys.crt").unlink()  # `cert.present` speaks only when one is missing
    emitted |= {r.rule for r in audit_config(pinned, NOW, fed).results}
    assert emitted == documented_rules()
    assert len(documented_rules()) == 36


def test_a_provisioned_config_pins_the_layout_and_the_initial_model(tmp_path: Path) -> None:
    fed = tmp_path / "fed"
    pinned = provision_federation(ROOT / "federation_configs" / "local-hospitals.yaml", fed, NOW)
    passed = {r.rule for r in audit_config(pinned, NOW, fed).results if r.status is Status.PASS}
    assert {"model.layout-pinned", "model.initial-pinned"} <= passed
