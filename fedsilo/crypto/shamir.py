"""Shamir t-of-n secret sharing over the prime field GF(2^521 - 1).

The field is larger than 2^256, so any 32-byte secret (an X25519 private
key, a self-mask seed) is a field element as it stands. A share is the
point ``(x, f(x))`` of a random polynomial of degree ``t - 1`` with
``f(0) = secret``; ``x`` is the holder's roster index (never 0). Any ``t``
shares determine the secret; fewer reveal nothing about it.

Wire encoding of a share (pinned by known-answer vectors): a version byte
``0x01``, ``x`` as 2 bytes big-endian, ``y`` as 66 bytes big-endian.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fedsilo.crypto.entropy import Entropy
from fedsilo.errors import CryptoError

PRIME = (1 << 521) - 1
_Y_BYTES = 66
_VERSION = 0x01
SHARE_BYTES = 1 + 2 + _Y_BYTES
MAX_SECRET_BYTES = 64


@dataclass(frozen=True)
class Share:
    """One point of a sharing polynomial: ``x`` is the holder's roster index."""

    x: int
    y: int

    def to_bytes(self) -> bytes:
        return bytes([_VERSION]) + self.x.to_bytes(2, "big") + self.y.to_bytes(_Y_BYTES, "big")

    @classmethod
    def from_bytes(cls, data: bytes) -> Share:
        if len(data) != SHARE_BYTES or data[0] != _VERSION:
            raise CryptoError("malformed Shamir share (wrong length or version)")
        x = int.from_bytes(data[1:3], "big")
        y = int.from_bytes(data[3:], "big")
        if not 0 < x < 1 << 16 or y >= PRIME:
            raise CryptoError("malformed Shamir share (coordinate out of range)")
        return cls(x, y)


def _random_element(entropy: Entropy) -> int:
    while True:  # rejection sampling keeps coefficients exactly uniform
        value = int.from_bytes(entropy.random_bytes(_Y_BYTES), "big") & PRIME
        if value < PRIME:
            return value


def split(secret: bytes, threshold: int, holders: Sequence[int], entropy: Entropy) -> list[Share]:
    """Share ``secret`` so that any ``threshold`` of ``holders`` recover it."""
    if not 0 < len(secret) <= MAX_SECRET_BYTES:
        raise CryptoError(f"a shared secret is 1..{MAX_SECRET_BYTES} bytes")
    if len(set(holders)) != len(holders) or any(not 0 < x < 1 << 16 for x in holders):
        raise CryptoError("share holders must be distinct indices in 1..65535")
    if not 1 <= threshold <= len(holders):
        raise CryptoError(f"threshold {threshold} is not in 1..{len(holders)}")
    coefficients = [int.from_bytes(secret, "big")]
    coefficients += [_random_element(entropy) for _ in range(threshold - 1)]
    shares = []
    for x in holders:
        y = 0
        for c in reversed(coefficients):  # Horner; t is small (tens)
            y = (y * x + c) % PRIME
        shares.append(Share(x, y))
    return shares


def _interpolate(points: Sequence[Share], at: int) -> int:
    total = 0
    for i, pi in enumerate(points):
        num, den = 1, 1
        for j, pj in enumerate(points):
            if i != j:
                num = num * (at - pj.x) % PRIME
                den = den * (pi.x - pj.x) % PRIME
        total = (total + pi.y * num * pow(den, -1, PRIME)) % PRIME
    return total


def reconstruct(shares: Sequence[Share], threshold: int, secret_bytes: int = 32) -> bytes:
    """Recover a secret from at least ``threshold`` shares.

    With more than ``threshold`` shares, the extra ones must lie on the same
    polynomial: a tampered share is detected instead of silently used.
    """
    if len({s.x for s in shares}) != len(shares):
        raise CryptoError("two shares have the same holder index")
    if len(shares) < threshold:
        raise CryptoError(f"need {threshold} shares to reconstruct, got {len(shares)}")
    basis = list(shares[:threshold])
    for extra in shares[threshold:]:
        if _interpolate(basis, extra.x) != extra.y:
            raise CryptoError("shares are inconsistent: at least one was tampered with")
    value = _interpolate(basis, 0)
    if value >= 1 << (8 * secret_bytes):
        raise CryptoError("shares reconstruct to a value too long for the secret")
    return value.to_bytes(secret_bytes, "big")
