"""X25519 key agreement and HKDF-SHA256 key derivation.

Every derived key is bound, through HKDF's ``info``, to a versioned purpose
label (``fedsilo/v1/<purpose>``) and to the session it serves, encoded with
:func:`fedsilo.crypto.encoding.encode`. Two properties matter:

* a pairwise **mask seed** is the same at both ends: the pair is written
  sorted by roster index, and no stage or direction enters it, so the
  aggregator can re-derive it later from a reconstructed secret key;
* a **share-encryption key** is bound to the *direction* sender → recipient,
  so the two directions between a pair never share a key.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from fedsilo.crypto.encoding import Field, encode
from fedsilo.crypto.entropy import Entropy
from fedsilo.errors import CryptoError

X25519Key = X25519PrivateKey  # the ephemeral key type sessions hold
KEY_BYTES = 32
MASK_SEED_LABEL = "fedsilo/v1/mask-seed"
SELF_MASK_LABEL = "fedsilo/v1/self-mask"
SHARE_KEY_LABEL = "fedsilo/v1/share-key"


def generate_x25519(entropy: Entropy) -> X25519PrivateKey:
    """A fresh X25519 private key drawn from ``entropy`` (32 bytes)."""
    return X25519PrivateKey.from_private_bytes(entropy.random_bytes(KEY_BYTES))


def x25519_from_private_bytes(secret: bytes) -> X25519PrivateKey:
    """An X25519 key from its raw 32 bytes (e.g. reconstructed from Shamir shares)."""
    if len(secret) != KEY_BYTES:
        raise CryptoError(f"an X25519 private key is {KEY_BYTES} bytes, got {len(secret)}")
    return X25519PrivateKey.from_private_bytes(secret)


def x25519_public_bytes(private_key: X25519PrivateKey) -> bytes:
    """The raw 32-byte public key of ``private_key``."""
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def x25519_private_bytes(private_key: X25519PrivateKey) -> bytes:
    """The raw 32-byte private key (only ever Shamir-shared, never sent whole)."""
    return private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def agree(private_key: X25519PrivateKey, peer_public: bytes) -> bytes:
    """X25519 shared secret with ``peer_public``; refuses malformed or low-order keys."""
    if len(peer_public) != KEY_BYTES:
        raise CryptoError(f"an X25519 public key is {KEY_BYTES} bytes, got {len(peer_public)}")
    try:
        return private_key.exchange(X25519PublicKey.from_public_bytes(peer_public))
    except ValueError as exc:  # all-zero output: a low-order point
        raise CryptoError("refusing a low-order X25519 public key") from exc


def hkdf(secret: bytes, label: str, *binding: Field) -> bytes:
    """HKDF-SHA256 of ``secret`` into 32 bytes, bound to ``label`` and ``binding``."""
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=encode(label, *binding)
    ).derive(secret)


def derive_mask_seed(
    shared_secret: bytes, session: Sequence[Field], index_a: int, index_b: int
) -> bytes:
    """The pairwise mask seed of silos ``index_a`` and ``index_b`` (order-free)."""
    if index_a == index_b:
        raise CryptoError("a silo has no pairwise mask with itself")
    low, high = sorted((index_a, index_b))
    return hkdf(shared_secret, MASK_SEED_LABEL, session, low, high)


def derive_self_mask_key(seed: bytes, session: Sequence[Field], owner: int) -> bytes:
    """The keystream key of a silo's self mask, from its 32-byte seed ``b_u``."""
    return hkdf(seed, SELF_MASK_LABEL, session, owner)


def derive_share_key(
    shared_secret: bytes, session: Sequence[Field], sender: int, recipient: int
) -> bytes:
    """The AEAD key for shares sent from ``sender`` to ``recipient`` (directional)."""
    if sender == recipient:
        raise CryptoError("a silo does not encrypt shares to itself")
    return hkdf(shared_secret, SHARE_KEY_LABEL, session, sender, recipient)
