"""Deterministic and recording entropy sources for tests."""

from __future__ import annotations

import hashlib

import numpy as np

from fedsilo.crypto.prg import Keystream


class SeededEntropy:
    """A reproducible stream of random bytes: ChaCha20 keyed by SHA-256 of the seed."""

    def __init__(self, *seed: int | str | bytes) -> None:
        key = hashlib.sha256(repr(seed).encode()).digest()
        self._stream = Keystream(key, 32)

    def random_bytes(self, size: int) -> bytes:
        words = np.empty((size + 3) // 4, dtype=np.uint32)
        self._stream.fill(words)
        return words.tobytes()[:size]


class RecordingSource:
    """Stands in for ``os.urandom`` behind :class:`~fedsilo.crypto.entropy.SystemEntropy`:
    remembers each request and answers with bytes of its own seeded stream, different on
    every call."""

    def __init__(self, *seed: int | str | bytes) -> None:
        self._stream = SeededEntropy("recording-source", *seed)
        self.sizes: list[int] = []
        self.answers: list[bytes] = []

    def __call__(self, size: int) -> bytes:
        answer = self._stream.random_bytes(size)
        self.sizes.append(size)
        self.answers.append(answer)
        return answer


class RecordingEntropy:
    """Wraps another source and records every draw (to assert on seed lengths)."""

    def __init__(self, inner: SeededEntropy) -> None:
        self._inner = inner
        self.draws: list[bytes] = []

    def random_bytes(self, size: int) -> bytes:
        data = self._inner.random_bytes(size)
        self.draws.append(data)
        return data


class TruncatedEntropy:
    """A deliberately broken source: only ``bits`` bits of every draw are random.

    Used to show that an attacker who can enumerate seeds reads a silo's input,
    which is why real seeds are full 256-bit draws.
    """

    def __init__(self, bits: int, inner: SeededEntropy) -> None:
        self._bits, self._inner = bits, inner

    def random_bytes(self, size: int) -> bytes:
        value = int.from_bytes(self._inner.random_bytes(4), "big") % (1 << self._bits)
        return value.to_bytes(size, "big") if size >= 4 else bytes(size)
