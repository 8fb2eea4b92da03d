"""Feldman VSS: any t valid shares reconstruct, every false share is caught, and the
group is the one its published derivation gives."""

from __future__ import annotations

import itertools
from dataclasses import replace

import gmpy2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedsilo.crypto import feldman, group
from fedsilo.errors import CryptoError
from fedsilo.testing.entropy import SeededEntropy


def test_the_group_is_the_one_derived_from_its_published_seed() -> None:
    assert group.derive_parameters() == (group.P, group.Q, group.G)


def test_the_group_has_prime_order_q_with_the_claimed_sizes() -> None:
    assert group.P.bit_length() == 3072 and group.Q.bit_length() == 256
    assert gmpy2.is_prime(group.P, 64) and gmpy2.is_prime(group.Q, 64)
    assert (group.P - 1) % group.Q == 0
    assert group.G != 1 and group.power(group.G, group.Q) == 1


@given(st.integers(0, group.Q - 1), st.integers(3, 6), st.data())
def test_any_t_valid_shares_reconstruct_the_secret(
    secret: int, n: int, data: st.DataObject
) -> None:
    t = data.draw(st.integers(1, n))
    shares, commitments = feldman.deal(secret, t, list(range(1, n + 1)), SeededEntropy(secret))
    for share in shares:
        feldman.verify_share(share, commitments)
    for subset in itertools.combinations(shares, t):
        assert feldman.reconstruct(list(subset), t) == secret


def test_a_share_changed_in_any_way_fails_the_check() -> None:
    shares, commitments = feldman.deal(12345, 3, [1, 2, 3, 4], SeededEntropy(1))
    share = shares[1]
    for forged in (replace(share, y=(share.y + 1) % group.Q), replace(share, x=3)):
        with pytest.raises(CryptoError, match="does not match the dealer's commitments"):
            feldman.verify_share(forged, commitments)


def test_a_share_checked_against_another_dealers_commitments_fails() -> None:
    shares, _ = feldman.deal(1, 3, [1, 2, 3], SeededEntropy(1))
    _, other = feldman.deal(1, 3, [1, 2, 3], SeededEntropy(2))
    with pytest.raises(CryptoError):
        feldman.verify_share(shares[0], other)


def test_the_commitment_to_the_secret_is_g_to_the_secret() -> None:
    _, commitments = feldman.deal(777, 2, [1, 2], SeededEntropy(1))
    assert commitments.values[0] == group.power_of_g(777)


def test_shares_and_commitments_round_trip_and_refuse_malformed_bytes() -> None:
    shares, commitments = feldman.deal(99, 3, [1, 2, 3], SeededEntropy(1))
    assert feldman.Share.from_bytes(shares[0].to_bytes()) == shares[0]
    assert feldman.Commitments.from_bytes(commitments.to_bytes(), 3) == commitments
    with pytest.raises(CryptoError, match="wrong length or version"):
        feldman.Share.from_bytes(shares[0].to_bytes()[:-1])
    with pytest.raises(CryptoError, match="not below the group order"):
        feldman.Share.from_bytes(b"\x02\x00\x01" + b"\xff" * 32)
    with pytest.raises(CryptoError, match="for threshold 2"):
        feldman.Commitments.from_bytes(commitments.to_bytes(), 2)
    with pytest.raises(CryptoError, match=r"outside \[1, p\)"):
        feldman.Commitments.from_bytes(bytes(3 * group.ELEMENT_BYTES), 3)


def test_fewer_than_t_shares_or_a_repeated_holder_are_refused() -> None:
    shares, _ = feldman.deal(5, 3, [1, 2, 3], SeededEntropy(1))
    with pytest.raises(CryptoError, match="need 3 shares"):
        feldman.reconstruct(shares[:2], 3)
    with pytest.raises(CryptoError, match="same holder"):
        feldman.reconstruct([shares[0], shares[0], shares[1]], 3)


def test_random_scalars_are_below_q() -> None:
    entropy = SeededEntropy(3)
    assert all(0 <= feldman.random_scalar(entropy) < group.Q for _ in range(200))
