"""Where randomness comes from.

Every secret a session draws (ephemeral keys, self-mask seeds, Shamir
coefficients, AEAD nonces, stochastic-rounding noise) comes from an injected
:class:`Entropy`, so tests can replay a session bit for bit and can prove
that seeds have full length. Production code uses :class:`SystemEntropy`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Protocol


class Entropy(Protocol):
    """A source of uniformly random bytes."""

    def random_bytes(self, size: int) -> bytes:
        """Return ``size`` uniformly random bytes."""
        ...


class SystemEntropy:
    """The operating system's CSPRNG (``os.urandom``), asked afresh for every draw.

    ``source`` exists so that a test can watch the draws through a recording fake
    (:class:`fedsilo.testing.entropy.RecordingSource`); production never passes one."""

    def __init__(self, source: Callable[[int], bytes] = os.urandom) -> None:
        self._source = source

    @property
    def source(self) -> Callable[[int], bytes]:
        """What every draw asks: ``os.urandom`` unless a test said otherwise."""
        return self._source

    def random_bytes(self, size: int) -> bytes:
        return self._source(size)
