"""Proofs that a silo knows the plaintexts of its own contribution (``PROTOCOLS.md`` §2).

**Why.** Paillier ciphertexts are malleable. The decrypting silos check that the vector
they decrypt is the product of signed contributions of at least ``max(t, min_silos)``
distinct silos, but a colluding silo ``C`` that was relayed ``c_B`` and ``c_D`` can sign
``Enc(x)·(c_B c_D)⁻¹`` (rerandomised, so it looks like any other ciphertext) as its
own: the product of ``A``, ``B``, ``C`` and ``D``'s contributions then decrypts to
``a + x``, and the aggregator and ``C`` read silo ``A``'s update. The defence is
that every contribution carries a zero-knowledge proof that its signer knows its
plaintexts (and obfuscator exponents), bound to the session context and the signer's
index, and every decrypting silo verifies all of them before it shares. ``C`` does not
know ``b + d``, so it cannot prove its forged contribution; it cannot borrow ``B``'s
proof either, which names ``B`` and ``B``'s ciphertexts.

**Statement.** For silo ``u`` and ``c_1..c_m``: ``c_k = (1 + N)^{m_k} · h_s^{alpha_k}
mod N²`` with ``h_s`` the key's common :attr:`~ThresholdKey.obfuscator_base` (this is
exactly what :func:`fedsilo.crypto.paillier.encrypt` produces with obfuscators drawn
by :class:`~fedsilo.crypto.paillier.Obfuscators`).

* Weights: ``rho_k`` = the ``k``-th 16-byte block, big-endian, of
  ``SHAKE256(enc("fedsilo/paillier/contribution/v1", ctx, N, h_s, u, m, [c_1..c_m]))``
  (:func:`fedsilo.crypto.encoding.encode`). ``C = Π c_k^{rho_k} mod N²``,
  ``M = Σ rho_k m_k mod N`` and ``A = Σ rho_k alpha_k`` (an integer of at most
  ``exponent_bits + 128 + ⌈log2 m⌉`` bits), so ``C = (1 + N)^M · h_s^A``.
* Prover: ``x`` uniform in ``[0, N)``, ``beta`` uniform of ``|A| + 128 + 128`` bits
  (``|A|`` the bound above), ``a = (1 + N)^x · h_s^beta mod N²``; ``e`` = the first 128
  bits, big-endian, of ``SHA-256(enc("fedsilo/paillier/contribution-pok/v1", ctx, N,
  h_s, u, C, a))``; ``z1 = (x + e·M) mod N``, ``z2 = beta + e·A`` over the integers.
* Verifier: refuses ``m = 0``, any ``c_k`` that is not a unit in ``[1, N²)``, ``a`` not
  a unit in ``[1, N²)``, ``z1`` outside ``[0, N)``, ``z2 < 0`` or longer than
  ``|beta| + 1`` bits; then checks ``(1 + N)^{z1} · h_s^{z2} ≡ a · C^e (mod N²)``.
  ``(1 + N)`` has order ``N``, so reducing ``z1`` mod ``N`` is harmless.

**Why it is sound.** ``Z*_{N²} = G_N x R`` with ``G_N = ⟨1 + N⟩`` (order ``N``) and
``R`` the ``N``-th residues; write ``C = (1 + N)^{M'}·w`` with ``w ∈ R``. Two accepting
answers ``(z1, z2)``, ``(z1', z2')`` to challenges ``e ≠ e'`` for the same ``a`` give
``(1 + N)^{z1 - z1'} · h_s^{z2 - z2'} = C^{e - e'}``; as ``h_s ∈ R`` (``h_s = h^N`` for
the key's published root ``h``: anyone can see it), the ``G_N`` parts give
``M' = (z1 - z1')·(e - e')⁻¹ mod N`` (``0 < |e - e'| < 2^128`` is invertible mod ``N``,
all of whose prime factors are larger). So whoever answers two challenges knows the
plaintext of ``C``, with no assumption beyond the random oracle. Rewinding the weights
(a hash of all ``c_k``, ``u`` and ``ctx``) to ``m`` vectors that are linearly
independent mod ``N`` (all but a negligible fraction are) yields every ``m_k``. For
the exponents, ``w^{e - e'} = h_s^{z2 - z2'}`` gives ``w = h_s^{A'}`` only under the
strong RSA assumption and up to an element of order 2 (the usual slack in a group of
unknown order); the defence needs only the plaintexts. The base must be common: if
each silo declared its own base, ``C`` could declare ``(c_B c_D)⁻¹``, which is not in
``R``, and "know" an opening of its forgery. A ciphertext made over any other base (an
ordinary ``r^N``, or another ``h'_s``) cannot be proven with the exponents its author
knows. ``u``, ``ctx``, ``N`` and ``h_s`` are hashed into both the weights and ``e``,
so a proof is valid for one silo, one session, one key and one exact vector (order
and length included).

**Why it hides the plaintexts.** ``z1`` is uniform in ``[0, N)`` whatever ``M`` is;
``beta`` is ``2^128`` times longer than ``e·A``, so ``z2`` is within statistical
distance ``2^{-128}`` of a value independent of ``A``; ``a`` is a fresh encryption of
``x``. A simulator picks ``z1``, ``z2`` and ``e`` and sets ``a`` (random oracle).

Cost: one 128-bit multi-exponentiation over ``m`` bases and one exponentiation of
``|beta|`` bits (``≈ |N|/2 + 385``) for either side, plus a 128-bit one for the
verifier: far below the ``m`` encryptions it accompanies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import gmpy2

from fedsilo.crypto.encoding import digest, encode
from fedsilo.crypto.entropy import Entropy
from fedsilo.crypto.paillier_keys import (
    ThresholdKey,
    default_exponent_bits,
    random_below,
    random_bits,
)
from fedsilo.crypto.paillier_proofs import CHALLENGE_BITS, multi_power, weights_of
from fedsilo.errors import CryptoError

STATEMENT_LABEL = "fedsilo/paillier/contribution/v1"
CHALLENGE_LABEL = "fedsilo/paillier/contribution-pok/v1"
_WEIGHT_BYTES = CHALLENGE_BITS // 8


@dataclass(frozen=True)
class ContributionProof:
    """The proof ``(a, z1, z2)`` that a silo knows the openings of its contribution."""

    a: int
    z1: int
    z2: int


def combined_exponent_bits(exponent_bits: int, count: int) -> int:
    """The bound on ``|A|``: ``exponent_bits + 128 + ⌈log2 m⌉``."""
    return exponent_bits + CHALLENGE_BITS + (count - 1).bit_length()


def nonce_bits(exponent_bits: int, count: int) -> int:
    """``|beta|``: the bound on ``|A|`` plus ``2·128`` bits."""
    return combined_exponent_bits(exponent_bits, count) + 2 * CHALLENGE_BITS


def max_response_bits(exponent_bits: int, count: int) -> int:
    """The longest ``z2`` a verifier accepts: ``|beta| + 1`` (``beta + e·A < 2^{|beta|+1}``)."""
    return nonce_bits(exponent_bits, count) + 1


def contribution_weights(
    key: ThresholdKey, index: int, context: bytes, ciphertexts: Sequence[int]
) -> list[int]:
    """``rho_1..rho_m``: the 16-byte blocks, big-endian, of ``SHAKE256(enc(statement label,
    ctx, N, h_s, u, m, [c_1..c_m]))``."""
    count = len(ciphertexts)
    data = encode(
        STATEMENT_LABEL,
        context,
        key.public.n,
        key.obfuscator_base,
        index,
        count,
        [int(c) for c in ciphertexts],
    )
    return weights_of(data, count)


def contribution_challenge(key: ThresholdKey, index: int, context: bytes, c: int, a: int) -> int:
    """``e``: the first 128 bits, big-endian, of ``SHA-256(enc(challenge label, ctx, N, h_s,
    u, C, a))``."""
    fields = (key.public.n, key.obfuscator_base, index, int(c), int(a))
    return int.from_bytes(digest(CHALLENGE_LABEL, context, *fields)[:_WEIGHT_BYTES], "big")


def prove_contribution(
    key: ThresholdKey,
    index: int,
    context: bytes,
    ciphertexts: Sequence[int],
    plaintexts: Sequence[int],
    alphas: Sequence[int],
    entropy: Entropy,
    *,
    exponent_bits: int | None = None,
) -> ContributionProof:
    """Prove that silo ``index`` knows ``plaintexts`` and ``alphas`` with
    ``ciphertexts[k] = (1 + N)^{plaintexts[k]} · h_s^{alphas[k]} mod N²`` (module docstring).

    ``exponent_bits`` is the obfuscators' exponent length (default ``⌈|N|/2⌉``); the
    verifier must be given the same. The witness is not checked: a wrong one gives a
    proof that fails verification."""
    key.check_index(index)
    bits = _exponent_bits(key, exponent_bits)
    count = len(ciphertexts)
    if not count or len(plaintexts) != count or len(alphas) != count:
        raise CryptoError(
            f"a contribution proof needs one plaintext and one exponent per ciphertext "
            f"(at least one): {count} ciphertexts, {len(plaintexts)} plaintexts, "
            f"{len(alphas)} exponents"
        )
    n = key.public.n
    if not all(0 <= m < n for m in plaintexts):
        raise CryptoError("a contribution plaintext lies outside [0, N)")
    if not all(0 <= alpha < 1 << bits for alpha in alphas):
        raise CryptoError(f"an obfuscator exponent lies outside [0, 2^{bits})")
    n2 = gmpy2.mpz(key.public.n_squared)
    weights = contribution_weights(key, index, context, ciphertexts)
    big_c = multi_power(ciphertexts, weights, key.public.n_squared)
    big_m = sum(rho * m for rho, m in zip(weights, plaintexts, strict=True)) % n
    big_a = sum(rho * alpha for rho, alpha in zip(weights, alphas, strict=True))
    x = random_below(n, entropy)
    beta = 0
    while not beta:  # powmod_sec needs a positive exponent (beta = 0: negligible)
        beta = random_bits(nonce_bits(bits, count), entropy)
    # (1 + N)^x = 1 + xN (mod N²); beta is as secret as A: exponentiate in constant time
    a = int((1 + x * n) * gmpy2.powmod_sec(key.obfuscator_base, beta, n2) % n2)
    e = contribution_challenge(key, index, context, big_c, a)
    return ContributionProof(a=a, z1=(x + e * big_m) % n, z2=beta + e * big_a)


def verify_contribution(
    key: ThresholdKey,
    index: int,
    context: bytes,
    ciphertexts: Sequence[int],
    proof: ContributionProof,
    *,
    exponent_bits: int | None = None,
) -> None:
    """Raise :class:`CryptoError` naming silo ``index`` unless ``proof`` shows that silo
    ``index`` knows the openings of ``ciphertexts`` over the key's obfuscator base, in
    this ``context``. Everything from the silo is range-checked before any
    exponentiation."""
    key.check_index(index)
    bits = _exponent_bits(key, exponent_bits)
    public, count = key.public, len(ciphertexts)
    if not count:
        raise CryptoError(f"silo {index}'s contribution is empty")
    for k, c in enumerate(ciphertexts):
        if not public.is_unit(c):
            raise CryptoError(
                f"silo {index}'s contribution: ciphertext {k} is outside [1, N²) or not a unit"
            )
    if not public.is_unit(proof.a):
        raise CryptoError(
            f"silo {index}'s contribution proof commits to a value outside [1, N²) or not a unit"
        )
    if not 0 <= proof.z1 < public.n:
        raise CryptoError(f"silo {index}'s contribution proof has a first response outside [0, N)")
    longest = max_response_bits(bits, count)
    if proof.z2 < 0 or proof.z2.bit_length() > longest:
        raise CryptoError(
            f"silo {index}'s contribution proof has a second response outside [0, 2^{longest})"
        )
    n, n2 = gmpy2.mpz(public.n), gmpy2.mpz(public.n_squared)
    weights = contribution_weights(key, index, context, ciphertexts)
    big_c = multi_power(ciphertexts, weights, public.n_squared)
    e = contribution_challenge(key, index, context, big_c, proof.a)
    left = (1 + proof.z1 * n) * gmpy2.powmod(key.obfuscator_base, proof.z2, n2) % n2
    right = proof.a * gmpy2.powmod(big_c, e, n2) % n2
    if left != right:
        raise CryptoError(f"silo {index}'s contribution fails its proof of plaintext knowledge")


def _exponent_bits(key: ThresholdKey, exponent_bits: int | None) -> int:
    shortest = default_exponent_bits(key.public)
    bits = shortest if exponent_bits is None else exponent_bits
    if not shortest <= bits <= 2 * key.public.bits:
        raise CryptoError(
            f"an obfuscator exponent has {shortest}..{2 * key.public.bits} bits "
            f"for a {key.public.bits}-bit key, not {bits}"
        )
    return bits
