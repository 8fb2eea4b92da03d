from __future__ import annotations

import pytest

from fedsilo.crypto import kdf
from fedsilo.errors import CryptoError
from fedsilo.testing.entropy import SeededEntropy

SESSION = ("fed", b"digest", b"session", 1)


def pair() -> tuple[bytes, bytes]:
    e = SeededEntropy("kdf")
    a, b = kdf.generate_x25519(e), kdf.generate_x25519(e)
    return (
        kdf.agree(a, kdf.x25519_public_bytes(b)),
        kdf.agree(b, kdf.x25519_public_bytes(a)),
    )


def test_both_ends_of_a_pair_derive_the_same_mask_seed() -> None:
    s_ab, s_ba = pair()
    assert kdf.derive_mask_seed(s_ab, SESSION, 2, 5) == kdf.derive_mask_seed(s_ba, SESSION, 5, 2)


def test_share_keys_differ_by_direction() -> None:
    s, _ = pair()
    assert kdf.derive_share_key(s, SESSION, 2, 5) != kdf.derive_share_key(s, SESSION, 5, 2)


def test_mask_seed_is_bound_to_session_round_and_federation() -> None:
    s, _ = pair()
    base = kdf.derive_mask_seed(s, SESSION, 1, 2)
    assert base != kdf.derive_mask_seed(s, ("fed", b"digest", b"other", 1), 1, 2)
    assert base != kdf.derive_mask_seed(s, ("fed", b"digest", b"session", 2), 1, 2)
    assert base != kdf.derive_mask_seed(s, ("other", b"digest", b"session", 1), 1, 2)


def test_purposes_are_domain_separated() -> None:
    s, _ = pair()
    assert kdf.derive_mask_seed(s, SESSION, 1, 2) != kdf.derive_share_key(s, SESSION, 1, 2)


def test_low_order_public_key_is_refused() -> None:
    key = kdf.generate_x25519(SeededEntropy("lo"))
    with pytest.raises(CryptoError, match="low-order"):
        kdf.agree(key, bytes(32))


def test_wrong_length_public_key_is_refused() -> None:
    key = kdf.generate_x25519(SeededEntropy("lo"))
    with pytest.raises(CryptoError, match="32 bytes"):
        kdf.agree(key, bytes(31))
