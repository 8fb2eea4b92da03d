"""Checks of a member certificate against the federation CA, its role and a CRL.

Each check raises :class:`~fedsilo.errors.PKIError` with a message a person can act
on. The auditor runs them one by one to report each rule; a node runs them
all before it trusts a peer.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from fedsilo.errors import PKIError
from fedsilo.pki.identity import Role, certificate_identity

REQUIRED_EKU = {
    Role.SILO: ExtendedKeyUsageOID.CLIENT_AUTH,
    Role.AGGREGATOR: ExtendedKeyUsageOID.SERVER_AUTH,
}
MIN_EC_BITS = 256
MIN_RSA_BITS = 3072


def check_issued_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> None:
    """The certificate's signature verifies under the federation CA's key."""
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise PKIError("not issued by the federation CA (issuer or signature differs)") from exc


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def check_is_leaf(cert: x509.Certificate) -> None:
    """A member certificate must not be a CA certificate."""
    if is_ca(cert):
        raise PKIError("a CA certificate is presented as a member certificate")


def check_identity(cert: x509.Certificate, federation: str, name: str) -> None:
    """The URI SAN names exactly this member of this federation."""
    got = certificate_identity(cert)
    if got != (federation, name):
        raise PKIError(
            f"certificate names fedsilo://{got[0]}/{got[1]}, expected fedsilo://{federation}/{name}"
        )


def extended_key_usages(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    try:
        return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return []


def role_of(cert: x509.Certificate) -> Role | None:
    """The role the certificate's extended key usage allows, if exactly one."""
    ekus = extended_key_usages(cert)
    roles = [role for role, oid in REQUIRED_EKU.items() if oid in ekus]
    return roles[0] if len(roles) == 1 else None


def check_role(cert: x509.Certificate, role: Role) -> None:
    """The extended key usage is the one of ``role``, and only that one."""
    if role_of(cert) is not role:
        names = [getattr(oid, "_name", oid.dotted_string) for oid in extended_key_usages(cert)]
        raise PKIError(
            f"extended key usage {names or 'missing'} is wrong for a {role.value} "
            f"(needs {REQUIRED_EKU[role]._name} only)"
        )


def check_validity(cert: x509.Certificate, now: dt.datetime) -> dt.timedelta:
    """Raise if expired or not yet valid; return the time left."""
    if now < cert.not_valid_before_utc:
        raise PKIError(f"not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC")
    if now > cert.not_valid_after_utc:
        raise PKIError(f"expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
    return cert.not_valid_after_utc - now


def check_key_strength(cert: x509.Certificate) -> None:
    """EC on a curve of at least 256 bits, or RSA of at least 3072 bits."""
    check_key_strength_of(cert.public_key())


def check_key_strength_of(key: object) -> None:
    """The same rule for a bare public key (of a certificate or a request)."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.key_size < MIN_EC_BITS:
            raise PKIError(f"EC key on {key.curve.name} is weaker than P-256")
        return
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise PKIError(f"RSA key of {key.key_size} bits is below {MIN_RSA_BITS}")
        return
    raise PKIError(f"{type(key).__name__} keys are not accepted (use EC P-256 or RSA-3072)")


def check_crl(
    crl: x509.CertificateRevocationList, ca_cert: x509.Certificate, now: dt.datetime
) -> None:
    """The CRL is signed by the federation CA and not stale (fail closed)."""
    public = ca_cert.public_key()
    if (
        crl.issuer != ca_cert.subject
        or not isinstance(public, ec.EllipticCurvePublicKey | rsa.RSAPublicKey)
        or not crl.is_signature_valid(public)
    ):
        raise PKIError("the CRL is not signed by the federation CA")
    next_update = crl.next_update_utc
    if next_update is None:
        raise PKIError("the CRL has no next-update time; fedsilo requires one")
    if now > next_update:
        raise PKIError(
            f"the CRL is stale: its next update was due {next_update:%Y-%m-%d %H:%M} UTC; "
            "ask the CA holder for a fresh one (fedsilo certs crl)"
        )


def check_not_revoked(cert: x509.Certificate, crl: x509.CertificateRevocationList) -> None:
    revoked = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if revoked is not None:
        raise PKIError(
            f"revoked on {revoked.revocation_date_utc:%Y-%m-%d} (serial {cert.serial_number:x})"
        )
