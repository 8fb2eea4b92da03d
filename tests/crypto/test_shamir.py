from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedsilo.crypto import shamir
from fedsilo.errors import CryptoError
from fedsilo.testing.entropy import SeededEntropy


def test_field_is_larger_than_2_pow_256() -> None:
    assert shamir.PRIME > 2**256


@given(st.binary(min_size=32, max_size=32), st.integers(3, 7), st.data())
def test_any_t_shares_reconstruct_the_secret(secret: bytes, n: int, data: st.DataObject) -> None:
    t = data.draw(st.integers(1, n))
    shares = shamir.split(secret, t, list(range(1, n + 1)), SeededEntropy(secret))
    for subset in itertools.combinations(shares, t):
        assert shamir.reconstruct(list(subset), t) == secret


def test_fewer_than_t_shares_are_refused() -> None:
    shares = shamir.split(b"s" * 32, 3, [1, 2, 3], SeededEntropy(1))
    with pytest.raises(CryptoError, match="need 3 shares"):
        shamir.reconstruct(shares[:2], 3)


def test_a_tampered_extra_share_is_detected() -> None:
    shares = shamir.split(b"s" * 32, 2, [1, 2, 3], SeededEntropy(2))
    bad = shamir.Share(3, (shares[2].y + 1) % shamir.PRIME)
    with pytest.raises(CryptoError, match="tampered"):
        shamir.reconstruct([shares[0], shares[1], bad], 2)


def test_share_encoding_round_trips_and_refuses_garbage() -> None:
    share = shamir.split(b"s" * 32, 2, [5, 9], SeededEntropy(3))[0]
    assert shamir.Share.from_bytes(share.to_bytes()) == share
    with pytest.raises(CryptoError):
        shamir.Share.from_bytes(b"\x02" + share.to_bytes()[1:])
    with pytest.raises(CryptoError):
        shamir.Share.from_bytes(share.to_bytes()[:-1])


def test_holders_must_be_distinct_and_nonzero() -> None:
    with pytest.raises(CryptoError):
        shamir.split(b"s" * 32, 2, [0, 1], SeededEntropy(4))
    with pytest.raises(CryptoError):
        shamir.split(b"s" * 32, 2, [1, 1], SeededEntropy(4))
