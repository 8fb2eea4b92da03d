"""Who is on the other end: certificates checked against the pinned roster and the CRL.

TLS (gRPC, mutual, TLS 1.3) already proves possession of a key whose
certificate chains to the federation CA. On top of that, on every call, we
require: a leaf (not a CA) certificate, the URI SAN of a roster member,
exactly the pinned fingerprint of that member, the member's role, validity
now, and absence from a fresh CA-signed CRL. A stale or missing CRL fails
closed. The CRL file is reloaded whenever it changes on disk.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from fedsilo.errors import PKIError
from fedsilo.pki import validate
from fedsilo.pki.files import load_crl
from fedsilo.pki.identity import Role, certificate_identity, fingerprint

Clock = Callable[[], dt.datetime]
REQUIRED_TLS_VERSION = b"TLSv1.3"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CrlSource:
    """The federation's CRL, re-read from ``path`` whenever the file changes."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._crl: x509.CertificateRevocationList | None = None

    def current(self) -> x509.CertificateRevocationList:
        try:
            stat = self._path.stat()
        except OSError as exc:
            raise PKIError(f"the CRL {self._path} is missing; refusing every peer") from exc
        with self._lock:
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp != self._stamp or self._crl is None:
                self._crl = load_crl(self._path)
                self._stamp = stamp
            return self._crl


@dataclass(frozen=True)
class Member:
    """A roster member as the config pins it."""

    name: str
    role: Role
    index: int  # roster index of a silo (1..n); 0 for the aggregator
    fingerprint: str | None


@dataclass
class TrustStore:
    """Everything needed to decide whether a certificate speaks for a member."""

    federation: str
    roster: Mapping[str, Member]
    ca_certificate: x509.Certificate
    crl: CrlSource
    ca_fingerprint: str | None
    clock: Clock = utc_now

    def __post_init__(self) -> None:
        pinned = self.ca_fingerprint
        if pinned is None or fingerprint(self.ca_certificate) != pinned:
            raise PKIError("the CA certificate given is not the one pinned in the config")

    def verify(self, cert: x509.Certificate, expected_role: Role | None = None) -> Member:
        """The member ``cert`` speaks for; raises PKIError naming the first failed check."""
        validate.check_is_leaf(cert)
        validate.check_issued_by(cert, self.ca_certificate)
        federation, name = certificate_identity(cert)
        member = self.roster.get(name)
        if federation != self.federation or member is None:
            raise PKIError(f"fedsilo://{federation}/{name} is not on this federation's roster")
        if expected_role is not None and member.role is not expected_role:
            raise PKIError(f"{name} is a {member.role.value}, not a {expected_role.value}")
        if member.fingerprint is None or fingerprint(cert) != member.fingerprint:
            raise PKIError(f"the certificate of {name} is not the one pinned in the config")
        validate.check_role(cert, member.role)
        now = self.clock()
        validate.check_validity(cert, now)
        validate.check_key_strength(cert)
        crl = self.crl.current()
        validate.check_crl(crl, self.ca_certificate, now)
        validate.check_not_revoked(cert, crl)
        return member

    def verify_der(
        self, der: bytes, expected_role: Role | None = None
    ) -> tuple[Member, x509.Certificate]:
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError as exc:
            raise PKIError("a peer certificate is not valid DER") from exc
        return self.verify(cert, expected_role), cert

    def authenticate_peer(self, auth_context: Mapping[str, list[bytes]]) -> Member:
        """The silo behind a gRPC call, from the server's auth context."""
        if auth_context.get("ssl_tls_version", [b""])[0] != REQUIRED_TLS_VERSION:
            raise PKIError("the connection is not TLS 1.3")
        pems = auth_context.get("x509_pem_cert")
        if not pems:
            raise PKIError("the peer presented no client certificate")
        try:
            cert = x509.load_pem_x509_certificate(pems[0])
        except ValueError as exc:
            raise PKIError("the peer certificate is unreadable") from exc
        return self.verify(cert, Role.SILO)
