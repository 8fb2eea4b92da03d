from __future__ import annotations

import pytest

from fedsilo.crypto import aead
from fedsilo.crypto.encoding import encode
from fedsilo.errors import DecryptionError
from fedsilo.testing.entropy import RecordingEntropy, SeededEntropy

KEY = bytes(range(32))
AD = encode("fedsilo/v1/share-ad", ("fed", b"d", b"s", 1), "share-keys", 1, 2)


def test_sealed_payload_opens_with_the_same_associated_data() -> None:
    sealed = aead.seal(KEY, b"secret", AD, SeededEntropy(1))
    assert aead.open_sealed(KEY, sealed, AD) == b"secret"


def test_nonce_is_a_fresh_96_bit_draw() -> None:
    entropy = RecordingEntropy(SeededEntropy(2))
    sealed = aead.seal(KEY, b"secret", AD, entropy)
    assert [len(d) for d in entropy.draws] == [12]
    assert sealed[1:13] == entropy.draws[0]


@pytest.mark.parametrize(
    "other_ad",
    [
        encode("fedsilo/v1/share-ad", ("fed", b"d", b"s", 1), "share-keys", 2, 1),  # reversed
        encode("fedsilo/v1/share-ad", ("fed", b"d", b"t", 1), "share-keys", 1, 2),  # session
        encode("fedsilo/v1/share-ad", ("fed", b"d", b"s", 1), "unmasking", 1, 2),  # stage
    ],
)
def test_payload_moved_to_another_context_fails_to_open(other_ad: bytes) -> None:
    sealed = aead.seal(KEY, b"secret", AD, SeededEntropy(3))
    with pytest.raises(DecryptionError):
        aead.open_sealed(KEY, sealed, other_ad)


def test_flipped_ciphertext_bit_fails_to_open() -> None:
    sealed = bytearray(aead.seal(KEY, b"secret", AD, SeededEntropy(4)))
    sealed[-1] ^= 1
    with pytest.raises(DecryptionError):
        aead.open_sealed(KEY, bytes(sealed), AD)
