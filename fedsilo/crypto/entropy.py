"""Where randomness comes from.

Every secret a session draws (ephemeral keys, self-mask seeds, Shamir
coefficients, AEAD nonces, stochastic-rounding noise) comes from an injected
:class:`Entropy`, so tests can replay a session bit for bit and can prove
that seeds have full length. Production code uses :class:`SystemEntropy`.
"""

from __future__ import annotations

import os
from typing import Protocol


class Entropy(Protocol):
    """A source of uniformly random bytes."""

    def random_bytes(self, size: int) -> bytes:
        """Return ``size`` uniformly random bytes."""
        ...


class SystemEntropy:
    """The operating system's CSPRNG (``os.urandom``)."""

    def random_bytes(self, size: int) -> bytes:
        return os.urandom(size)
