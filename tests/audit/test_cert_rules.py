"""The auditor flags every bad certificate (fixtures made with explicit times)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fedsilo.audit.config_audit import audit_config
from fedsilo.audit.report import AuditReport, Status
from fedsilo.pki.ca import CertificateAuthority, init_ca
from fedsilo.pki.files import load_certificate, load_csr
from fedsilo.pki.identity import Role, fingerprint
from fedsilo.pki.request import create_request
from fedsilo.runtime.provisioning import provision_federation
from tests.example_federation import EXAMPLE, fresh_copy

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
VICTIM = "st-marys"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pki") / "fed"
    provision_federation(EXAMPLE, out, NOW)
    return out


@pytest.fixture
def fed(pristine: Path, tmp_path: Path) -> Path:
    copy = fresh_copy(pristine, tmp_path)
    # certificate rules are the subject here; endorsements are re-made where a test needs them
    shutil.rmtree(copy / f"{EXAMPLE.name}.endorsements")
    return copy


def replace_cert(fed: Path, cert: x509.Certificate, repin: bool = True) -> None:
    (fed / VICTIM / f"{VICTIM}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if repin:
        path = fed / EXAMPLE.name
        doc = yaml.safe_load(path.read_text())
        doc["silos"][0]["fingerprint"] = fingerprint(cert)
        path.write_text(yaml.safe_dump(doc, sort_keys=False))


def reissue(
    fed: Path, now: dt.datetime, days: int = 365, role: Role = Role.SILO, ca_dir: str = "ca"
) -> x509.Certificate:
    ca = CertificateAuthority(fed / ca_dir)
    extra = {"dns_names": ("x.example",)} if role is Role.AGGREGATOR else {}
    files = create_request(
        ca.federation, VICTIM, role, fed / f"re-{now:%Y%m%d}-{role.value}-{ca_dir}", **extra
    )
    return ca.sign(load_csr(files.csr), now, days)


def audit(fed: Path, at: dt.datetime = NOW) -> AuditReport:
    return audit_config(fed / EXAMPLE.name, at, fed)


def victim_failures(report: AuditReport) -> set[str]:
    return {
        r.rule for r in report.results if r.subject == f"silo {VICTIM}" and r.status is Status.FAIL
    }


def test_the_pristine_federation_passes(fed: Path) -> None:
    report = audit(fed)
    assert report.verdict == "safe" and report.exit_code == 0


def test_an_expired_certificate_is_flagged(fed: Path) -> None:
    replace_cert(fed, reissue(fed, NOW - dt.timedelta(days=100), days=30))
    assert victim_failures(audit(fed)) == {"cert.validity"}


def test_a_not_yet_valid_certificate_is_flagged(fed: Path) -> None:
    replace_cert(fed, reissue(fed, NOW + dt.timedelta(days=10)))
    assert victim_failures(audit(fed)) == {"cert.validity"}


def test_a_certificate_expiring_within_30_days_warns(fed: Path) -> None:
    replace_cert(fed, reissue(fed, NOW, days=20))
    report = audit(fed)
    assert report.exit_code == 0
    assert any(r.rule == "cert.validity" and r.status is Status.WARN for r in report.results)


def test_a_certificate_from_another_ca_is_flagged(fed: Path) -> None:
    init_ca("hospital-consortium", fed / "rogue-ca", NOW)
    replace_cert(fed, reissue(fed, NOW, ca_dir="rogue-ca"))
    assert victim_failures(audit(fed)) == {"cert.chain"}


def test_a_certificate_with_the_wrong_eku_is_flagged(fed: Path) -> None:
    replace_cert(fed, reissue(fed, NOW, role=Role.AGGREGATOR))
    assert victim_failures(audit(fed)) == {"cert.eku"}


def test_a_revoked_certificate_is_flagged(fed: Path) -> None:
    ca = CertificateAuthority(fed / "ca")
    cert = load_certificate(fed / VICTIM / f"{VICTIM}.crt")
    ca.revoke(f"{cert.serial_number:x}", NOW)
    (fed / "ca" / "crl.pem").write_bytes(ca.crl(NOW).public_bytes(serialization.Encoding.PEM))
    assert victim_failures(audit(fed)) == {"cert.revocation"}


def test_a_ca_certificate_presented_as_a_leaf_is_flagged(fed: Path) -> None:
    replace_cert(fed, load_certificate(fed / "ca" / "ca.crt"))
    assert "cert.leaf" in victim_failures(audit(fed))


def test_a_certificate_other_than_the_pinned_one_is_flagged(fed: Path) -> None:
    replace_cert(fed, reissue(fed, NOW), repin=False)
    assert victim_failures(audit(fed)) == {"cert.fingerprint"}


def test_a_stale_crl_fails_and_revocation_becomes_unchecked(fed: Path) -> None:
    report = audit(fed, NOW + dt.timedelta(days=8))
    assert {r.rule for r in report.results if r.status is Status.FAIL} == {"crl.valid"}
    assert any(
        r.rule == "cert.revocation" and r.status is Status.NOT_CHECKED for r in report.results
    )


def test_an_invalid_endorsement_fails_and_a_missing_one_warns(fed: Path) -> None:
    from fedsilo.config.endorse import endorse
    from fedsilo.config.load import load_config

    path = fed / EXAMPLE.name
    endorse(load_config(path), path, fed / VICTIM / f"{VICTIM}.key", fed / VICTIM / f"{VICTIM}.crt")
    assert audit(fed).exit_code == 0
    path.write_text(path.read_text().replace("rounds: 5", "rounds: 6"))
    report = audit(fed)
    assert report.exit_code == 1
    assert {(r.rule, r.subject) for r in report.results if r.status is Status.FAIL} == {
        ("endorsement", f"silo {VICTIM}")
    }
