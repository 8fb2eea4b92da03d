"""Identity signatures with the ECDSA P-256 key of a silo's certificate.

Signed bytes are always ``encode(label, *fields)`` with a versioned purpose
label, so a signature made for one purpose can never be replayed as
another. Signing is deterministic (RFC 6979): the same message gives the
same bytes, so a resend is byte-identical and not mistaken for
equivocation. Verification raises :class:`SignatureError`; it never
returns a bool.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from fedsilo.crypto.encoding import Field, encode
from fedsilo.errors import CryptoError, SignatureError

_ALGORITHM = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)


class VerifyingKey:
    """The public half of an identity key (P-256)."""

    def __init__(self, public_key: ec.EllipticCurvePublicKey) -> None:
        if not isinstance(public_key.curve, ec.SECP256R1):
            raise CryptoError(f"identity keys are ECDSA P-256, got {public_key.curve.name}")
        self._key = public_key

    @classmethod
    def from_public_key(cls, key: object) -> VerifyingKey:
        """Wrap a certificate's public key; only EC P-256 keys sign for fedsilo members."""
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise CryptoError("fedsilo members sign with EC P-256 keys")
        return cls(key)

    @classmethod
    def from_der(cls, der: bytes) -> VerifyingKey:
        key = serialization.load_der_public_key(der)
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise CryptoError("an identity public key must be an EC key")
        return cls(key)

    def to_der(self) -> bytes:
        return self._key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def fingerprint(self) -> str:
        """``sha256:<hex>`` of the DER SubjectPublicKeyInfo."""
        return "sha256:" + hashlib.sha256(self.to_der()).hexdigest()

    def verify(self, signature: bytes, label: str, *fields: Field) -> None:
        """Raise :class:`SignatureError` unless ``signature`` signs these fields."""
        try:
            self._key.verify(signature, encode(label, *fields), _ALGORITHM)
        except InvalidSignature as exc:
            raise SignatureError(f"invalid {label} signature") from exc


class IdentityKey:
    """A private identity key (P-256) that signs on a party's behalf."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise CryptoError(f"identity keys are ECDSA P-256, got {private_key.curve.name}")
        self._key = private_key
        self.verifying_key = VerifyingKey(private_key.public_key())

    @classmethod
    def generate(cls) -> IdentityKey:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    def sign(self, label: str, *fields: Field) -> bytes:
        """Sign ``encode(label, *fields)``."""
        return self._key.sign(encode(label, *fields), _ALGORITHM)

    def storage_key(self, label: str, *fields: Field) -> bytes:
        """A 32-byte symmetric key only this identity can derive, for secrets it keeps at
        rest: HKDF-SHA256 of the private scalar, bound to ``label`` and ``fields``."""
        scalar = self._key.private_numbers().private_value.to_bytes(32, "big")
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=encode(label, *fields)
        ).derive(scalar)
