"""Threshold Paillier: encryption with DJN obfuscators, decryption shares, combining.

Theory of operation (``PROTOCOLS.md`` §2: Damgård-Jurik 2001 with ``s = 1``, after
Shoup 2000; the obfuscators are those of Damgård, Jurik and Nielsen 2010).

* **Keys** (:mod:`fedsilo.crypto.paillier_keys`): ``N = pq`` with safe primes,
  ``M = p'q'``, ``g = N + 1``; a dealer shares ``d`` (``d ≡ 0 mod M``, ``d ≡ 1 mod N``)
  as ``s_i = f(i) mod NM`` with a random polynomial of degree ``t - 1``, and publishes
  ``v``, ``v_i = v^{Δ s_i}`` (``Δ = l!``) and the common obfuscator base ``h_s``.
* **Encryption** ``Enc(m) = (1 + mN) · u mod N²`` for ``m ∈ [0, N)``, where the
  obfuscator ``u`` stands for Paillier's ``r^N``: ``u = h_s^alpha`` with the key's
  ``h_s = h^N mod N²`` (``h = -x² mod N``, ``x`` a random unit, drawn by the dealer:
  :attr:`ThresholdKey.obfuscator_base`) and ``alpha`` uniform of
  :attr:`Obfuscators.exponent_bits` bits, evaluated from a fixed-base table
  (:class:`Obfuscators`). Every ``u`` is an ``N``-th residue
  (``h_s^alpha = (h^alpha)^N``), so decryption is unchanged. **Aggregation** is the
  elementwise product mod ``N²``. Every contribution carries a proof that its signer
  knows its plaintexts (:mod:`fedsilo.crypto.paillier_knowledge`): without it a
  colluding silo could sign ``Enc(x)·(c_B c_D)⁻¹`` and turn the "aggregate" into one
  honest silo's update. The base is common to all silos for that proof's sake.
* **Decryption share** of silo ``i``: ``c_i = c^{2Δ s_i} mod N²`` (the full exponent,
  ``|N²| + |Δ|`` bits; a share holder has no factorisation, hence no CRT), sent as the
  canonical representative ``min(c_i, N² - c_i)`` (everything uses only ``c_i²``, so
  ``±c_i`` would be two valid shares; the canonical one makes the vector unique), with
  one batched proof per vector (:mod:`fedsilo.crypto.paillier_proofs`).
* **Combining** ``t`` verified shares (set ``T``): ``λ_j = Δ·Π_{j'≠j} (-j')/(j - j')``
  (integers), ``c' = Π c_j^{2λ_j} = c^{4Δ² d}``. ``c^{4NM} = 1`` for every unit, and
  ``d ≡ 0 (mod M)`` kills the obfuscator while ``d ≡ 1 (mod N)`` keeps
  ``(1 + N)^{4Δ² m} = 1 + 4Δ² m N``, so ``m = L(c') · (4Δ²)⁻¹ mod N`` with
  ``L(u) = (u - 1)/N``. **Only shares that passed** :func:`verify_shares` may be
  combined: :func:`combine` refuses ``c' ≢ 1 (mod N)``, which catches only false shares
  that are wrong in the ``C_{p'q'}`` part. A share times ``(1 + N)^y`` keeps
  ``c' ≡ 1 (mod N)`` and shifts the plaintext by an amount its sender chooses, with no
  error: that check is a consistency check, not a safety net.

**Assumptions.** Semantic security rests on (1) DCRA, the decisional composite
residuosity assumption: a uniform ``N``-th residue mod ``N²`` is indistinguishable from
a uniform unit mod ``N²`` (restricting both to Jacobi symbol ``+1`` mod ``N``, as the
obfuscators are, changes nothing: the symbol is public and can be flipped by
multiplying with ``w^N`` for a ``w`` of symbol ``-1``); and (2) the **DJN short-exponent
assumption**: for ``h = -x² mod N`` with ``x`` uniform in ``Z*_N`` and
``alpha`` uniform in ``[0, 2^{⌈|N|/2⌉})``, the triple ``(N, h, h^alpha mod N)`` is
computationally indistinguishable from ``(N, h, y)`` with ``y`` uniform in ``⟨h⟩``
(``⟨h⟩`` is ``J_N``, of order ``2p'q'``, except with negligible probability), and so,
by a hybrid argument, for any polynomial number of draws with one ``h``. As
``y ↦ y^N mod N²`` depends only on ``y mod N``, ``h_s^alpha = (h^alpha mod N)^N`` is then
indistinguishable from the ``N``-th power of a uniform element of ``J_N``, and (1)
applies. The exponent length ``⌈|N|/2⌉`` (1024 bits at ``|N| = 2048``, 1536 at 3072)
is DJN's choice. Why it suffices: the best known way to exploit a short exponent is a
square-root search for ``alpha`` (baby-step giant-step, Pollard's kangaroo) at
``≈ 2^{|alpha|/2} = 2^{|N|/4}`` group operations, far beyond factoring ``N`` (≈ 2^112 at
2048 bits); the order ``2p'q'`` has no small factors besides 2, so no Pohlig-Hellman or
van Oorschot-Wiener shortcut applies; and Håstad, Schrift and Shamir (1993) show that,
if factoring is hard, exponentiation modulo a composite hides half of the exponent's
bits, the usual justification for exponents of about ``|N|/2`` bits. We treat (2) as an
assumption, not as a theorem for this exact base and length. A longer exponent may be
asked for; a shorter one is refused. Share proofs are zero-knowledge and sound in the
random-oracle model (Fiat-Shamir over SHA-256/SHAKE256), see their module.

**Representation.** Inputs are Python ``int``s (gmpy2 ``mpz`` works too); every value
returned is a Python ``int``. gmpy2 does the arithmetic; each loop here runs once per
ciphertext (a ciphertext packs ~100+ slots), never once per slot. Nothing is pickled.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import gmpy2

from fedsilo.crypto.entropy import Entropy
from fedsilo.crypto.paillier_keys import (
    DealtKey,
    KeyShare,
    PaillierPublicKey,
    ThresholdKey,
    check_base,
    check_key_share,
    deal,
    deal_from_primes,
    default_exponent_bits,
    random_safe_prime,
)
from fedsilo.crypto.paillier_knowledge import (
    ContributionProof,
    prove_contribution,
    verify_contribution,
)
from fedsilo.crypto.paillier_proofs import ShareProof, prove_shares, verify_shares
from fedsilo.errors import CryptoError

_DIGIT_BITS = 8  # one table row per byte of alpha: 2^8 entries (the speed/memory sweet spot)


@dataclass(frozen=True)
class Obfuscator:
    """One obfuscator ``value = h_s^alpha mod N²`` and its secret exponent ``alpha``.

    ``alpha`` is the witness of :func:`~fedsilo.crypto.paillier_knowledge.prove_contribution`
    and as secret as the plaintext it hides: it takes no part in ``repr``, ``==`` or
    ``hash``. :func:`encrypt` takes the ``value``s."""

    alpha: int = field(repr=False, compare=False)
    value: int


class Obfuscators:
    """DJN obfuscators ``h_s^alpha mod N²`` from a fixed-base table over a given base.

    ``h_s`` is the key's common :attr:`ThresholdKey.obfuscator_base` (the default when
    ``key`` is a :class:`ThresholdKey`; with a bare :class:`PaillierPublicKey` it must be
    passed, and a :class:`ThresholdKey` refuses any other base: contributions are proven
    relative to the key's). ``alpha`` is uniform in ``[0, 2^exponent_bits)``;
    ``exponent_bits`` defaults to ``⌈|N|/2⌉`` (DJN's length; the module docstring states
    the assumption) and may be larger, never smaller.

    The table holds ``h_s^{d·2^{8k}}`` for every byte position ``k`` of ``alpha`` and every
    byte value ``d``, so one obfuscator is the product of one entry per byte of ``alpha``:
    ``⌈exponent_bits/8⌉`` multiplications mod ``N²`` and no squarings (128 at 2048 bits,
    192 at 3072, against ~3000-4600 for ``r^N``). It costs ``255·⌈exponent_bits/8⌉``
    multiplications to build and ``256·⌈exponent_bits/8⌉`` residues to hold (≈17 MB at
    2048 bits, ≈38 MB at 3072). One instance serves one key; every draw is fresh.
    """

    def __init__(
        self,
        key: ThresholdKey | PaillierPublicKey,
        entropy: Entropy,
        *,
        base: int | None = None,
        exponent_bits: int | None = None,
    ) -> None:
        public = key.public if isinstance(key, ThresholdKey) else key
        if isinstance(key, ThresholdKey):
            if base is not None and base != key.obfuscator_base:
                raise CryptoError("obfuscators for a threshold key use its obfuscator base")
            base = key.obfuscator_base
        if base is None:
            raise CryptoError("obfuscators over a bare public key need an explicit base")
        check_base(public, base, "the obfuscator base")
        shortest = default_exponent_bits(public)
        bits = shortest if exponent_bits is None else exponent_bits
        if not shortest <= bits <= 2 * public.bits:
            raise CryptoError(
                f"an obfuscator exponent has {shortest}..{2 * public.bits} bits "
                f"for a {public.bits}-bit key, not {bits}"
            )
        started = time.perf_counter()
        n2 = gmpy2.mpz(public.n_squared)
        self._public = public
        self._entropy = entropy
        self._bits = bits
        self._n2 = n2
        self._base = gmpy2.mpz(base)
        self._rows = _fixed_base_table(self._base, -(-bits // _DIGIT_BITS), n2)
        self._top_mask = (1 << (bits - _DIGIT_BITS * (len(self._rows) - 1))) - 1
        self._table_seconds = time.perf_counter() - started

    @property
    def exponent_bits(self) -> int:
        """The length of every ``alpha``."""
        return self._bits

    @property
    def table_seconds(self) -> float:
        """How long building the table took (wall clock)."""
        return self._table_seconds

    @property
    def base(self) -> int:
        """``h_s``, the fixed base (the key's obfuscator base)."""
        return int(self._base)

    def draw(self, count: int) -> list[Obfuscator]:
        """``count`` fresh obfuscators with their exponents (one entropy draw for all).

        Pass ``[o.value for o in …]`` to :func:`encrypt` and ``[o.alpha for o in …]`` to
        :func:`~fedsilo.crypto.paillier_knowledge.prove_contribution`, then drop both."""
        if count < 0:
            raise CryptoError("cannot draw a negative number of obfuscators")
        width = len(self._rows)
        data = self._entropy.random_bytes(width * count)
        n2, rows, top = self._n2, self._rows, self._top_mask
        out = []
        for offset in range(0, width * count, width):
            digits = bytearray(data[offset : offset + width])  # byte k is alpha's k-th digit
            digits[-1] &= top
            acc: Any = None
            for row, digit in zip(rows, digits, strict=True):
                if digit:
                    acc = row[digit] if acc is None else acc * row[digit] % n2
            value = 1 if acc is None else int(acc)
            out.append(Obfuscator(alpha=int.from_bytes(digits, "little"), value=value))
        return out


def _fixed_base_table(base: Any, rows: int, n2: Any) -> list[list[Any]]:
    """``table[k][d] = base^{d·256^k} mod n2`` for ``k < rows``, ``d < 256``."""
    table = []
    power = base
    for _ in range(rows):
        row = [gmpy2.mpz(1), power]
        for _ in range(2, 1 << _DIGIT_BITS):
            row.append(row[-1] * power % n2)
        table.append(row)
        power = row[-1] * power % n2  # base^{256^{k+1}}
    return table


def encrypt(
    public: PaillierPublicKey, plaintexts: Sequence[int], obfuscators: Sequence[int]
) -> list[int]:
    """``(1 + m·N)·r mod N²`` for each plaintext ``m ∈ [0, N)`` and its own obfuscator.

    Every call needs the ``value``s of fresh obfuscators (:meth:`Obfuscators.draw`; keep
    their ``alpha``s for the contribution proof): reusing one links
    the two ciphertexts (their quotient is an encryption of the plaintexts' difference
    with no randomness)."""
    if len(plaintexts) != len(obfuscators):
        raise CryptoError(f"{len(plaintexts)} plaintexts but {len(obfuscators)} obfuscators")
    n, n2 = gmpy2.mpz(public.n), gmpy2.mpz(public.n_squared)
    out = []
    for m, rho in zip(plaintexts, obfuscators, strict=True):
        if not 0 <= m < n:
            raise CryptoError("a Paillier plaintext lies outside [0, N)")
        if not 0 < rho < n2:
            raise CryptoError("an obfuscator lies outside [1, N²)")
        # (1 + mN)·r = r + N·(mr mod N)  (mod N²): one short product instead of a long one
        c = rho + n * (m * rho % n)
        out.append(int(c - n2 if c >= n2 else c))
    return out


def aggregate(public: PaillierPublicKey, vectors: Sequence[Sequence[int]]) -> list[int]:
    """The elementwise product mod ``N²``: an encryption of the elementwise sum."""
    if not vectors:
        raise CryptoError("nothing to aggregate")
    length = len(vectors[0])
    if any(len(v) != length for v in vectors):
        raise CryptoError("ciphertext vectors of different lengths cannot be aggregated")
    n2 = gmpy2.mpz(public.n_squared)
    out = []
    for column in zip(*vectors, strict=True):
        acc = gmpy2.mpz(column[0])
        for c in column[1:]:
            acc = acc * c % n2
        out.append(int(acc))
    return out


def decryption_shares(key: ThresholdKey, share: KeyShare, ciphertexts: Sequence[int]) -> list[int]:
    """Silo ``share.index``'s shares ``c^{2Δ s_i} mod N²``: the full exponent, one powmod each.

    Each share is returned as its canonical representative ``min(x, N² - x)`` (which
    :func:`verify_shares` requires). Refuses ciphertexts that are not units in
    ``[1, N²)``. gmpy2's list call releases the GIL, so a caller may split a vector
    across threads."""
    key.check_index(share.index)
    public = key.public
    if not all(public.is_unit(c) for c in ciphertexts):
        raise CryptoError("a ciphertext to decrypt is outside [1, N²) or not a unit mod N")
    exponent = gmpy2.mpz(2 * key.delta * share.value)
    n2 = gmpy2.mpz(public.n_squared)
    powers = gmpy2.powmod_base_list(list(ciphertexts), exponent, n2)
    return [int(min(x, n2 - x)) for x in powers]


def lagrange_at_zero(indices: Sequence[int], delta: int) -> dict[int, int]:
    """``λ_j = Δ·Π_{j'≠j} (-j')/(j - j')`` for each ``j`` of ``indices`` (exact integers)."""
    coefficients: dict[int, int] = {}
    for j in indices:
        numerator, denominator = delta, 1
        for other in indices:
            if other != j:
                numerator *= -other
                denominator *= j - other
        quotient, remainder = divmod(numerator, denominator)
        if remainder:
            raise CryptoError("Δ does not clear the Lagrange denominators of these silos")
        coefficients[j] = quotient
    return coefficients


def combine(key: ThresholdKey, shares: Mapping[int, Sequence[int]]) -> list[int]:
    """The plaintexts from ``t`` silos' share vectors (the ``t`` lowest indices).

    Give it **only shares that passed** :func:`verify_shares`. Refuses fewer than ``t``
    silos, unknown indices and vectors of different lengths, and raises
    :class:`CryptoError` when the combination is not ``≡ 1 (mod N)``; that check catches
    only some false shares: a share multiplied by ``(1 + N)^y`` passes it and shifts the
    plaintext by an amount its sender chose (the module docstring).
    """
    for index in shares:
        key.check_index(index)
    if len(shares) < key.threshold:
        raise CryptoError(
            f"decryption needs the shares of {key.threshold} silos, got {len(shares)}"
        )
    chosen = sorted(shares)[: key.threshold]
    vectors = [shares[j] for j in chosen]
    if any(len(v) != len(vectors[0]) for v in vectors):
        raise CryptoError("the silos' share vectors have different lengths")
    lambdas = lagrange_at_zero(chosen, key.delta)
    exponents = [2 * lambdas[j] for j in chosen]
    n = gmpy2.mpz(key.public.n)
    n2 = gmpy2.mpz(key.public.n_squared)
    inverse = gmpy2.invert(4 * key.delta * key.delta, n)
    out = []
    for column in zip(*vectors, strict=True):
        try:
            acc = gmpy2.mpz(1)
            for value, exponent in zip(column, exponents, strict=True):
                acc = acc * gmpy2.powmod(value, exponent, n2) % n2  # λ < 0: via the inverse
        except (ValueError, ZeroDivisionError) as exc:
            raise CryptoError("a decryption share is not invertible mod N²") from exc
        if acc % n != 1:
            raise CryptoError("the decryption shares do not combine: one of them is false")
        out.append(int((acc - 1) // n * inverse % n))
    return out


def ciphertexts_to_bytes(public: PaillierPublicKey, ciphertexts: Sequence[int]) -> bytes:
    """Each ciphertext as :attr:`PaillierPublicKey.ciphertext_bytes` big-endian bytes."""
    width, n2 = public.ciphertext_bytes, public.n_squared
    if not all(0 < c < n2 for c in ciphertexts):
        raise CryptoError("a ciphertext lies outside [1, N²)")
    return b"".join(int(c).to_bytes(width, "big") for c in ciphertexts)


def ciphertexts_from_bytes(public: PaillierPublicKey, data: bytes) -> list[int]:
    """The ciphertexts of :func:`ciphertexts_to_bytes`; refuses a length that is not a
    multiple of the width and any value outside ``[1, N²)`` or not a unit mod ``N``."""
    width = public.ciphertext_bytes
    if len(data) % width:
        raise CryptoError(f"{len(data)} bytes are not a whole number of {width}-byte ciphertexts")
    out = [int.from_bytes(data[k : k + width], "big") for k in range(0, len(data), width)]
    for k, c in enumerate(out):
        if not public.is_unit(c):
            raise CryptoError(f"ciphertext {k} is outside [1, N²) or not a unit mod N")
    return out


__all__ = [
    "ContributionProof",
    "DealtKey",
    "KeyShare",
    "Obfuscator",
    "Obfuscators",
    "PaillierPublicKey",
    "ShareProof",
    "ThresholdKey",
    "aggregate",
    "check_key_share",
    "ciphertexts_from_bytes",
    "ciphertexts_to_bytes",
    "combine",
    "deal",
    "deal_from_primes",
    "decryption_shares",
    "default_exponent_bits",
    "encrypt",
    "lagrange_at_zero",
    "prove_contribution",
    "prove_shares",
    "random_safe_prime",
    "verify_contribution",
    "verify_shares",
]
