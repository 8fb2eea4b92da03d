"""Word vectors as bytes: raw little-endian words, whole words only.

A protected vector travels and rests as its words' little-endian bytes (uploads,
the released sum's downloads, the journal); these are the only conversions, so
every party reads the same bytes the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fedsilo.crypto.prg import UIntArray, word_dtype
from fedsilo.errors import RemoteProtocolError


def words_to_bytes(values: UIntArray) -> bytes:
    """Raw little-endian bytes of a word vector."""
    return values.astype(values.dtype.newbyteorder("<"), copy=False).tobytes()


def bytes_to_words(data: bytes | bytearray, bits: int) -> UIntArray:
    """Words from raw little-endian bytes; refuses a length that is not whole words."""
    dtype = word_dtype(bits).newbyteorder("<")
    if len(data) % dtype.itemsize:
        raise RemoteProtocolError(
            f"a chunk of {len(data)} bytes is not a whole number of {bits}-bit words"
        )
    return np.frombuffer(data, dtype=dtype).astype(word_dtype(bits), copy=False)


def inputs_bytes(inputs: Sequence[tuple[int, UIntArray]]) -> bytes:
    """The survivors' masked vectors, concatenated in survivor order, as fetched."""
    return b"".join(words_to_bytes(words) for _, words in inputs)


def masked_inputs(
    data: bytes | bytearray, survivors: Sequence[int], length: int, bits: int
) -> tuple[tuple[int, UIntArray], ...]:
    """Split fetched :func:`inputs_bytes` back into ``(survivor, y_u)`` pairs."""
    words = bytes_to_words(data, bits)
    if len(words) != len(survivors) * length:
        raise RemoteProtocolError(
            f"the masked inputs hold {len(words)} words, not {len(survivors)} x {length}"
        )
    return tuple((u, words[i * length : (i + 1) * length]) for i, u in enumerate(survivors))
