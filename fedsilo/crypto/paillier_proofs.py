"""Batched proofs that a silo's decryption shares are ``c_k^{2Δ s_i}`` (``PROTOCOLS.md`` §2).

Silo ``i`` claims ``c_{i,k} = c_k^{2Δ s_i} mod N²`` for a whole vector ``c_1..c_m``.
Proving each element with Shoup's equality-of-discrete-logs proof would cost two
full-length exponentiations per ciphertext; instead the silo proves one statement
about random linear combinations (the small-exponent batch test of Bellare, Garay and
Rabin, made non-interactive):

* ``rho_k`` (128 bits each) are derived from everything the statement mentions:
  ``X = enc("fedsilo/paillier/batch/v1", ctx, N, v, i, v_i, m, [c_1..c_m],
  [c_{i,1}..c_{i,m}])`` with :func:`fedsilo.crypto.encoding.encode` (the two vectors are
  two sequence fields of integers); ``rho_k`` is the ``k``-th 16-byte block, read
  big-endian, of the single output ``SHAKE256(X)`` of ``16·m`` bytes (``k = 1..m``).
* ``C = Π c_k^{rho_k}`` and ``C_i = Π c_{i,k}^{rho_k}`` mod ``N²`` (:func:`multi_power`).
* Shoup's proof that ``log_{C⁴}(C_i²) = log_v(v_i)`` (``= Δ s_i``): ``r`` uniform of
  ``|N²| + |Δ| + 2·128`` bits, ``a = (C⁴)^r``, ``b = v^r``, ``e`` = the first 16 bytes,
  big-endian, of ``SHA-256(enc("fedsilo/paillier/dleq/v1", ctx, N, i, v, v_i, C⁴, C_i²,
  a, b))``, ``z = r + e·Δ·s_i`` over the integers. The verifier checks
  ``(C⁴)^z = a·(C_i²)^e`` and ``v^z = b·v_i^e`` (mod ``N²``).

**Why it is sound.** ``Z*_{N²} ≅ C_N x C_{p'} x C_{q'} x C_2 x C_2``. Squaring kills the
``C_2 x C_2`` part, which is why the statement is about ``C⁴`` and ``C_i²`` (and why
combining uses ``c_j^{2λ_j}``); what is left has order ``NM``, all of whose prime
factors exceed ``2^128``. If some ``c_{i,k}² ≠ c_k^{4Δ s_i}``, the batched statement
still holds for at most a ``2^{-128}`` fraction of the ``rho`` vectors, and ``rho`` is a
hash of the claimed shares, so a cheating silo must search ``≈ 2^128`` hash queries.
Shoup's proof itself is sound when ``v`` generates ``Q_{N²}`` (a random square does,
except with negligible probability), with the usual ``2^{-128}`` Fiat-Shamir error.
**Why it hides ``s_i``.** ``r`` is ``2·128`` bits longer than ``e·Δ·s_i``, so ``z`` is
within statistical distance ``2^{-128}`` of a value independent of ``s_i``.

The verifier refuses shares, ``a`` or ``b`` outside ``[1, N²)`` or not coprime to
``N`` (a non-unit factors ``N``), any share above ``N²/2`` (the statement is about
``c_{i,k}²``, so ``c_{i,k}`` and ``N² - c_{i,k}`` would both verify: only the canonical
``min(c_{i,k}, N² - c_{i,k})`` is accepted, so a valid share vector is unique and
carries no covert bits for anyone who cannot factor ``N``: the other two square roots
of ``c_{i,k}²`` differ from ``±c_{i,k}`` by a square root of 1 that factors ``N``),
and any ``z`` of more than ``|N²| + |Δ| + 384`` bits.
A failed batch rejects the silo's whole vector; every refusal names the silo.

Cost: two 128-bit multi-exponentiations over ``m`` bases (Pippenger's bucket method,
about 20-40 multiplications per base instead of a 128-bit powmod each) plus four
full-length exponentiations per batch, against ``m`` share exponentiations of
``|N²| + |Δ|`` bits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gmpy2

from fedsilo.crypto.encoding import digest, encode
from fedsilo.crypto.entropy import Entropy
from fedsilo.crypto.paillier_keys import KeyShare, ThresholdKey, random_bits
from fedsilo.errors import CryptoError, FalseDecryptionShareError

BATCH_LABEL = "fedsilo/paillier/batch/v1"
DLEQ_LABEL = "fedsilo/paillier/dleq/v1"
CHALLENGE_BITS = 128
"""Bits of every batch weight ``rho_k`` and of the challenge ``e``."""

_WEIGHT_BYTES = CHALLENGE_BITS // 8
_SMALL_BATCH = 8  # below this, one gmpy2 powmod per base beats the bucket method


@dataclass(frozen=True)
class ShareProof:
    """The proof ``(a, b, z)`` for one silo's whole vector of decryption shares."""

    a: int
    b: int
    z: int


def nonce_bits(key: ThresholdKey) -> int:
    """``|r| = |N²| + |Δ| + 2·128``: the prover's nonce length."""
    return key.public.n_squared.bit_length() + key.delta.bit_length() + 2 * CHALLENGE_BITS


def max_response_bits(key: ThresholdKey) -> int:
    """``|N²| + |Δ| + 384``: the longest ``z`` a verifier accepts."""
    return key.public.n_squared.bit_length() + key.delta.bit_length() + 384


def batch_weights(
    key: ThresholdKey,
    index: int,
    context: bytes,
    ciphertexts: Sequence[int],
    shares: Sequence[int],
) -> list[int]:
    """``rho_1..rho_m``: the 16-byte blocks of ``SHAKE256(enc(batch label, …))``, big-endian."""
    count = len(ciphertexts)
    data = encode(
        BATCH_LABEL,
        context,
        key.public.n,
        key.v,
        index,
        key.verification_key(index),
        count,
        [int(c) for c in ciphertexts],
        [int(s) for s in shares],
    )
    return weights_of(data, count)


def weights_of(statement: bytes, count: int) -> list[int]:
    """``count`` batch weights of 128 bits: the 16-byte blocks, big-endian, of the one
    output ``SHAKE256(statement)`` of ``16·count`` bytes."""
    stream = hashlib.shake_256(statement).digest(_WEIGHT_BYTES * count)
    step = _WEIGHT_BYTES
    return [int.from_bytes(stream[k : k + step], "big") for k in range(0, len(stream), step)]


def challenge(
    key: ThresholdKey, index: int, context: bytes, c4: int, ci2: int, a: int, b: int
) -> int:
    """``e``: the first 128 bits, big-endian, of ``SHA-256(enc(dleq label, ctx, N, i, v,
    v_i, C⁴, C_i², a, b))``."""
    fields = (key.public.n, index, key.v, key.verification_key(index), c4, ci2, a, b)
    hashed = digest(DLEQ_LABEL, context, *(int(x) for x in fields))
    return int.from_bytes(hashed[:_WEIGHT_BYTES], "big")


def multi_power(bases: Sequence[int], exponents: Sequence[int], modulus: int) -> int:
    """``Π bases[k]^exponents[k] mod modulus`` for non-negative exponents.

    Pippenger's bucket method: per ``w``-bit window every base is multiplied into the
    bucket of its digit, the buckets are summed (in the exponent) by a running product,
    and the accumulator is raised to ``2^w``; ``w`` minimises the multiplication count.
    """
    if len(bases) != len(exponents):
        raise CryptoError(f"{len(bases)} bases but {len(exponents)} exponents")
    if any(e < 0 for e in exponents):
        raise CryptoError("a multi-exponentiation takes non-negative exponents")
    mod = gmpy2.mpz(modulus)
    if len(bases) < _SMALL_BATCH:
        product = gmpy2.mpz(1)
        for base, exponent in zip(bases, exponents, strict=True):
            product = product * gmpy2.powmod(base, exponent, mod) % mod
        return int(product)
    bits = max(e.bit_length() for e in exponents)
    width = _bucket_width(len(bases), bits)
    mask = (1 << width) - 1
    values = [gmpy2.mpz(b) % mod for b in bases]
    result = gmpy2.mpz(1)
    top = max(0, (bits - 1) // width * width)
    for shift in range(top, -1, -width):
        result = gmpy2.powmod(result, 1 << width, mod)
        buckets: list[Any] = [None] * (mask + 1)
        for value, exponent in zip(values, exponents, strict=True):
            digit = (exponent >> shift) & mask
            if digit:
                held = buckets[digit]
                buckets[digit] = value if held is None else held * value % mod
        result = result * _sum_buckets(buckets, mod) % mod
    return int(result)


def _sum_buckets(buckets: list[Any], mod: Any) -> Any:
    """``Π_d bucket_d^d``, by running products from the top digit down (2 per digit)."""
    running: Any = None
    total: Any = gmpy2.mpz(1)
    for bucket in reversed(buckets[1:]):
        if bucket is not None:
            running = bucket if running is None else running * bucket % mod
        if running is not None:
            total = total * running % mod
    return total


def _bucket_width(count: int, bits: int) -> int:
    def cost(width: int) -> int:
        return -(-bits // width) * (count + 2 * (1 << width))

    return min(range(1, 17), key=cost)


def prove_shares(
    key: ThresholdKey,
    share: KeyShare,
    context: bytes,
    ciphertexts: Sequence[int],
    shares: Sequence[int],
    entropy: Entropy,
) -> ShareProof:
    """Prove that ``shares[k] = ciphertexts[k]^{2Δ s_i}`` for all ``k`` (the module docstring)."""
    index = share.index
    _check_lengths(key, index, ciphertexts, shares)
    n2 = gmpy2.mpz(key.public.n_squared)
    c4, ci2 = _combined(key, index, context, ciphertexts, shares)
    r = 0
    while not r:  # powmod_sec needs a positive exponent (r = 0: negligible)
        r = random_bits(nonce_bits(key), entropy)
    # r is as secret as s_i (z - r reveals e·Δ·s_i): exponentiate it in constant time
    a = int(gmpy2.powmod_sec(c4, r, n2))
    b = int(gmpy2.powmod_sec(key.v, r, n2))
    e = challenge(key, index, context, c4, ci2, a, b)
    return ShareProof(a=a, b=b, z=r + e * key.delta * share.value)


def verify_shares(
    key: ThresholdKey,
    index: int,
    context: bytes,
    ciphertexts: Sequence[int],
    shares: Sequence[int],
    proof: ShareProof,
) -> None:
    """Raise :class:`~fedsilo.errors.FalseDecryptionShareError` naming silo ``index``
    unless ``proof`` proves ``shares`` (:class:`CryptoError` for vectors of another length).

    ``ciphertexts`` are the verifier's own (it recomputed their product); everything
    else came from silo ``index`` and is checked before any exponentiation."""
    _check_lengths(key, index, ciphertexts, shares)
    public = key.public
    half = public.n_squared // 2
    for k, value in enumerate(shares):
        if not public.is_unit(value):
            raise FalseDecryptionShareError(
                f"silo {index}'s decryption share {k} is outside [1, N²) or not a unit mod N",
                index,
            )
        if value > half:
            raise FalseDecryptionShareError(
                f"silo {index}'s decryption share {k} is not canonical (above N²/2)", index
            )
    if not (public.is_unit(proof.a) and public.is_unit(proof.b)):
        raise FalseDecryptionShareError(
            f"silo {index}'s share proof commits to a value outside [1, N²) or not a unit",
            index,
        )
    if proof.z < 0 or proof.z.bit_length() > max_response_bits(key):
        raise FalseDecryptionShareError(
            f"silo {index}'s share proof has a response of {proof.z.bit_length()} bits "
            f"(at most {max_response_bits(key)} are accepted)",
            index,
        )
    n2 = gmpy2.mpz(public.n_squared)
    c4, ci2 = _combined(key, index, context, ciphertexts, shares)
    e = challenge(key, index, context, c4, ci2, proof.a, proof.b)
    same_log_of_c = gmpy2.powmod(c4, proof.z, n2) == proof.a * gmpy2.powmod(ci2, e, n2) % n2
    same_log_of_v = (
        gmpy2.powmod(key.v, proof.z, n2)
        == proof.b * gmpy2.powmod(key.verification_key(index), e, n2) % n2
    )
    if not (same_log_of_c and same_log_of_v):
        raise FalseDecryptionShareError(f"silo {index}'s decryption shares fail their proof", index)


def _combined(
    key: ThresholdKey,
    index: int,
    context: bytes,
    ciphertexts: Sequence[int],
    shares: Sequence[int],
) -> tuple[int, int]:
    """``(C⁴, C_i²)`` for the batch weights of this statement."""
    n2 = key.public.n_squared
    weights = batch_weights(key, index, context, ciphertexts, shares)
    big_c = multi_power(ciphertexts, weights, n2)
    big_ci = multi_power(shares, weights, n2)
    return int(gmpy2.powmod(big_c, 4, n2)), int(gmpy2.powmod(big_ci, 2, n2))


def _check_lengths(
    key: ThresholdKey, index: int, ciphertexts: Sequence[int], shares: Sequence[int]
) -> None:
    key.check_index(index)
    if not ciphertexts or len(ciphertexts) != len(shares):
        raise CryptoError(
            f"silo {index} has {len(shares)} decryption shares for {len(ciphertexts)} "
            "ciphertexts (one per ciphertext, at least one)"
        )
