"""Masks: a ChaCha20 keystream read as uniform integers mod 2^k.

Reading the keystream as little-endian k-bit words gives integers that are
exactly uniform mod 2^k (no modulo bias: 2^k divides the keystream space).
The stream is seekable: the RFC 7539 block counter is set from the word
offset, so any chunk of a mask can be drawn on its own. Drawing uses
``update_into`` on reused buffers, so no per-element Python work is done.

Each key is used for one mask only (keys are derived per session, pair and
purpose), so the nonce is fixed at zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms

from fedsilo.errors import CryptoError

BLOCK_BYTES = 64
MAX_STREAM_BYTES = (1 << 32) * BLOCK_BYTES  # 32-bit block counter
DEFAULT_CHUNK_WORDS = 1 << 16  # 256 KiB of uint32: stays in cache
_ZEROS = memoryview(bytes(1 << 20))

UIntArray = npt.NDArray[np.unsignedinteger]


def word_dtype(bits: int) -> np.dtype[np.unsignedinteger]:
    """The numpy dtype of integers mod 2^bits (bits = 32 or 64)."""
    if bits == 32:
        return np.dtype(np.uint32)
    if bits == 64:
        return np.dtype(np.uint64)
    raise CryptoError(f"the mask modulus is 2^32 or 2^64, not 2^{bits}")


class Keystream:
    """A sequential reader of one key's keystream, starting at a word offset."""

    def __init__(self, key: bytes, bits: int, offset: int = 0) -> None:
        if len(key) != 32:
            raise CryptoError(f"a keystream key is 32 bytes, got {len(key)}")
        self._word_bytes = word_dtype(bits).itemsize
        start = offset * self._word_bytes
        if offset < 0 or start >= MAX_STREAM_BYTES:
            raise CryptoError(f"keystream offset {offset} is out of range")
        block, skip = divmod(start, BLOCK_BYTES)
        nonce = block.to_bytes(4, "little") + bytes(12)
        self._cipher: CipherContext = Cipher(algorithms.ChaCha20(key, nonce), mode=None).encryptor()
        self._position = start
        if skip:
            self._cipher.update(bytes(skip))

    def fill(self, out: UIntArray) -> None:
        """Overwrite ``out`` (contiguous) with the next ``len(out)`` words."""
        target = out.reshape(-1).view(np.uint8).data
        total = len(target)
        if self._position + total > MAX_STREAM_BYTES:
            raise CryptoError("a mask longer than 256 GiB exceeds the ChaCha20 counter")
        done = 0
        while done < total:
            step = min(total - done, len(_ZEROS))
            self._cipher.update_into(_ZEROS[:step], target[done : done + step])
            done += step
        self._position += total


def keystream_words(key: bytes, bits: int, count: int, offset: int = 0) -> UIntArray:
    """``count`` words of ``key``'s keystream from word ``offset`` (allocates)."""
    out = np.empty(count, dtype=word_dtype(bits))
    Keystream(key, bits, offset).fill(out)
    return out


@dataclass(frozen=True)
class SignedMask:
    """A keystream to add (``sign = +1``) or subtract (``sign = -1``) mod 2^k."""

    key: bytes
    sign: int


def apply_masks(
    vector: UIntArray,
    masks: Sequence[SignedMask],
    bits: int,
    offset: int = 0,
    chunk_words: int = DEFAULT_CHUNK_WORDS,
) -> None:
    """Add or subtract every mask into ``vector`` in place, mod 2^bits.

    ``vector`` holds the words at positions ``offset .. offset + len``. Work
    goes chunk by chunk so each chunk stays in cache while all masks pass
    over it; unsigned numpy arithmetic wraps, which *is* reduction mod 2^k.
    """
    dtype = word_dtype(bits)
    if vector.dtype != dtype:
        raise CryptoError(f"masked vectors are {dtype}, got {vector.dtype}")
    streams = [(Keystream(m.key, bits, offset), m.sign) for m in masks]
    if any(sign not in (1, -1) for _, sign in streams):
        raise CryptoError("a mask sign is +1 or -1")
    scratch = np.empty(min(chunk_words, max(len(vector), 1)), dtype=dtype)
    for start in range(0, len(vector), chunk_words):
        chunk = vector[start : start + chunk_words]
        pad = scratch[: len(chunk)]
        for stream, sign in streams:
            stream.fill(pad)
            if sign > 0:
                np.add(chunk, pad, out=chunk)
            else:
                np.subtract(chunk, pad, out=chunk)
