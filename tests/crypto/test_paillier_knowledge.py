"""Contribution proofs: a silo proves it knows the plaintexts of what it signs, so a
colluder cannot sign a homomorphic function of honest silos' ciphertexts; a proof is
bound to one silo, one context and one exact vector, and malformed proofs are refused.
Keys are the TEST-ONLY primes of ``tests/vectors/paillier_test_keys.json``."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, replace

import pytest

from fedsilo.crypto import paillier
from fedsilo.crypto.encoding import digest, encode
from fedsilo.crypto.paillier import ContributionProof, DealtKey, Obfuscators
from fedsilo.crypto.paillier_knowledge import (
    contribution_challenge,
    contribution_weights,
    max_response_bits,
)
from fedsilo.crypto.paillier_proofs import multi_power
from fedsilo.errors import CryptoError
from fedsilo.testing.entropy import SeededEntropy
from tests.crypto.paillier_fixtures import CONTEXT, primes


@functools.cache
def dealt() -> DealtKey:
    p, q = primes(512)
    entropy = SeededEntropy("test-knowledge-deal")
    return paillier.deal_from_primes(p, q, silos=5, threshold=4, entropy=entropy)


@dataclass(frozen=True)
class Contribution:
    """A silo's ciphertexts, what it knows about them, and its proof."""

    index: int
    ciphertexts: list[int]
    plaintexts: list[int]
    alphas: list[int]
    proof: ContributionProof


def contribute(
    index: int, plaintexts: list[int], source: Obfuscators | None = None
) -> Contribution:
    """What an honest silo does: encrypt with fresh obfuscators and prove knowledge."""
    key = dealt().key
    drawn = (source or Obfuscators(key, SeededEntropy("obf", index))).draw(len(plaintexts))
    ciphertexts = paillier.encrypt(key.public, plaintexts, [o.value for o in drawn])
    alphas = [o.alpha for o in drawn]
    proof = paillier.prove_contribution(
        key, index, CONTEXT, ciphertexts, plaintexts, alphas, SeededEntropy("pok", index)
    )
    return Contribution(index, ciphertexts, plaintexts, alphas, proof)


def decrypt(ciphertexts: list[int]) -> list[int]:
    dealing = dealt()
    chosen = range(1, dealing.key.threshold + 1)
    shares = {
        i: paillier.decryption_shares(dealing.key, dealing.shares[i - 1], ciphertexts)
        for i in chosen
    }
    return paillier.combine(dealing.key, shares)


@pytest.mark.parametrize("count", [1, 3, 12])  # 12 ≥ 8: the bucket multi-exponentiation
def test_an_honest_contribution_proof_verifies(count: int) -> None:
    contribution = contribute(2, list(range(100, 100 + count)))
    paillier.verify_contribution(
        dealt().key, 2, CONTEXT, contribution.ciphertexts, contribution.proof
    )


def test_the_copy_attack_fails_the_colluder_s_proof() -> None:
    """Colluder C (silo 3) signs ``Enc(x)·(c_B c_D)⁻¹`` as its own contribution. Without
    proofs, the product of A, B, C and D's contributions (4 = t distinct silos)
    decrypts to ``a + x``: A's update. With them, C's contribution is refused: all C
    knows is the opening of ``Enc(x)``."""
    key = dealt().key
    n, n2 = key.public.n, key.public.n_squared
    a = contribute(1, [123456789, 42, 7])
    b = contribute(2, [111, 222, 333])
    d = contribute(4, [444, 555, 666])
    fresh = contribute(3, [5, 6, 7])  # the colluder's re-randomiser, honestly made
    forged = [
        f * pow(cb * cd, -1, n2) % n2
        for f, cb, cd in zip(fresh.ciphertexts, b.ciphertexts, d.ciphertexts, strict=True)
    ]
    product = paillier.aggregate(key.public, [a.ciphertexts, b.ciphertexts, forged, d.ciphertexts])
    leaked = [(s - x) % n for s, x in zip(decrypt(product), fresh.plaintexts, strict=True)]
    assert leaked == a.plaintexts  # the attack is real when nothing is proven

    for honest in (a, b, d):
        paillier.verify_contribution(key, honest.index, CONTEXT, honest.ciphertexts, honest.proof)
    proof = paillier.prove_contribution(
        key, 3, CONTEXT, forged, fresh.plaintexts, fresh.alphas, SeededEntropy("colluder")
    )
    with pytest.raises(CryptoError, match="silo 3's contribution fails its proof"):
        paillier.verify_contribution(key, 3, CONTEXT, forged, proof)
    with pytest.raises(CryptoError, match="silo 3's contribution fails its proof"):
        paillier.verify_contribution(key, 3, CONTEXT, forged, fresh.proof)


def test_a_proof_replayed_under_another_silo_s_index_fails() -> None:
    b = contribute(2, [111, 222, 333])
    with pytest.raises(CryptoError, match="silo 3's contribution fails its proof"):
        paillier.verify_contribution(dealt().key, 3, CONTEXT, b.ciphertexts, b.proof)


def test_a_proof_under_another_context_fails() -> None:
    b = contribute(2, [111, 222, 333])
    with pytest.raises(CryptoError, match="silo 2's contribution fails its proof"):
        paillier.verify_contribution(dealt().key, 2, b"another round", b.ciphertexts, b.proof)


def test_a_proof_for_a_permuted_or_truncated_vector_fails() -> None:
    b = contribute(2, [111, 222, 333])
    c = b.ciphertexts
    for vector in ([c[1], c[0], c[2]], c[:2], c[1:], [*c, c[0]]):
        with pytest.raises(CryptoError, match="silo 2's contribution fails its proof"):
            paillier.verify_contribution(dealt().key, 2, CONTEXT, vector, b.proof)


def test_a_ciphertext_over_another_base_cannot_be_proven_even_by_its_author() -> None:
    key = dealt().key
    n, n2 = key.public.n, key.public.n_squared
    other = pow(n - 9, n, n2)  # (-3²)^N: a perfectly good DJN base, but not the key's
    source = Obfuscators(key.public, SeededEntropy("other-base"), base=other)
    contribution = contribute(2, [1, 2, 3], source)
    assert decrypt(contribution.ciphertexts) == [1, 2, 3]  # a valid encryption all the same
    with pytest.raises(CryptoError, match="silo 2's contribution fails its proof"):
        paillier.verify_contribution(key, 2, CONTEXT, contribution.ciphertexts, contribution.proof)


def test_responses_and_commitments_out_of_range_are_refused() -> None:
    key = dealt().key
    n, n2 = key.public.n, key.public.n_squared
    b = contribute(2, [111, 222, 333])
    longest = max_response_bits((key.public.bits + 1) // 2, 3)
    cases = [
        (replace(b.proof, z1=n), "first response outside"),
        (replace(b.proof, z1=-1), "first response outside"),
        (replace(b.proof, z2=-1), "second response outside"),
        (replace(b.proof, z2=1 << longest), "second response outside"),
        (replace(b.proof, a=0), "commits to a value outside"),
        (replace(b.proof, a=n2), "commits to a value outside"),
        (replace(b.proof, a=n), "commits to a value outside"),
    ]
    for proof, reason in cases:
        with pytest.raises(CryptoError, match=f"silo 2's contribution proof .*{reason}"):
            paillier.verify_contribution(key, 2, CONTEXT, b.ciphertexts, proof)


def test_an_empty_or_non_unit_contribution_is_refused() -> None:
    key = dealt().key
    b = contribute(2, [111, 222, 333])
    with pytest.raises(CryptoError, match="silo 2's contribution is empty"):
        paillier.verify_contribution(key, 2, CONTEXT, [], b.proof)
    for bad in (0, key.public.n, key.public.n_squared):
        with pytest.raises(CryptoError, match="silo 2's contribution: ciphertext 1 is outside"):
            paillier.verify_contribution(key, 2, CONTEXT, [b.ciphertexts[0], bad], b.proof)


def test_the_prover_refuses_a_malformed_witness() -> None:
    key = dealt().key
    b = contribute(2, [111, 222, 333])
    entropy = SeededEntropy("refuse")
    with pytest.raises(CryptoError, match="3 ciphertexts, 2 plaintexts, 3 exponents"):
        paillier.prove_contribution(
            key, 2, CONTEXT, b.ciphertexts, b.plaintexts[:2], b.alphas, entropy
        )
    with pytest.raises(CryptoError, match="plaintext lies outside"):
        paillier.prove_contribution(
            key, 2, CONTEXT, b.ciphertexts, [key.public.n, 0, 0], b.alphas, entropy
        )
    with pytest.raises(CryptoError, match="exponent lies outside"):
        paillier.prove_contribution(
            key, 2, CONTEXT, b.ciphertexts, b.plaintexts, [1 << 256, 0, 0], entropy
        )


def test_longer_obfuscator_exponents_are_proven_under_the_same_stated_length() -> None:
    key = dealt().key
    bits = (key.public.bits + 1) // 2 + 64
    drawn = Obfuscators(key, SeededEntropy("long"), exponent_bits=bits).draw(2)
    ciphertexts = paillier.encrypt(key.public, [8, 9], [o.value for o in drawn])
    alphas = [o.alpha for o in drawn]
    proof = paillier.prove_contribution(
        key, 1, CONTEXT, ciphertexts, [8, 9], alphas, SeededEntropy("p"), exponent_bits=bits
    )
    paillier.verify_contribution(key, 1, CONTEXT, ciphertexts, proof, exponent_bits=bits)
    with pytest.raises(CryptoError, match="obfuscator exponent has"):
        paillier.verify_contribution(key, 1, CONTEXT, ciphertexts, proof, exponent_bits=8)


def test_weights_and_challenge_are_the_documented_hashes() -> None:
    key = dealt().key
    b = contribute(2, [111, 222, 333])
    statement = encode(
        "fedsilo/paillier/contribution/v1",
        CONTEXT,
        key.public.n,
        key.obfuscator_base,
        2,
        3,
        b.ciphertexts,
    )
    stream = hashlib.shake_256(statement).digest(48)
    weights = [int.from_bytes(stream[k : k + 16], "big") for k in (0, 16, 32)]
    assert contribution_weights(key, 2, CONTEXT, b.ciphertexts) == weights
    big_c = multi_power(b.ciphertexts, weights, key.public.n_squared)
    fields = (key.public.n, key.obfuscator_base, 2, big_c, b.proof.a)
    hashed = digest("fedsilo/paillier/contribution-pok/v1", CONTEXT, *fields)
    e = contribution_challenge(key, 2, CONTEXT, big_c, b.proof.a)
    assert e == int.from_bytes(hashed[:16], "big")
    # and the verification equation, restated: (1 + N)^z1 · h_s^z2 = a · C^e
    n, n2 = key.public.n, key.public.n_squared
    left = (1 + b.proof.z1 * n) * pow(key.obfuscator_base, b.proof.z2, n2) % n2
    assert left == b.proof.a * pow(big_c, e, n2) % n2
