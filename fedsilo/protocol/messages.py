"""The messages every scheme shares, as frozen dataclasses.

Every protocol message carries its :class:`SessionContext` (federation, config
digest, session id, round, and the chain head ``H_{r-1}`` the round continues);
a receiver refuses a message whose context is not its own, so messages cannot
be replayed across sessions, rounds or federations. A scheme's own messages
live in its package (masking's: :mod:`fedsilo.protocol.masking.messages`); the
ones here are the scheme-neutral release stage's (:class:`Ack`), what an
aggregator session sends (:class:`Outgoing`) and what a release yields
(:class:`AggregateResult`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fedsilo.crypto.encoding import Field
from fedsilo.crypto.prg import UIntArray


@dataclass(frozen=True)
class SessionContext:
    """What every message of one aggregation session is bound to."""

    federation_id: str
    config_digest: bytes
    session_id: bytes
    round: int
    chain_head: bytes  # H_{r-1}: the verified history this round continues

    def fields(self) -> tuple[Field, ...]:
        """The context as encodable fields (for signatures, KDF info and AEAD data)."""
        return (
            self.federation_id,
            self.config_digest,
            self.session_id,
            self.round,
            self.chain_head,
        )


# --- silo -> aggregator -------------------------------------------------------------


@dataclass(frozen=True)
class Ack:
    """After release: the sender verified round ``r`` and derived the state ``H_r`` covers."""

    context: SessionContext
    sender: int
    head: bytes
    signature: bytes


# --- aggregator -> silo -------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """A message the aggregator sends to silo ``recipient``."""

    recipient: int
    message: Any  # one of its scheme's aggregator messages


@dataclass(frozen=True, eq=False)
class AggregateResult:
    """The unmasked sum of the survivors' quantized inputs, mod 2^k."""

    context: SessionContext
    survivors: tuple[int, ...]
    dropped: tuple[int, ...]
    total: UIntArray = field(repr=False)
