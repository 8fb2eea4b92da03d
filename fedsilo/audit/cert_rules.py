"""Rules over the certificates, CRL and endorsements of a federation.

Certificates are looked up in the ``--certs`` directory: the CA at
``ca.crt`` or ``ca/ca.crt``, member ``NAME`` at ``NAME.crt`` or
``NAME/NAME.crt``, the CRL at ``--crl``, ``crl.pem`` or ``ca/crl.pem``
(the layout ``fedsilo certs provision`` writes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from fedsilo.audit.report import RuleResult, Status
from fedsilo.config.endorse import EndorsementStatus, check_endorsement
from fedsilo.config.model import FederationConfig
from fedsilo.errors import PKIError
from fedsilo.pki import validate
from fedsilo.pki.files import load_certificate, load_crl
from fedsilo.pki.identity import Role, fingerprint

if TYPE_CHECKING:
    from cryptography import x509

EXPIRY_WARNING = dt.timedelta(days=30)
CERT_RULES = (
    "cert.chain",
    "cert.leaf",
    "cert.identity",
    "cert.fingerprint",
    "cert.eku",
    "cert.validity",
    "cert.key",
    "cert.revocation",
)


def _first(*paths: Path) -> Path | None:
    return next((p for p in paths if p.is_file()), None)


def _members(c: FederationConfig) -> list[tuple[str, Role, str | None]]:
    return [(c.aggregator.name, Role.AGGREGATOR, c.aggregator.fingerprint)] + [
        (s.name, Role.SILO, s.fingerprint) for s in c.silos
    ]


def _check(
    rule: str, subject: str, check: Callable[[], object], fix: str, passed: str = ""
) -> RuleResult:
    """Run one check: PASS with its message (or ``passed``), FAIL with the error."""
    try:
        result = check()
    except PKIError as exc:
        return RuleResult(rule, subject, Status.FAIL, str(exc), fix)
    return RuleResult(rule, subject, Status.PASS, result if isinstance(result, str) else passed)


def certificate_rules(
    c: FederationConfig, certs_dir: Path | None, crl_path: Path | None, now: dt.datetime
) -> list[RuleResult]:
    if certs_dir is None:
        return [
            RuleResult(
                rule,
                "all members",
                Status.NOT_CHECKED,
                "no --certs directory given",
                "pass --certs DIR holding ca.crt and every member's certificate",
            )
            for rule in ("ca.certificate", "crl.valid", *CERT_RULES)
        ]
    ca_path = _first(certs_dir / "ca.crt", certs_dir / "ca" / "ca.crt")
    ca_cert, results = _ca_rules(c, ca_path)
    crl, crl_result = _crl_rule(
        ca_cert, crl_path or _first(certs_dir / "crl.pem", certs_dir / "ca" / "crl.pem"), now
    )
    results.append(crl_result)
    for name, role, pinned in _members(c):
        path = _first(certs_dir / f"{name}.crt", certs_dir / name / f"{name}.crt")
        subject = f"{role.value} {name}"
        if path is None:
            results.append(
                RuleResult(
                    "cert.present",
                    subject,
                    Status.NOT_CHECKED,
                    f"no certificate for {name} in {certs_dir}",
                    f"add {name}.crt to the --certs directory",
                )
            )
            continue
        results += _member_rules(
            c.federation, name, role, pinned, load_certificate(path), ca_cert, crl, now
        )
    return results


def _ca_rules(
    c: FederationConfig, path: Path | None
) -> tuple[x509.Certificate | None, list[RuleResult]]:
    if path is None:
        return None, [
            RuleResult(
                "ca.certificate",
                "federation",
                Status.NOT_CHECKED,
                "no ca.crt in the --certs directory",
                "add the CA certificate",
            )
        ]
    cert = load_certificate(path)

    def check() -> str:
        if c.ca_fingerprint and fingerprint(cert) != c.ca_fingerprint:
            raise PKIError(f"{path} is not the pinned CA ({fingerprint(cert)})")
        if not validate.is_ca(cert):
            raise PKIError(f"{path} is not a CA certificate")
        validate.check_issued_by(cert, cert)
        return f"{path.name} is the pinned, self-signed federation CA"

    result = _check(
        "ca.certificate", "federation", check, "use the federation's own CA certificate"
    )
    return (cert if result.status is Status.PASS else None), [result]


def _crl_rule(
    ca: x509.Certificate | None, path: Path | None, now: dt.datetime
) -> tuple[x509.CertificateRevocationList | None, RuleResult]:
    if path is None or ca is None:
        why = "no CRL given (--crl) or found" if path is None else "no valid CA to check it against"
        return None, RuleResult(
            "crl.valid",
            "federation",
            Status.NOT_CHECKED,
            why,
            "pass --crl FILE (fedsilo certs crl)",
        )
    crl = load_crl(path)

    def check() -> str:
        validate.check_crl(crl, ca, now)
        return f"signed by the CA, next update {crl.next_update_utc:%Y-%m-%d}"

    result = _check("crl.valid", "federation", check, "ask the CA holder for a fresh CRL")
    return (crl if result.status is Status.PASS else None), result


def _member_rules(
    federation: str,
    name: str,
    role: Role,
    pinned: str | None,
    cert: x509.Certificate,
    ca: x509.Certificate | None,
    crl: x509.CertificateRevocationList | None,
    now: dt.datetime,
) -> list[RuleResult]:
    subject = f"{role.value} {name}"
    reissue = "issue a new certificate with fedsilo certs sign"

    def chain() -> str:
        if ca is None:
            raise PKIError("no valid federation CA to check against")
        validate.check_issued_by(cert, ca)
        return "issued by the federation CA"

    def pinned_fp() -> str:
        if pinned is None:
            raise PKIError("no fingerprint pinned in the config")
        if fingerprint(cert) != pinned:
            raise PKIError(f"fingerprint {fingerprint(cert)} differs from the pinned {pinned}")
        return "matches the pinned fingerprint"

    key_fix = "use an EC P-256 key"
    results = [
        _check("cert.chain", subject, chain, reissue),
        _check("cert.leaf", subject, partial(validate.check_is_leaf, cert), reissue, "a leaf"),
        _check(
            "cert.identity",
            subject,
            partial(validate.check_identity, cert, federation, name),
            reissue,
            f"fedsilo://{federation}/{name}",
        ),
        _check("cert.fingerprint", subject, pinned_fp, "pin the certificate actually issued"),
        _check("cert.eku", subject, partial(validate.check_role, cert, role), reissue, role.value),
        _validity(subject, cert, now),
        _check("cert.key", subject, partial(validate.check_key_strength, cert), key_fix, "strong"),
    ]
    if crl is None:
        results.append(
            RuleResult(
                "cert.revocation", subject, Status.NOT_CHECKED, "no valid CRL", "pass a fresh CRL"
            )
        )
    else:
        revoked_fix = "replace the revoked certificate and re-pin it"
        check = partial(validate.check_not_revoked, cert, crl)
        results.append(_check("cert.revocation", subject, check, revoked_fix, "not revoked"))
    return results


def _validity(subject: str, cert: x509.Certificate, now: dt.datetime) -> RuleResult:
    try:
        left = validate.check_validity(cert, now)
    except PKIError as exc:
        return RuleResult(
            "cert.validity", subject, Status.FAIL, str(exc), "issue a new certificate"
        )
    if left < EXPIRY_WARNING:
        return RuleResult(
            "cert.validity",
            subject,
            Status.WARN,
            f"expires in {left.days} days",
            "renew it before it expires",
        )
    return RuleResult("cert.validity", subject, Status.PASS, f"valid for {left.days} more days")


def endorsement_rules(
    c: FederationConfig, config_path: Path, certs_dir: Path | None
) -> list[RuleResult]:
    ca_path = certs_dir and _first(certs_dir / "ca.crt", certs_dir / "ca" / "ca.crt")
    ca = load_certificate(ca_path) if ca_path else None
    results = []
    for name, role, _ in _members(c):
        check = check_endorsement(c, config_path, name, ca)
        status = {
            EndorsementStatus.VALID: Status.PASS,
            EndorsementStatus.MISSING: Status.WARN,
            EndorsementStatus.INVALID: Status.FAIL,
        }[check.status]
        results.append(
            RuleResult(
                "endorsement",
                f"{role.value} {name}",
                status,
                check.reason,
                f"{name} runs fedsilo config endorse on this exact config",
            )
        )
    return results
