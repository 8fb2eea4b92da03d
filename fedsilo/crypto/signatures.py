"""Identity signatures with the ECDSA P-256 key of a silo's certificate, and secrets
sealed to that key (:func:`seal_to`, :meth:`IdentityKey.open_sealed`).

Signed bytes are always ``encode(label, *fields)`` with a versioned purpose
label, so a signature made for one purpose can never be replayed as
another. Signing is deterministic (RFC 6979): the same message gives the
same bytes, so a resend is byte-identical and not mistaken for
equivocation. Verification raises :class:`SignatureError`; it never
returns a bool.

Sealing to a certificate (a key share dealt to a silo, say) is ECIES over the same
curve: an ephemeral P-256 key, ECDH with the recipient's certificate key, HKDF-SHA256
bound to the caller's label and fields and to both public keys, ChaCha20-Poly1305
(:mod:`fedsilo.crypto.aead`). Only the holder of the certificate's private key opens it;
it opens only under the same label and fields. The ephemeral scalar is hedged (the
entropy mixed with the plaintext and the binding), so a replayed entropy stream never
reuses a key for another plaintext. Sealing hides a secret; it does not say who sealed
it: whoever opens one checks it against public values (a Paillier key share against its
verification key) or a signed digest. Format: version ``0x01`` ‖ the ephemeral
public key (65 bytes, uncompressed) ‖ the AEAD payload.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from fedsilo.crypto import aead
from fedsilo.crypto.encoding import Field, encode
from fedsilo.crypto.entropy import Entropy
from fedsilo.errors import CryptoError, DecryptionError, SignatureError

_ALGORITHM = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
_SEALED_VERSION = b"\x01"
_SEALED_LABEL = "fedsilo/identity/sealed-to/v1"
_POINT_BYTES = 65  # an uncompressed P-256 point
# the order of P-256's group: an ephemeral scalar is drawn uniformly below it
_EPHEMERAL_LABEL = "fedsilo/identity/sealed-to/ephemeral/v1"
_SCALAR_ATTEMPTS = 64
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


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

    def open_sealed(self, sealed: bytes, label: str, *fields: Field) -> bytes:
        """What :func:`seal_to` sealed to this identity under ``label`` and ``fields``;
        raises :class:`DecryptionError` for anything else (another recipient, label or
        fields, or altered bytes)."""
        if len(sealed) < 1 + _POINT_BYTES or sealed[:1] != _SEALED_VERSION:
            raise DecryptionError("sealed secret is truncated or of an unknown version")
        point = sealed[1 : 1 + _POINT_BYTES]
        try:
            ephemeral = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        except ValueError as exc:
            raise DecryptionError("sealed secret carries no valid ephemeral key") from exc
        secret = self._key.exchange(ec.ECDH(), ephemeral)
        key = _sealing_key(secret, point, self.verifying_key, label, fields)
        return aead.open_sealed(key, sealed[1 + _POINT_BYTES :], point)

    def storage_key(self, label: str, *fields: Field) -> bytes:
        """A 32-byte symmetric key only this identity can derive, for secrets it keeps at
        rest: HKDF-SHA256 of the private scalar, bound to ``label`` and ``fields``."""
        scalar = self._key.private_numbers().private_value.to_bytes(32, "big")
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=encode(label, *fields)
        ).derive(scalar)


def seal_to(
    recipient: VerifyingKey, plaintext: bytes, label: str, *fields: Field, entropy: Entropy
) -> bytes:
    """``plaintext`` sealed so that only ``recipient``'s private key opens it, under the
    same ``label`` and ``fields`` (see the module docstring)."""
    ephemeral = ec.derive_private_key(
        _ephemeral_scalar(recipient, plaintext, label, fields, entropy), ec.SECP256R1()
    )
    point = ephemeral.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    secret = ephemeral.exchange(ec.ECDH(), recipient._key)
    key = _sealing_key(secret, point, recipient, label, fields)
    return _SEALED_VERSION + point + aead.seal(key, plaintext, point, entropy)


def _ephemeral_scalar(
    recipient: VerifyingKey,
    plaintext: bytes,
    label: str,
    fields: tuple[Field, ...],
    entropy: Entropy,
) -> int:
    """A uniform scalar in ``[1, order)``, hedged: drawn from ``entropy`` mixed with the
    plaintext, the recipient and the binding, so an entropy stream replayed for another
    plaintext (a re-deal from a fixed seed) still gives another key and nonce stream."""
    seed = entropy.random_bytes(32)
    digest = hashlib.sha256(plaintext).digest()
    for attempt in range(_SCALAR_ATTEMPTS):
        info = encode(_EPHEMERAL_LABEL, digest, recipient.to_der(), label, list(fields), attempt)
        candidate = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(seed)
        scalar = int.from_bytes(candidate, "big")
        if 0 < scalar < _P256_ORDER:
            return scalar
    raise CryptoError("the entropy source gives no usable P-256 scalar")  # 2^-2048 honestly


def _sealing_key(
    secret: bytes, point: bytes, recipient: VerifyingKey, label: str, fields: tuple[Field, ...]
) -> bytes:
    info = encode(_SEALED_LABEL, label, list(fields), point, recipient.to_der())
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)
