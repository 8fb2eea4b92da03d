"""Who is on the other end: certificates checked against the pinned roster and the CRL.

TLS (gRPC, mutual, TLS 1.3) already proves possession of a key whose
certificate chains to the federation CA. On top of that, on every call, we
require: a leaf (not a CA) certificate, the URI SAN of a roster member,
exactly the pinned fingerprint of that member, the member's role, validity
now, and absence from a fresh CA-signed CRL. A stale or missing CRL fails
closed, and so does one dated in the future or older (by CRL number) than one
the node already accepted (:class:`CrlFloor`). The CRL file is reloaded
whenever it changes on disk.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography import x509

from fedsilo.errors import PKIError
from fedsilo.pki import validate
from fedsilo.pki.files import load_crl
from fedsilo.pki.identity import Role, certificate_identity, fingerprint

Clock = Callable[[], dt.datetime]
REQUIRED_TLS_VERSION = b"TLSv1.3"
# how far a CRL's issue time may lie ahead of this node's clock (clocks drift a little)
CRL_CLOCK_SKEW = dt.timedelta(minutes=5)


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


class CrlNumberStore(Protocol):
    """Where a node keeps the highest CRL number it accepted (its state directory)."""

    def load(self) -> int: ...

    def save(self, number: int) -> None: ...


class InMemoryCrlNumber:
    """A CRL number kept for the life of the process only (tools, tests)."""

    def __init__(self, number: int = 0) -> None:
        self._number = number

    def load(self) -> int:
        return self._number

    def save(self, number: int) -> None:
        self._number = number


class CrlFloor:
    """Refuses a CRL older than one this node already accepted, or one dated in the future.

    Installing an older, still unexpired CRL would un-revoke every certificate revoked
    since; a CRL "issued" tomorrow would stay fresh past its real next update. The
    highest CRL number accepted is made durable (by the store) before it counts."""

    def __init__(self, store: CrlNumberStore) -> None:
        self._store = store
        self._highest = store.load()
        self._lock = threading.Lock()

    @property
    def highest(self) -> int:
        """The highest CRL number accepted so far."""
        return self._highest

    def check(self, crl: x509.CertificateRevocationList, now: dt.datetime) -> None:
        issued = crl.last_update_utc
        if issued > now + CRL_CLOCK_SKEW:
            raise PKIError(
                f"the CRL is dated {issued:%Y-%m-%d %H:%M} UTC, in the future of this node's "
                f"clock ({now:%Y-%m-%d %H:%M} UTC); refusing it (check the clocks, or ask the "
                "CA holder for a correctly dated CRL)"
            )
        try:
            number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        except x509.ExtensionNotFound as exc:
            raise PKIError("the CRL has no CRL number; fedsilo requires one") from exc
        with self._lock:
            if number < self._highest:
                raise PKIError(
                    f"the CRL has number {number}, lower than number {self._highest} this node "
                    "already accepted: an older CRL would un-revoke certificates; install the "
                    "newest CRL (fedsilo certs crl)"
                )
            if number > self._highest:
                self._store.save(number)
                self._highest = number


def _memory_floor() -> CrlFloor:
    return CrlFloor(InMemoryCrlNumber())


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
    crl_floor: CrlFloor = field(default_factory=_memory_floor)

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
        validate.check_not_revoked(cert, self.fresh_crl(now))
        return member

    def fresh_crl(self, now: dt.datetime | None = None) -> x509.CertificateRevocationList:
        """The current CRL, checked: signed by the CA, not stale, not dated in the future, and
        not older than one accepted before. Raises :class:`PKIError` (fail closed)."""
        now = now or self.clock()
        crl = self.crl.current()
        validate.check_crl(crl, self.ca_certificate, now)
        self.crl_floor.check(crl, now)
        return crl

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
