"""The federation certificate authority.

``init_ca`` creates an ECDSA P-256 CA in a directory that should then live
offline: ``ca.key`` (mode 0600), ``ca.crt`` and ``ca-state.json`` (the
federation id, every serial issued, every revocation, the CRL number).
The CA signs requests only after checking that their identity, role and
key are well formed, and issues CRLs with a next-update time.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fedsilo.errors import PKIError
from fedsilo.pki import validate
from fedsilo.pki.files import (
    PrivateKey,
    load_certificate,
    load_private_key,
    write_private_key,
    write_public,
)
from fedsilo.pki.identity import Role, certificate_identity, check_name

CA_KEY, CA_CERT, CA_STATE, CRL_FILE = "ca.key", "ca.crt", "ca-state.json", "crl.pem"
CA_DAYS = 3650
DEFAULT_LEAF_DAYS = 365
MAX_LEAF_DAYS = 825
DEFAULT_CRL_DAYS = 7
STATE_FORMAT = "fedsilo-ca/v1"


def _name(common_name: str, federation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"fedsilo federation {federation}"),
        ]
    )


def init_ca(federation: str, out_dir: Path, now: dt.datetime) -> Path:
    """Create a new CA for ``federation`` in ``out_dir``; returns the CA certificate path."""
    check_name(federation, "federation id")
    out_dir.mkdir(parents=True, exist_ok=True)
    if (out_dir / CA_KEY).exists():
        raise PKIError(f"{out_dir / CA_KEY} already exists; a CA is created once")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(f"fedsilo CA {federation}", federation)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_private_key(out_dir / CA_KEY, key)
    write_public(out_dir / CA_CERT, cert.public_bytes(serialization.Encoding.PEM))
    state = {"format": STATE_FORMAT, "federation": federation, "issued": {}, "revoked": {}}
    write_public(out_dir / CA_STATE, json.dumps(state, indent=2).encode())
    return out_dir / CA_CERT


def _key_usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        # a member's key also opens what a dealer sealed to it (ECDH: signatures.seal_to)
        key_agreement=not cert_sign,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


@dataclass(frozen=True)
class RequestSummary:
    """What a well-formed request asks for."""

    name: str
    role: Role
    sans: list[x509.GeneralName]


class CertificateAuthority:
    """A loaded CA directory that issues, revokes and publishes CRLs."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.key: PrivateKey = load_private_key(directory / CA_KEY)
        self.certificate = load_certificate(directory / CA_CERT)
        self._state = self._load_state()
        if self.key.public_key() != self.certificate.public_key():
            raise PKIError(f"{directory / CA_KEY} does not belong to {directory / CA_CERT}")

    def _load_state(self) -> dict[str, Any]:
        path = self.directory / CA_STATE
        try:
            state: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise PKIError(f"{path} is missing or not valid JSON") from exc
        if state.get("format") != STATE_FORMAT:
            raise PKIError(f"{path} is not a {STATE_FORMAT} state file")
        return state

    def _save_state(self) -> None:
        write_public(self.directory / CA_STATE, json.dumps(self._state, indent=2).encode())

    @property
    def federation(self) -> str:
        return str(self._state["federation"])

    def check_request(self, csr: x509.CertificateSigningRequest) -> RequestSummary:
        """Refuse a request whose signature, identity, role or key is malformed."""
        if not csr.is_signature_valid:
            raise PKIError("the request's signature does not verify")
        federation, name = self._requested_identity(csr)
        if federation != self.federation:
            raise PKIError(
                f"the request is for federation {federation!r}, this CA serves {self.federation!r}"
            )
        role = _requested_role(csr)
        sans = list(csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
        endpoints = [s for s in sans if isinstance(s, x509.DNSName | x509.IPAddress)]
        if role is Role.SILO and endpoints:
            raise PKIError("a silo certificate names no DNS or IP endpoints (silos connect out)")
        if role is Role.AGGREGATOR and not endpoints:
            raise PKIError("an aggregator request must name its DNS names or IP addresses")
        other = [
            s
            for s in sans
            if not isinstance(s, x509.DNSName | x509.IPAddress | x509.UniformResourceIdentifier)
        ]
        if other:
            raise PKIError("the request carries subject alternative names fedsilo does not issue")
        validate.check_key_strength_of(csr.public_key())
        return RequestSummary(name, role, sans)

    @staticmethod
    def _requested_identity(csr: x509.CertificateSigningRequest) -> tuple[str, str]:
        try:
            csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        except x509.ExtensionNotFound as exc:
            raise PKIError("the request has no subject alternative names") from exc
        return certificate_identity(csr)

    def sign(
        self, csr: x509.CertificateSigningRequest, now: dt.datetime, days: int = DEFAULT_LEAF_DAYS
    ) -> x509.Certificate:
        """Issue a leaf certificate for a checked request, valid ``days`` from ``now``."""
        if not 1 <= days <= MAX_LEAF_DAYS:
            raise PKIError(f"--days must be between 1 and {MAX_LEAF_DAYS}, got {days}")
        request = self.check_request(csr)
        public = csr.public_key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(request.name, self.federation))
            .issuer_name(self.certificate.subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([validate.REQUIRED_EKU[request.role]]), critical=False
            )
            .add_extension(x509.SubjectAlternativeName(request.sans), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        self._state["issued"][f"{cert.serial_number:x}"] = {
            "name": request.name,
            "role": request.role.value,
            "not_after": cert.not_valid_after_utc.isoformat(),
        }
        self._save_state()
        return cert

    def revoke(self, serial: str, now: dt.datetime) -> str:
        """Record the revocation of an issued serial (hex); returns it normalized."""
        normalized = serial.lower().removeprefix("0x").replace(":", "")
        try:
            int(normalized, 16)
        except ValueError as exc:
            raise PKIError(
                f"serial {serial!r} is not hexadecimal (see fedsilo certs inspect)"
            ) from exc
        normalized = normalized.lstrip("0") or "0"
        if normalized not in self._state["issued"]:
            raise PKIError(f"serial {normalized} was not issued by this CA")
        self._state["revoked"].setdefault(normalized, now.isoformat())
        self._save_state()
        return normalized

    def crl(self, now: dt.datetime, days: int = DEFAULT_CRL_DAYS) -> x509.CertificateRevocationList:
        """A CRL of every revoked serial, valid until ``now + days``."""
        if not 1 <= days <= 90:
            raise PKIError(f"a CRL is valid 1 to 90 days, got {days}")
        number = int(self._state.get("crl_number", 0)) + 1
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(now)
            .next_update(now + dt.timedelta(days=days))
            .add_extension(x509.CRLNumber(number), critical=False)
        )
        for serial, when in sorted(self._state["revoked"].items()):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(int(serial, 16))
                .revocation_date(dt.datetime.fromisoformat(when))
                .build()
            )
        self._state["crl_number"] = number
        self._save_state()
        return builder.sign(self.key, hashes.SHA256())


def _requested_role(csr: x509.CertificateSigningRequest) -> Role:
    try:
        ekus = list(csr.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound as exc:
        raise PKIError("the request names no extended key usage (role)") from exc
    for role, oid in validate.REQUIRED_EKU.items():
        if ekus == [oid]:
            return role
    raise PKIError(
        "the request's extended key usage must be clientAuth (silo) or serverAuth (aggregator)"
    )
