"""Feldman verifiable secret sharing over the Schnorr group of :mod:`.group`.

A dealer shares a scalar ``s`` mod ``q`` with a random polynomial
``f(X) = s + a_1 X + … + a_{t-1} X^{t-1}`` mod ``q``: holder ``x`` (its roster
index, never 0) gets ``f(x)``, and everyone gets the commitments
``C_k = g^{a_k}`` (``a_0 = s``). A share ``y`` of holder ``x`` is valid iff

    ``g^y = Π_k C_k^(x^k)  (mod p)``                 (:func:`verify_share`)

so a recipient checks its share when it arrives, and anyone holding the
(dealer-signed) commitments checks a share someone reveals later: a false
share names the party that produced it, dealer or revealer. Any ``t`` valid
shares lie on ``f`` and reconstruct ``s`` (:func:`reconstruct`), whatever the
commitments are: ``g^y`` is in the order-``q`` subgroup, so equality forces
``y = Σ a_k x^k mod q`` even for commitments outside it.

Hiding is computational: ``C_0 = g^s`` fixes ``s`` up to a discrete logarithm,
which is why ``s`` is a fresh uniform scalar used only as a key-derivation seed.

Wire encoding (pinned by known-answer vectors): a share is a version byte
``0x02``, ``x`` as 2 bytes and ``y`` as 32 bytes, big-endian; commitments are
``t`` elements of 384 bytes each.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from fedsilo.crypto import group
from fedsilo.crypto.entropy import Entropy
from fedsilo.errors import CryptoError

_VERSION = 0x02
SHARE_BYTES = 1 + 2 + group.SCALAR_BYTES
MAX_HOLDER = (1 << 16) - 1
COMMITMENTS_LABEL = b"fedsilo/v1/feldman-commitments"


@dataclass(frozen=True)
class Share:
    """Holder ``x``'s point ``(x, f(x))`` of a sharing polynomial."""

    x: int
    y: int

    def to_bytes(self) -> bytes:
        return bytes([_VERSION]) + self.x.to_bytes(2, "big") + group.scalar_to_bytes(self.y)

    @classmethod
    def from_bytes(cls, data: bytes) -> Share:
        if len(data) != SHARE_BYTES or data[0] != _VERSION:
            raise CryptoError("malformed Feldman share (wrong length or version)")
        x = int.from_bytes(data[1:3], "big")
        if x == 0:
            raise CryptoError("malformed Feldman share (holder index 0)")
        return cls(x, group.scalar_from_bytes(data[3:]))


@dataclass(frozen=True)
class Commitments:
    """``(g^{a_0}, …, g^{a_{t-1}})``: one per coefficient, so ``len`` is the threshold."""

    values: tuple[int, ...]

    def to_bytes(self) -> bytes:
        return b"".join(group.element_to_bytes(v) for v in self.values)

    @classmethod
    def from_bytes(cls, data: bytes, threshold: int) -> Commitments:
        """Exactly ``threshold`` elements, each in ``[1, p)``; refuses anything else."""
        size = group.ELEMENT_BYTES
        if threshold < 1 or len(data) != threshold * size:
            raise CryptoError(
                f"Feldman commitments for threshold {threshold} are {threshold * size} bytes, "
                f"got {len(data)}"
            )
        return cls(
            tuple(group.element_from_bytes(data[i : i + size]) for i in range(0, len(data), size))
        )

    def digest(self) -> bytes:
        """SHA-256 over a label, the threshold and the encoded elements."""
        threshold = len(self.values).to_bytes(2, "big")
        return hashlib.sha256(COMMITMENTS_LABEL + threshold + self.to_bytes()).digest()


def random_scalar(entropy: Entropy) -> int:
    """A uniform scalar mod ``q`` (rejection sampling: exactly uniform)."""
    while True:
        value = int.from_bytes(entropy.random_bytes(group.SCALAR_BYTES), "big")
        if value < group.Q:
            return value


def deal(
    secret: int, threshold: int, holders: Sequence[int], entropy: Entropy
) -> tuple[list[Share], Commitments]:
    """Share ``secret`` (a scalar) so that any ``threshold`` of ``holders`` recover it."""
    if not 0 <= secret < group.Q:
        raise CryptoError("a Feldman secret is a scalar below q")
    if len(set(holders)) != len(holders) or any(not 0 < x <= MAX_HOLDER for x in holders):
        raise CryptoError(f"share holders must be distinct indices in 1..{MAX_HOLDER}")
    if not 1 <= threshold <= len(holders):
        raise CryptoError(f"threshold {threshold} is not in 1..{len(holders)}")
    coefficients = [secret] + [random_scalar(entropy) for _ in range(threshold - 1)]
    shares = []
    for x in holders:
        y = 0
        for c in reversed(coefficients):  # Horner; t is small (tens)
            y = (y * x + c) % group.Q
        shares.append(Share(x, y))
    return shares, Commitments(tuple(group.power_of_g(c) for c in coefficients))


def verify_share(share: Share, commitments: Commitments) -> None:
    """Raise :class:`CryptoError` unless ``share`` lies on the committed polynomial."""
    if not 0 < share.x <= MAX_HOLDER or not 0 <= share.y < group.Q:
        raise CryptoError("a share's coordinates are out of range")
    values = commitments.values
    if not values:
        raise CryptoError("no commitments to check a share against")
    expected = values[-1]
    for c in reversed(values[:-1]):  # Π C_k^(x^k), Horner in the exponent: small powers only
        expected = group.multiply(group.power(expected, share.x), c)
    if group.power_of_g(share.y) != expected:
        raise CryptoError(f"the share of holder {share.x} does not match the dealer's commitments")


def reconstruct(shares: Sequence[Share], threshold: int) -> int:
    """The secret from ``threshold`` shares (verified by the caller), by Lagrange at 0."""
    if len({s.x for s in shares}) != len(shares):
        raise CryptoError("two shares have the same holder index")
    if len(shares) < threshold:
        raise CryptoError(f"need {threshold} shares to reconstruct, got {len(shares)}")
    points = shares[:threshold]
    q = group.Q
    total = 0
    for i, pi in enumerate(points):
        num, den = 1, 1
        for j, pj in enumerate(points):
            if i != j:
                num = num * (-pj.x) % q
                den = den * (pi.x - pj.x) % q
        total = (total + pi.y * num * pow(den, -1, q)) % q
    return total
