"""Threshold Paillier: encryption decrypts through any t shares, t - 1 shares pin nothing,
every false share is caught and named, and the wire encoding refuses what is not a
ciphertext. Keys are the TEST-ONLY primes of ``tests/vectors/paillier_test_keys.json``."""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
from dataclasses import replace

import gmpy2
import phe
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedsilo.crypto import paillier, paillier_keys
from fedsilo.crypto.encoding import encode
from fedsilo.crypto.paillier import (
    DealtKey,
    KeyShare,
    Obfuscators,
    PaillierPublicKey,
    ShareProof,
    ThresholdKey,
)
from fedsilo.crypto.paillier_proofs import batch_weights, max_response_bits, multi_power
from fedsilo.errors import CryptoError, FalseDecryptionShareError
from fedsilo.testing.entropy import RecordingEntropy, SeededEntropy
from tests.crypto.paillier_fixtures import CONTEXT, keys_document, primes


@functools.cache
def dealt(bits: int = 512, silos: int = 5, threshold: int = 3) -> DealtKey:
    p, q = primes(bits)
    entropy = SeededEntropy("test-deal", bits, silos, threshold)
    return paillier.deal_from_primes(p, q, silos=silos, threshold=threshold, entropy=entropy)


@functools.cache
def obfuscators(bits: int = 512) -> Obfuscators:
    return Obfuscators(dealt(bits).key, SeededEntropy("test-obfuscators", bits))


def values(drawn: list[paillier.Obfuscator]) -> list[int]:
    return [o.value for o in drawn]


def encrypt(plaintexts: list[int], bits: int = 512) -> list[int]:
    public = dealt(bits).key.public
    return paillier.encrypt(public, plaintexts, values(obfuscators(bits).draw(len(plaintexts))))


def shares_of(dealing: DealtKey, silos: list[int], ciphertexts: list[int]) -> dict[int, list[int]]:
    key = dealing.key
    return {i: paillier.decryption_shares(key, dealing.shares[i - 1], ciphertexts) for i in silos}


def decrypt(ciphertexts: list[int], bits: int = 512) -> list[int]:
    dealing = dealt(bits)
    silos = list(range(1, dealing.key.threshold + 1))
    return paillier.combine(dealing.key, shares_of(dealing, silos, ciphertexts))


def proven(
    bits: int = 1024, silo: int = 2, count: int = 3
) -> tuple[list[int], list[int], ShareProof]:
    """Ciphertexts, silo ``silo``'s honest shares of them and its honest proof."""
    dealing = dealt(bits)
    ciphertexts = encrypt(list(range(10, 10 + count)), bits)
    share = dealing.shares[silo - 1]
    shares = paillier.decryption_shares(dealing.key, share, ciphertexts)
    proof = paillier.prove_shares(
        dealing.key, share, CONTEXT, ciphertexts, shares, SeededEntropy("proof", silo)
    )
    return ciphertexts, shares, proof


def plaintext_lists(bits: int = 512) -> st.SearchStrategy[list[int]]:
    n = dealt(bits).key.public.n
    return st.lists(st.integers(0, n - 1), min_size=1, max_size=4)


# -- encryption and decryption ------------------------------------------------------------


@given(plaintext_lists())
def test_encryption_decrypts_through_t_shares_to_the_plaintext(plaintexts: list[int]) -> None:
    assert decrypt(encrypt(plaintexts)) == plaintexts


@given(plaintext_lists())
def test_ciphertexts_decrypt_with_phe_private_key_built_from_the_primes(
    plaintexts: list[int],
) -> None:
    p, q = primes(512)
    public = phe.PaillierPublicKey(p * q)
    private = phe.PaillierPrivateKey(public, p, q)
    assert [private.raw_decrypt(c) for c in encrypt(plaintexts)] == plaintexts


@given(st.integers(1, 4), st.data())
def test_the_product_of_ciphertext_vectors_decrypts_to_the_elementwise_sum(
    count: int, data: st.DataObject
) -> None:
    public = dealt().key.public
    length = data.draw(st.integers(1, 3))
    vectors = [
        data.draw(st.lists(st.integers(0, public.n - 1), min_size=length, max_size=length))
        for _ in range(count)
    ]
    product = paillier.aggregate(public, [encrypt(v) for v in vectors])
    assert decrypt(product) == [sum(column) % public.n for column in zip(*vectors, strict=True)]


def test_any_t_of_l_silos_decrypt() -> None:
    dealing = dealt(512, silos=5, threshold=3)
    ciphertexts = encrypt([0, 1, 424242])
    every = shares_of(dealing, [1, 2, 3, 4, 5], ciphertexts)
    for subset in itertools.combinations(range(1, 6), 3):
        chosen = {i: every[i] for i in subset}
        assert paillier.combine(dealing.key, chosen) == [0, 1, 424242], subset


def test_combine_uses_exactly_the_t_lowest_silos() -> None:
    dealing = dealt()
    ciphertexts = encrypt([77])
    shares = shares_of(dealing, [1, 2, 4], ciphertexts)
    shares[5] = [12345]  # garbage from a silo beyond the t lowest is never touched
    assert paillier.combine(dealing.key, shares) == [77]


def test_combine_refuses_fewer_than_t_silos() -> None:
    dealing = dealt()
    shares = shares_of(dealing, [1, 4], encrypt([5]))
    with pytest.raises(CryptoError, match="needs the shares of 3 silos, got 2"):
        paillier.combine(dealing.key, shares)


def test_combine_refuses_shares_that_do_not_decrypt() -> None:
    dealing = dealt()
    ciphertexts = encrypt([5])
    shares = shares_of(dealing, [1, 2, 3], ciphertexts)
    shares[2] = [shares[2][0] * 2 % dealing.key.public.n_squared]
    with pytest.raises(CryptoError, match="do not combine"):
        paillier.combine(dealing.key, shares)


def test_combine_is_no_safety_net_a_share_times_a_power_of_one_plus_n_shifts_the_plaintext() -> (
    None
):
    """Why only verified shares may reach combine: its mod-N check passes a share times
    ``(1 + N)^y``, and the sender picks the shift; verify_shares refuses that share."""
    dealing = dealt(512, silos=5, threshold=4)
    key, n, n2 = dealing.key, dealing.key.public.n, dealing.key.public.n_squared
    ciphertexts = encrypt([1000, 2000])
    chosen = [1, 2, 3, 4]
    shares = shares_of(dealing, chosen, ciphertexts)
    lam = paillier.lagrange_at_zero(chosen, key.delta)[3]
    y = 31337 * 4 * key.delta**2 * pow(2 * lam, -1, n) % n
    shifted = [shares[3][0] * (1 + y * n) % n2, shares[3][1]]
    shifted = [min(x, n2 - x) for x in shifted]
    assert paillier.combine(key, shares | {3: shifted}) == [1000 + 31337, 2000]
    proof = paillier.prove_shares(
        key, dealing.shares[2], CONTEXT, ciphertexts, shifted, SeededEntropy("shift")
    )
    with pytest.raises(FalseDecryptionShareError, match="silo 3's decryption shares fail"):
        paillier.verify_shares(key, 3, CONTEXT, ciphertexts, shifted, proof)


def test_t_minus_1_shares_are_consistent_with_another_plaintext() -> None:
    """A coalition of silos 1 and 2 (t = 3) holds points of ``f``; a polynomial through
    the same two points and ``(0, d')`` for any other ``d'`` is just as likely (uniform
    coefficients over ``Z_{NM}``), and with ``d'`` chosen for it, the same two decryption
    shares complete to a second plaintext. The coalition's shares pin neither."""
    dealing = dealt(512, silos=5, threshold=3)
    key, (p, q) = dealing.key, primes(512)
    n, m = key.public.n, ((p - 1) // 2) * ((q - 1) // 2)
    m0, m1 = 1234, 98765
    ciphertexts = encrypt([m0])
    coalition = shares_of(dealing, [1, 2], ciphertexts)
    honest = shares_of(dealing, [3], ciphertexts)
    assert paillier.combine(key, coalition | honest) == [m0]

    ratio = m1 * pow(m0, -1, n) % n
    other_secret = m * (pow(m, -1, n) * ratio % n)  # ≡ 0 mod M, ≡ m1/m0 mod N
    points = {0: other_secret, 1: dealing.shares[0].value, 2: dealing.shares[1].value}
    third = KeyShare(3, _interpolate(points, 3, n * m))
    completed = coalition | {3: paillier.decryption_shares(key, third, ciphertexts)}
    assert paillier.combine(key, completed) == [m1]
    assert third.value != dealing.shares[2].value


def _interpolate(points: dict[int, int], at: int, modulus: int) -> int:
    total = 0
    for x, y in points.items():
        num = den = 1
        for other in points:
            if other != x:
                num, den = num * (at - other), den * (x - other)
        total += y * num * pow(den, -1, modulus)
    return total % modulus


def test_the_share_exponent_is_the_full_two_delta_s_i_in_canonical_form() -> None:
    dealing = dealt()
    key, share, n2 = dealing.key, dealing.shares[3], dealing.key.public.n_squared
    ciphertexts = encrypt([9, 10, 11, 12])
    powers = [pow(c, 2 * key.delta * share.value, n2) for c in ciphertexts]
    assert paillier.decryption_shares(key, share, ciphertexts) == [min(x, n2 - x) for x in powers]


def test_decryption_shares_refuse_a_non_unit_ciphertext() -> None:
    dealing = dealt()
    p, _ = primes(512)
    with pytest.raises(CryptoError, match="not a unit"):
        paillier.decryption_shares(dealing.key, dealing.shares[0], [p])


# -- batched share proofs ---------------------------------------------------------------


def test_an_honest_batched_proof_verifies() -> None:
    ciphertexts, shares, proof = proven(silo=2, count=12)  # ≥ 8: the bucket method
    paillier.verify_shares(dealt(1024).key, 2, CONTEXT, ciphertexts, shares, proof)


def test_a_corrupted_share_fails_its_proof_naming_the_silo_and_the_rest_still_combine() -> None:
    dealing = dealt(1024)
    key = dealing.key
    ciphertexts = encrypt([31, 41, 59], 1024)
    shares = shares_of(dealing, [1, 2, 3, 4], ciphertexts)
    proofs = {
        i: paillier.prove_shares(
            key, dealing.shares[i - 1], CONTEXT, ciphertexts, shares[i], SeededEntropy(i)
        )
        for i in shares
    }
    shares[3] = [shares[3][0], shares[3][1] * shares[3][1] % key.public.n_squared, shares[3][2]]
    with pytest.raises(FalseDecryptionShareError, match=r"silo 3's .* fail their proof") as error:
        paillier.verify_shares(key, 3, CONTEXT, ciphertexts, shares[3], proofs[3])
    assert error.value.silo == 3  # named, so the session can leave it out
    good = {}
    for i in (1, 2, 4):
        paillier.verify_shares(key, i, CONTEXT, ciphertexts, shares[i], proofs[i])
        good[i] = shares[i]
    assert paillier.combine(key, good) == [31, 41, 59]


def test_a_proof_for_another_context_fails() -> None:
    ciphertexts, shares, proof = proven()
    with pytest.raises(
        FalseDecryptionShareError, match="silo 2's decryption shares fail their proof"
    ):
        paillier.verify_shares(dealt(1024).key, 2, b"another round", ciphertexts, shares, proof)


def test_a_proof_for_another_ciphertext_vector_fails() -> None:
    _, shares, proof = proven()
    other = encrypt([10, 11, 12], 1024)
    with pytest.raises(
        FalseDecryptionShareError, match="silo 2's decryption shares fail their proof"
    ):
        paillier.verify_shares(dealt(1024).key, 2, CONTEXT, other, shares, proof)


def test_a_proof_for_another_silo_fails() -> None:
    ciphertexts, shares, proof = proven(silo=2)
    with pytest.raises(
        FalseDecryptionShareError, match="silo 1's decryption shares fail their proof"
    ):
        paillier.verify_shares(dealt(1024).key, 1, CONTEXT, ciphertexts, shares, proof)


def test_a_response_longer_than_the_bound_is_refused() -> None:
    key = dealt(1024).key
    ciphertexts, shares, proof = proven()
    long_z = replace(proof, z=proof.z + (1 << max_response_bits(key)))
    with pytest.raises(FalseDecryptionShareError, match="silo 2's share proof has a response of"):
        paillier.verify_shares(key, 2, CONTEXT, ciphertexts, shares, long_z)
    with pytest.raises(FalseDecryptionShareError, match="silo 2's share proof has a response"):
        paillier.verify_shares(key, 2, CONTEXT, ciphertexts, shares, replace(proof, z=-proof.z))


def test_a_negated_share_is_not_canonical_and_is_refused_naming_the_silo() -> None:
    """``c_{i,k}`` and ``N² - c_{i,k}`` have the same square: only the canonical one (at
    most ``N²/2``, what decryption_shares returns) is accepted, so the vector is unique."""
    dealing = dealt(1024)
    key, share, n2 = dealing.key, dealing.shares[0], dealing.key.public.n_squared
    ciphertexts = encrypt([9, 10, 11], 1024)
    honest = paillier.decryption_shares(key, share, ciphertexts)
    assert all(x <= n2 // 2 for x in honest)
    flipped = [n2 - x if k == 1 else x for k, x in enumerate(honest)]
    proof = paillier.prove_shares(key, share, CONTEXT, ciphertexts, flipped, SeededEntropy("f"))
    with pytest.raises(
        FalseDecryptionShareError, match="silo 1's decryption share 1 is not canonical"
    ) as error:
        paillier.verify_shares(key, 1, CONTEXT, ciphertexts, flipped, proof)
    assert error.value.silo == 1


def test_a_non_unit_share_is_refused() -> None:
    key = dealt(1024).key
    p, _ = primes(1024)
    ciphertexts, shares, proof = proven()
    with pytest.raises(FalseDecryptionShareError, match="silo 2's decryption share 1 is outside"):
        paillier.verify_shares(key, 2, CONTEXT, ciphertexts, [shares[0], p, shares[2]], proof)


def test_a_share_outside_one_to_n_squared_is_refused() -> None:
    key = dealt(1024).key
    n2 = key.public.n_squared
    ciphertexts, shares, proof = proven()
    for bad in (0, -1, n2, n2 + 1):
        with pytest.raises(
            FalseDecryptionShareError, match="silo 2's decryption share 0 is outside"
        ):
            paillier.verify_shares(key, 2, CONTEXT, ciphertexts, [bad, *shares[1:]], proof)


def test_a_commitment_that_is_not_a_unit_is_refused() -> None:
    key = dealt(1024).key
    ciphertexts, shares, proof = proven()
    for forged in (replace(proof, a=key.public.n), replace(proof, b=0)):
        with pytest.raises(
            FalseDecryptionShareError, match="silo 2's share proof commits to a value"
        ):
            paillier.verify_shares(key, 2, CONTEXT, ciphertexts, shares, forged)


def test_a_share_vector_of_the_wrong_length_is_refused() -> None:
    ciphertexts, shares, proof = proven()
    with pytest.raises(CryptoError, match="silo 2 has 2 decryption shares for 3 ciphertexts"):
        paillier.verify_shares(dealt(1024).key, 2, CONTEXT, ciphertexts, shares[:2], proof)


def test_batch_weights_are_the_16_byte_blocks_of_one_shake256_output() -> None:
    key = dealt(1024).key
    ciphertexts, shares, _ = proven(count=3)
    statement = encode(
        "fedsilo/paillier/batch/v1",
        CONTEXT,
        key.public.n,
        key.v,
        2,
        key.verification_keys[1],
        3,
        ciphertexts,
        shares,
    )
    stream = hashlib.shake_256(statement).digest(48)
    expected = [int.from_bytes(stream[k : k + 16], "big") for k in (0, 16, 32)]
    assert batch_weights(key, 2, CONTEXT, ciphertexts, shares) == expected


@given(st.integers(1, 20), st.data())
def test_multi_power_is_the_product_of_the_powers(count: int, data: st.DataObject) -> None:
    modulus = dealt().key.public.n_squared
    bases = data.draw(st.lists(st.integers(1, modulus - 1), min_size=count, max_size=count))
    exponents = data.draw(st.lists(st.integers(0, 2**128 - 1), min_size=count, max_size=count))
    expected = math.prod(pow(b, e, modulus) for b, e in zip(bases, exponents, strict=True))
    assert multi_power(bases, exponents, modulus) == expected % modulus


# -- obfuscators and encryption -----------------------------------------------------------


@pytest.mark.parametrize("bits", [512, 1024])
def test_obfuscators_use_the_documented_djn_exponent_length(bits: int) -> None:
    assert obfuscators(bits).exponent_bits == math.ceil(bits / 2)
    with pytest.raises(CryptoError, match="obfuscator exponent"):
        Obfuscators(dealt(bits).key, SeededEntropy(1), exponent_bits=bits // 2 - 1)


def test_two_draws_of_obfuscators_differ() -> None:
    first, second = obfuscators().draw(2), obfuscators().draw(2)
    assert len({*values(first), *values(second)}) == 4
    assert len({o.alpha for o in (*first, *second)}) == 4


def test_an_obfuscator_is_the_key_s_base_to_its_exponent_of_the_documented_length() -> None:
    key = dealt().key
    entropy = RecordingEntropy(SeededEntropy("recorded"))
    source = Obfuscators(key, entropy)
    assert source.base == key.obfuscator_base
    (obfuscator,) = source.draw(1)
    alpha = int.from_bytes(entropy.draws[-1], "little") & ((1 << source.exponent_bits) - 1)
    assert len(entropy.draws[-1]) == source.exponent_bits // 8
    assert obfuscator.alpha == alpha
    assert obfuscator.value == pow(key.obfuscator_base, alpha, key.public.n_squared)


def test_an_obfuscator_repr_hides_its_exponent() -> None:
    (obfuscator,) = obfuscators().draw(1)
    assert str(obfuscator.alpha) not in repr(obfuscator)
    assert str(obfuscator.value) in repr(obfuscator)


def test_obfuscators_for_a_threshold_key_refuse_another_base() -> None:
    key = dealt().key
    other = pow(key.public.n - 4, key.public.n, key.public.n_squared)  # (-2²)^N
    with pytest.raises(CryptoError, match="use its obfuscator base"):
        Obfuscators(key, SeededEntropy(1), base=other)
    with pytest.raises(CryptoError, match="need an explicit base"):
        Obfuscators(key.public, SeededEntropy(1))
    assert Obfuscators(key.public, SeededEntropy(1), base=other).base == other
    with pytest.raises(CryptoError, match="obfuscator base is ±1 mod N"):
        Obfuscators(key.public, SeededEntropy(1), base=1 + key.public.n)


def test_obfuscators_are_nth_residues() -> None:
    p, q = primes(512)
    public = dealt().key.public
    for rho in obfuscators().draw(3):
        assert pow(rho.value, (p - 1) * (q - 1), public.n_squared) == 1
    assert decrypt(encrypt([0, 0])) == [0, 0]


def test_encrypt_refuses_a_plaintext_outside_zero_to_n() -> None:
    public = dealt().key.public
    for plaintext in (public.n, public.n + 5, -1):
        with pytest.raises(CryptoError, match="outside"):
            paillier.encrypt(public, [plaintext], values(obfuscators().draw(1)))


def test_encrypt_refuses_a_missing_obfuscator() -> None:
    public = dealt().key.public
    with pytest.raises(CryptoError, match="2 plaintexts but 1 obfuscators"):
        paillier.encrypt(public, [1, 2], values(obfuscators().draw(1)))


# -- wire encoding ----------------------------------------------------------------------


@given(plaintext_lists())
def test_ciphertexts_round_trip_through_fixed_width_bytes(plaintexts: list[int]) -> None:
    public = dealt().key.public
    ciphertexts = encrypt(plaintexts)
    data = paillier.ciphertexts_to_bytes(public, ciphertexts)
    assert len(data) == len(ciphertexts) * public.ciphertext_bytes == len(ciphertexts) * 128
    assert paillier.ciphertexts_from_bytes(public, data) == ciphertexts


def test_ciphertexts_from_bytes_refuses_a_partial_ciphertext() -> None:
    public = dealt().key.public
    data = paillier.ciphertexts_to_bytes(public, encrypt([1, 2]))
    with pytest.raises(CryptoError, match="not a whole number of 128-byte ciphertexts"):
        paillier.ciphertexts_from_bytes(public, data[:-1])


def test_ciphertexts_from_bytes_refuses_values_out_of_range_or_not_units() -> None:
    public = dealt().key.public
    p, _ = primes(512)
    width = public.ciphertext_bytes
    good = paillier.ciphertexts_to_bytes(public, encrypt([3]))
    for bad in (0, public.n_squared, (1 << (8 * width)) - 1, public.n, p):
        data = good + bad.to_bytes(width, "big")
        with pytest.raises(CryptoError, match="ciphertext 1 is outside"):
            paillier.ciphertexts_from_bytes(public, data)


# -- keys and dealing ------------------------------------------------------------------


def test_the_test_keys_are_marked_test_only_and_are_safe_primes_of_the_stated_size() -> None:
    document = keys_document()
    assert document["test_only"] is True and "TEST-ONLY" in str(document["warning"])
    for bits in (512, 1024):
        p, q = primes(bits)
        assert paillier.PaillierPublicKey(p * q).bits == bits
        for prime in (p, q):
            assert gmpy2.is_prime(prime, 40) and gmpy2.is_prime((prime - 1) // 2, 40)


def test_the_512_bit_test_key_is_the_one_its_generator_derives() -> None:
    from tests.vectors.generate_paillier_keys import primes_for

    assert primes_for(512) == primes(512)


def test_deal_draws_safe_primes_for_a_modulus_of_the_requested_size() -> None:
    dealing = paillier.deal(key_bits=512, silos=3, threshold=2, entropy=SeededEntropy("deal"))
    assert dealing.key.public.bits == 512
    ciphertexts = paillier.encrypt(
        dealing.key.public, [99], values(Obfuscators(dealing.key, SeededEntropy(2)).draw(1))
    )
    shares = shares_of(dealing, [1, 3], ciphertexts)
    assert paillier.combine(dealing.key, shares) == [99]


def test_deal_from_primes_refuses_primes_that_are_not_safe() -> None:
    p, q = primes(512)
    unsafe = int(gmpy2.next_prime(q + 2))
    while gmpy2.is_prime((unsafe - 1) // 2):
        unsafe = int(gmpy2.next_prime(unsafe))
    with pytest.raises(CryptoError, match="safe primes"):
        paillier.deal_from_primes(p, unsafe, silos=3, threshold=2, entropy=SeededEntropy(1))


def test_deal_from_primes_refuses_equal_or_unequal_sized_primes() -> None:
    p, _ = primes(512)
    big, _ = primes(1024)
    for pair in ((p, p), (p, big)):
        with pytest.raises(CryptoError, match="distinct and of the same size"):
            paillier.deal_from_primes(*pair, silos=3, threshold=2, entropy=SeededEntropy(1))


@pytest.mark.parametrize(("silos", "threshold"), [(3, 0), (3, 4), (0, 0)])
def test_deal_refuses_a_threshold_outside_one_to_l(silos: int, threshold: int) -> None:
    p, q = primes(512)
    with pytest.raises(CryptoError):
        paillier.deal_from_primes(p, q, silos=silos, threshold=threshold, entropy=SeededEntropy(1))


def test_the_dealt_secret_is_zero_mod_m_and_one_mod_n() -> None:
    dealing = dealt()
    p, q = primes(512)
    n, m = p * q, ((p - 1) // 2) * ((q - 1) // 2)
    lambdas = paillier.lagrange_at_zero([1, 2, 3], dealing.key.delta)
    secret_times_delta = sum(lambdas[j] * dealing.shares[j - 1].value for j in (1, 2, 3))
    assert secret_times_delta % (n * m) == dealing.key.delta * (m * pow(m, -1, n)) % (n * m)


def test_verification_keys_are_v_to_the_delta_s_i() -> None:
    dealing = dealt()
    key = dealing.key
    for share in dealing.shares:
        assert key.verification_keys[share.index - 1] == pow(
            key.v, key.delta * share.value, key.public.n_squared
        )
        paillier.check_key_share(key, share)
    with pytest.raises(CryptoError, match="silo 1 does not match"):
        paillier.check_key_share(key, KeyShare(1, dealing.shares[1].value))


def test_a_key_share_repr_hides_its_value() -> None:
    share = dealt().shares[0]
    assert str(share.value) not in repr(share) and str(share.value) not in repr(dealt())


def test_a_key_share_s_hash_and_equality_do_not_depend_on_its_value() -> None:
    """A dataclass hash of ``(index, s_i)`` is invertible: it would leak ``s_i mod 2^61 - 1``."""
    secret = 0x1234_5678_9ABC_DEF0_1122_3344_5566_7788_99AA_BBCC_DDEE_FF00_1357_9BDF
    assert hash(KeyShare(3, secret)) == hash(KeyShare(3, secret + 1)) == hash(KeyShare(3, 0))
    assert KeyShare(3, secret) == KeyShare(3, 1) and KeyShare(3, secret) != KeyShare(2, secret)


def test_the_dealt_obfuscator_base_is_an_nth_residue_drawn_after_the_rest_of_the_deal() -> None:
    p, q = primes(512)
    key = dealt().key
    n2 = key.public.n_squared
    assert pow(key.obfuscator_base, (p - 1) * (q - 1), n2) == 1  # an N-th residue
    entropy = SeededEntropy("test-deal", 512, 5, 3)
    for _ in range(2):  # a_1, a_2
        paillier_keys.random_below(key.public.n * ((p - 1) // 2) * ((q - 1) // 2), entropy)
    root = paillier_keys.random_unit(key.public.n, entropy)
    root += key.public.n * paillier_keys.random_below(key.public.n, entropy)
    assert key.v == pow(root, 2, n2)  # v is drawn as before the base existed
    x = paillier_keys.random_unit(key.public.n, entropy)
    assert key.obfuscator_root == -x * x % key.public.n


def _with(key: ThresholdKey, **changes: object) -> ThresholdKey:
    return replace(key, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["one", "one_plus_n", "minus_one", "jacobi_minus_one"])
def test_a_threshold_key_refuses_a_degenerate_verification_base(kind: str) -> None:
    """With ``v = 1`` or ``v = 1 + N`` a silo "proves" false shares; refused at load."""
    dealing = dealt(512, silos=5, threshold=4)
    key = dealing.key
    n, n2 = key.public.n, key.public.n_squared
    p, _ = primes(512)
    sigma = _order_two_with_jacobi_minus_one(p, n // p)
    base = {"one": 1, "one_plus_n": 1 + n, "minus_one": n2 - 1, "jacobi_minus_one": sigma}[kind]
    keys = tuple(pow(base, key.delta * s.value, n2) for s in dealing.shares)
    with pytest.raises(CryptoError, match="verification base v"):
        ThresholdKey(key.public, base, keys, 4, 5, key.obfuscator_root)


def _order_two_with_jacobi_minus_one(p: int, q: int) -> int:
    """The square root of 1 that is 1 mod ``p`` and -1 mod ``q`` (Jacobi symbol -1)."""
    return (1 + p * ((-2 * pow(p, -1, q)) % q)) % (p * q)


def test_a_threshold_key_refuses_degenerate_or_repeated_verification_keys() -> None:
    key = dealt().key
    n = key.public.n
    keys = list(key.verification_keys)
    with pytest.raises(CryptoError, match="verification key of silo 2 is ±1 mod N"):
        _with(key, verification_keys=(keys[0], 1 + 5 * n, *keys[2:]))
    with pytest.raises(CryptoError, match="two silos have the same verification key"):
        _with(key, verification_keys=(keys[0], keys[0], *keys[2:]))
    with pytest.raises(CryptoError, match="verification key of silo 1 is not a unit"):
        _with(key, verification_keys=(n, *keys[1:]))


def test_a_threshold_key_refuses_a_degenerate_obfuscator_root() -> None:
    key = dealt().key
    n = key.public.n
    p, _ = primes(512)
    sigma = _order_two_with_jacobi_minus_one(p, n // p)
    for bad, reason in (
        (1, "is ±1 mod N"),
        (n - 1, "is ±1 mod N"),
        (p, "is not a unit"),
        (0, "is not a unit"),
        (sigma, "has Jacobi symbol -1"),
        (n + 2, "h is not below N"),
    ):
        with pytest.raises(CryptoError, match=f"obfuscator root (h )?{reason}"):
            _with(key, obfuscator_root=bad)


def test_the_obfuscator_base_is_the_n_th_power_of_the_published_root() -> None:
    """So anyone can check that it is an N-th residue, without trusting the dealer."""
    key = dealt().key
    n, n2 = key.public.n, key.public.n_squared
    assert key.obfuscator_base == pow(key.obfuscator_root, n, n2)


def test_a_threshold_key_refuses_a_missing_verification_key() -> None:
    key = dealt().key
    with pytest.raises(CryptoError, match="5 verification keys, not 4"):
        ThresholdKey(key.public, key.v, key.verification_keys[:4], 3, 5, key.obfuscator_root)


def test_a_public_key_refuses_an_even_or_short_modulus() -> None:
    for n in (2**600, 2**300 + 1):
        with pytest.raises(CryptoError):
            PaillierPublicKey(n)


@pytest.mark.slow
def test_a_real_2048_bit_deal_decrypts_through_verified_shares() -> None:
    dealing = paillier.deal(key_bits=2048, silos=5, threshold=3, entropy=SeededEntropy(2048))
    key = dealing.key
    assert key.public.bits == 2048 and key.public.ciphertext_bytes == 512
    source = Obfuscators(key, SeededEntropy("2048-obfuscators"))
    assert source.exponent_bits == 1024
    ciphertexts = paillier.encrypt(key.public, [0, 2**2000, 7], values(source.draw(3)))
    shares = shares_of(dealing, [2, 4, 5], ciphertexts)
    for i, vector in shares.items():
        share = dealing.shares[i - 1]
        proof = paillier.prove_shares(key, share, CONTEXT, ciphertexts, vector, SeededEntropy(i))
        paillier.verify_shares(key, i, CONTEXT, ciphertexts, vector, proof)
    assert paillier.combine(key, shares) == [0, 2**2000, 7]
