"""Reading and writing PKI files, with clear errors and safe permissions.

Private keys are created with mode 0600 and ``O_EXCL``: an existing key is
never overwritten, and the key is never readable by others, not even for
an instant between creation and a later chmod.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from fedsilo.crypto.signatures import IdentityKey
from fedsilo.errors import CryptoError, PKIError

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
T = TypeVar("T")


def write_private_key(path: Path, key: PrivateKey) -> None:
    """Write ``key`` as unencrypted PKCS#8 PEM, mode 0600, refusing to overwrite."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise PKIError(f"{path} already exists; refusing to overwrite a private key") from exc
    except OSError as exc:
        raise PKIError(f"cannot create {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def write_public(path: Path, data: bytes) -> None:
    """Write public material (certificates, requests, CRLs)."""
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise PKIError(f"cannot write {path}: {exc.strerror}") from exc


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise PKIError(f"{what} {path} does not exist") from exc
    except OSError as exc:
        raise PKIError(f"cannot read {what} {path}: {exc.strerror}") from exc


def load_private_key(path: Path) -> PrivateKey:
    data = _read(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise PKIError(f"{path} is not an unencrypted PEM private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise PKIError(f"{path} holds a {type(key).__name__}; fedsilo uses EC or RSA keys")
    return key


def _load_pem(path: Path, what: str, parse: Callable[[bytes], T]) -> T:
    data = _read(path, what)
    try:
        return parse(data)
    except ValueError as exc:
        raise PKIError(f"{path} is not a PEM {what}") from exc


def certificate_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def certificate_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def crl_pem(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.PEM)


def certificate_from_pem(data: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise PKIError("not a PEM certificate") from exc


def load_identity_key(path: Path) -> IdentityKey:
    """A member's certificate key as the identity that signs protocol messages (P-256)."""
    key = load_private_key(path)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PKIError(f"{path} is not an EC key; fedsilo members sign with P-256 keys")
    try:
        return IdentityKey(key)
    except CryptoError as exc:
        raise PKIError(f"{path}: {exc}") from exc


def load_certificate(path: Path) -> x509.Certificate:
    return _load_pem(path, "certificate", x509.load_pem_x509_certificate)


def load_csr(path: Path) -> x509.CertificateSigningRequest:
    return _load_pem(path, "certificate signing request", x509.load_pem_x509_csr)


def load_crl(path: Path) -> x509.CertificateRevocationList:
    return _load_pem(path, "certificate revocation list", x509.load_pem_x509_crl)
