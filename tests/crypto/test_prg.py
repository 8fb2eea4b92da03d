from __future__ import annotations

from typing import cast

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedsilo.crypto.prg import SignedMask, UIntArray, apply_masks, keystream_words
from fedsilo.errors import CryptoError

KEY = bytes(range(32))


@given(st.integers(0, 5000), st.integers(1, 300), st.sampled_from([32, 64]))
def test_keystream_is_seekable_to_any_word(offset: int, count: int, bits: int) -> None:
    whole = keystream_words(KEY, bits, offset + count)
    assert np.array_equal(keystream_words(KEY, bits, count, offset=offset), whole[offset:])


@given(st.integers(1, 3000), st.integers(1, 700), st.sampled_from([32, 64]))
def test_masks_applied_in_chunks_equal_whole_vector_arithmetic(
    length: int, chunk: int, bits: int
) -> None:
    dtype = np.uint32 if bits == 32 else np.uint64
    vector = cast(UIntArray, np.arange(length, dtype=dtype))
    expected = vector.astype(object) + keystream_words(KEY, bits, length).astype(object)
    expected = expected - keystream_words(bytes(32), bits, length).astype(object)
    masks = [SignedMask(KEY, 1), SignedMask(bytes(32), -1)]
    apply_masks(vector, masks, bits, chunk_words=chunk)
    assert [int(v) for v in vector] == [int(e) % (1 << bits) for e in expected]


def test_adding_then_subtracting_a_mask_restores_the_vector() -> None:
    vector = np.arange(1000, dtype=np.uint32)
    apply_masks(vector, [SignedMask(KEY, 1)], 32, offset=10)
    apply_masks(vector, [SignedMask(KEY, -1)], 32, offset=10)
    assert np.array_equal(vector, np.arange(1000, dtype=np.uint32))


def test_only_two_moduli_are_allowed() -> None:
    with pytest.raises(CryptoError, match="2\\^32 or 2\\^64"):
        keystream_words(KEY, 16, 4)


def test_wrong_dtype_is_refused() -> None:
    with pytest.raises(CryptoError):
        apply_masks(np.zeros(4, dtype=np.int64), [SignedMask(KEY, 1)], 64)
