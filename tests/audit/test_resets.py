"""Epoch-reset files and their audit: proposed from the aggregator's state, flagged always."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from fedsilo.audit.config_rules import reset_rules
from fedsilo.audit.operators import operator_identity, silo_roster
from fedsilo.audit.report import RuleResult, Status
from fedsilo.audit.resets import (
    audit_reset,
    chain_head,
    config_digest_bytes,
    install_reset,
    installed_resets,
    latest_reset,
    load_reset,
    propose_reset,
    reset_path,
    sign_reset_file,
)
from fedsilo.config.load import load_config
from fedsilo.config.model import FederationConfig
from fedsilo.errors import ConfigError, PKIError, ResetRefusedError, ResetReplayError
from fedsilo.protocol.reset import OperatorSignature, ResetRecord
from fedsilo.runtime.provisioning import provision_federation
from tests.example_federation import EXAMPLE, SILOS, fresh_copy, halted_in_round_two

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
HEAD_1 = bytes(range(32))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pki") / "fed"
    provision_federation(EXAMPLE, out, NOW)
    return out


@pytest.fixture
def fed(pristine: Path, tmp_path: Path) -> Path:
    return fresh_copy(pristine, tmp_path)


@pytest.fixture
def config(fed: Path) -> FederationConfig:
    return load_config(fed / EXAMPLE.name)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """An aggregator state directory that completed round 1 and halted in round 2."""
    return halted_in_round_two(tmp_path, HEAD_1.hex())


def key_and_cert(fed: Path, name: str) -> tuple[Path, Path]:
    return fed / name / f"{name}.key", fed / name / f"{name}.crt"


def proposed(config: FederationConfig, state: Path, tmp_path: Path, round_number: int = 2) -> Path:
    path = tmp_path / "reset.json"
    path.write_text(propose_reset(config, state, round_number).to_json())
    return path


def signed(path: Path, config: FederationConfig, fed: Path, *names: str) -> ResetRecord:
    for name in names:
        sign_reset_file(path, config, *key_and_cert(fed, name))
    return load_reset(path)


def result(results: list[RuleResult] | tuple[RuleResult, ...], rule: str) -> RuleResult:
    (found,) = [r for r in results if r.rule == rule]
    return found


# --- the config rule ----------------------------------------------------------------


@pytest.mark.parametrize(("max_resets", "status"), [(0, Status.PASS), (1, Status.PASS)])
def test_at_most_one_reset_passes_naming_the_count(
    config: FederationConfig, max_resets: int, status: Status
) -> None:
    rule = result(reset_rules(replace(config, max_resets=max_resets)), "resets.bounded")
    assert rule.status is status and f"max_resets = {max_resets}" in rule.reason


def test_more_than_one_reset_warns_that_each_is_a_differencing_sample(
    config: FederationConfig,
) -> None:
    rule = result(reset_rules(replace(config, max_resets=3)), "resets.bounded")
    assert rule.status is Status.WARN
    assert "max_resets = 3" in rule.reason and "differencing sample" in rule.reason
    assert rule.fix


# --- proposing ----------------------------------------------------------------------


def test_a_proposal_names_the_next_round_and_the_head_before_it(
    config: FederationConfig, state: Path
) -> None:
    record = propose_reset(config, state, 2)
    assert (record.failed_round, record.resume_round, record.resume_head) == (2, 1, HEAD_1)
    assert record.reset_index == 1 and record.signatures == ()
    assert record.config_digest == config_digest_bytes(config)


def test_a_proposal_of_round_one_resumes_from_the_config_digest(
    config: FederationConfig, tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    record = propose_reset(config, tmp_path / "empty", 1)
    assert record.resume_head == config_digest_bytes(config) == chain_head(config, tmp_path, 0)


@pytest.mark.parametrize(
    ("round_number", "message"),
    [
        (1, "round 1 completed"),
        (3, "round 3 was never reached"),
        (0, "not a round of this federation"),
        (6, "not a round of this federation"),
    ],
)
def test_only_the_round_the_aggregator_halted_in_can_be_proposed(
    config: FederationConfig, state: Path, round_number: int, message: str
) -> None:
    with pytest.raises(ResetRefusedError, match=message):
        propose_reset(config, state, round_number)


def test_a_proposal_needs_a_state_directory(config: FederationConfig, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no aggregator state directory"):
        propose_reset(config, tmp_path / "missing", 1)


def test_a_round_record_without_a_chain_head_is_refused(
    config: FederationConfig, state: Path
) -> None:
    (state / "rounds" / "round-000001.json").write_text(json.dumps({"chain_head": "abcd"}))
    with pytest.raises(ConfigError, match="chain_head is not a 32-byte"):
        propose_reset(config, state, 2)


# --- signing ------------------------------------------------------------------------


def test_each_operator_signs_with_the_key_of_its_pinned_certificate(
    config: FederationConfig, state: Path, fed: Path, tmp_path: Path
) -> None:
    path = proposed(config, state, tmp_path)
    record = signed(path, config, fed, "northside-clinic", "st-marys")
    assert record.signers == (1, 3)


def test_a_key_that_is_not_the_certificates_is_refused(
    config: FederationConfig, state: Path, fed: Path, tmp_path: Path
) -> None:
    path = proposed(config, state, tmp_path)
    key, _ = key_and_cert(fed, "st-marys")
    _, cert = key_and_cert(fed, "city-general")
    with pytest.raises(PKIError, match="is not the key of"):
        sign_reset_file(path, config, key, cert)
    assert load_reset(path).signatures == ()


def test_the_aggregator_is_not_a_silo_operator(config: FederationConfig, fed: Path) -> None:
    with pytest.raises(PKIError, match="only silo operators sign epoch resets"):
        operator_identity(config, *key_and_cert(fed, "neutral-aggregator"))


def test_an_operator_never_signs_a_reset_that_could_not_take_effect(
    config: FederationConfig, state: Path, fed: Path, tmp_path: Path
) -> None:
    path = proposed(config, state, tmp_path)
    record = replace(load_reset(path), reset_index=2)  # beyond max_resets = 1
    path.write_text(record.to_json())
    with pytest.raises(ResetRefusedError, match="resets 1 to 1"):
        sign_reset_file(path, config, *key_and_cert(fed, "st-marys"))
    other = dataclasses.replace(config, federation="other-consortium")
    with pytest.raises(ResetRefusedError, match="for federation 'hospital-consortium'"):
        sign_reset_file(path, other, *key_and_cert(fed, "st-marys"))


# --- the audit ----------------------------------------------------------------------


def test_a_valid_reset_is_flagged_as_one_more_differencing_sample(
    config: FederationConfig, state: Path, fed: Path, tmp_path: Path
) -> None:
    path = proposed(config, state, tmp_path)
    signed(path, config, fed, *SILOS[:3])
    _, report = audit_reset(path, config, fed)
    record = result(report.results, "reset.record")
    assert record.status is Status.WARN
    assert record.reason == (
        "reset of round 2: the aggregator may run round 2 again — one more differencing sample"
    )
    assert [r.status for r in report.results if r.rule == "reset.signature"] == [Status.PASS] * 3
    assert report.verdict == "safe" and report.exit_code == 0


def test_a_reset_without_t_signatures_fails_the_audit(
    config: FederationConfig, state: Path, fed: Path, tmp_path: Path
) -> None:
    path = proposed(config, state, tmp_path)
    signed(path, config, fed, *SILOS[:2])
    _, report = audit_reset(path, config, fed)
    record = result(report.results, "reset.record")
    assert record.status is Status.FAIL and "t = 3" in record.reason
    assert report.exit_code == 1


def test_a_bad_signature_fails_the_audit_naming_its_silo(
    config: FederationConfig, state: Path, fed: Path, tmp_path: Path
) -> None:
    path = proposed(config, state, tmp_path)
    record = signed(path, config, fed, *SILOS)
    forged = OperatorSignature(2, record.signatures[0].signature)  # st-marys's, as silo 2
    path.write_text(
        replace(record, signatures=(record.signatures[0], forged, *record.signatures[2:])).to_json()
    )
    _, report = audit_reset(path, config, fed)
    bad = [r for r in report.results if r.status is Status.FAIL]
    assert {(r.rule, r.subject) for r in bad} == {
        ("reset.signature", "silo city-general"),
        ("reset.record", "federation"),
    }
    assert "city-general" in result(report.results, "reset.record").reason


def test_a_certificate_that_is_not_the_pinned_one_is_refused(
    config: FederationConfig, fed: Path
) -> None:
    shutil.copy(fed / "city-general" / "city-general.crt", fed / "st-marys" / "st-marys.crt")
    with pytest.raises(PKIError, match="st-marys"):
        silo_roster(config, fed)


def test_a_missing_certificate_is_a_one_line_error(config: FederationConfig, fed: Path) -> None:
    (fed / "st-marys" / "st-marys.crt").unlink()
    with pytest.raises(ConfigError, match="no certificate for st-marys"):
        silo_roster(config, fed)


# --- installing ---------------------------------------------------------------------


def test_a_verified_reset_is_installed_once_under_its_index(
    config: FederationConfig, state: Path, fed: Path, tmp_path: Path
) -> None:
    path = proposed(config, state, tmp_path)
    record = signed(path, config, fed, *SILOS[:3])
    roster = silo_roster(config, fed)
    installed = install_reset(state, record, config, roster)
    assert installed == reset_path(state, 1) == state / "resets" / "reset-0001.json"
    assert installed_resets(state) == (record,) and latest_reset(state) == record
    with pytest.raises(ResetReplayError, match="reset 1 is already installed"):
        install_reset(state, record, config, roster)


def test_an_unsigned_reset_is_never_installed(
    config: FederationConfig, state: Path, fed: Path, tmp_path: Path
) -> None:
    record = signed(proposed(config, state, tmp_path), config, fed, *SILOS[:2])
    with pytest.raises(ResetRefusedError, match="t = 3"):
        install_reset(state, record, config, silo_roster(config, fed))
    assert latest_reset(state) is None


def test_a_reset_out_of_order_is_never_installed(
    config: FederationConfig, state: Path, fed: Path, tmp_path: Path
) -> None:
    two = replace(config, max_resets=2)
    path = tmp_path / "reset.json"
    path.write_text(replace(propose_reset(two, state, 2), reset_index=2).to_json())
    record = signed(path, two, fed, *SILOS[:3])
    with pytest.raises(ResetRefusedError, match="the next one is reset 1"):
        install_reset(state, record, two, silo_roster(two, fed))


def test_a_reset_of_a_round_that_completed_since_is_never_installed(
    config: FederationConfig, state: Path, fed: Path, tmp_path: Path
) -> None:
    record = signed(proposed(config, state, tmp_path), config, fed, *SILOS[:3])
    (state / "rounds" / "round-000002.json").write_text(json.dumps({"chain_head": "00" * 32}))
    with pytest.raises(ResetRefusedError, match="a completed round is never reset"):
        install_reset(state, record, config, silo_roster(config, fed))


def test_a_reset_naming_another_model_is_never_installed(
    config: FederationConfig, state: Path, fed: Path, tmp_path: Path
) -> None:
    record = signed(proposed(config, state, tmp_path), config, fed, *SILOS[:3])
    (state / "rounds" / "round-000001.json").write_text(json.dumps({"chain_head": "11" * 32}))
    with pytest.raises(ResetRefusedError, match="it names another model"):
        install_reset(state, record, config, silo_roster(config, fed))


def test_a_gap_in_the_installed_resets_is_refused(state: Path) -> None:
    (state / "resets").mkdir()
    (state / "resets" / "reset-0002.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"reset-0001\.json was expected"):
        installed_resets(state)


def test_proposals_count_the_installed_resets(
    config: FederationConfig, state: Path, fed: Path, tmp_path: Path
) -> None:
    two = replace(config, max_resets=2)
    path = tmp_path / "reset.json"
    path.write_text(propose_reset(two, state, 2).to_json())
    install_reset(state, signed(path, two, fed, *SILOS[:3]), two, silo_roster(two, fed))
    assert propose_reset(two, state, 2).reset_index == 2
    with pytest.raises(ResetRefusedError, match="accepts no further epoch reset"):
        propose_reset(config, state, 2)
