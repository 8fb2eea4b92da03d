"""Authenticated encryption of secret payloads between silos.

ChaCha20-Poly1305 with a random 96-bit nonce per message. The associated
data is the caller's :func:`~fedsilo.crypto.encoding.encode` of who sends to
whom, in which session and stage, so a ciphertext moved to another context
fails to open. Sealed format: version byte ``0x01`` ‖ nonce ‖ ciphertext.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from fedsilo.crypto.entropy import Entropy
from fedsilo.errors import DecryptionError

NONCE_BYTES = 12
_VERSION = b"\x01"


def seal(key: bytes, plaintext: bytes, associated_data: bytes, entropy: Entropy) -> bytes:
    """Encrypt and authenticate ``plaintext``, binding ``associated_data``."""
    nonce = entropy.random_bytes(NONCE_BYTES)
    return _VERSION + nonce + ChaCha20Poly1305(key).encrypt(nonce, plaintext, associated_data)


def open_sealed(key: bytes, sealed: bytes, associated_data: bytes) -> bytes:
    """Decrypt ``sealed``; raises :class:`DecryptionError` if anything was altered."""
    if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[:1] != _VERSION:
        raise DecryptionError("sealed payload is truncated or of an unknown version")
    nonce = sealed[1 : 1 + NONCE_BYTES]
    try:
        return ChaCha20Poly1305(key).decrypt(nonce, sealed[1 + NONCE_BYTES :], associated_data)
    except InvalidTag as exc:
        raise DecryptionError(
            "sealed payload failed authentication: altered, or meant for another context"
        ) from exc
