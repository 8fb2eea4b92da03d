"""What one round of the aggregator is made of: its plan, its per-session state, its record."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from fedsilo.crypto.prg import UIntArray
from fedsilo.errors import FedsiloError
from fedsilo.protocol.messages import AggregateResult, SessionContext
from fedsilo.protocol.outputs import AggregatorOutput
from fedsilo.protocol.scheme import AggregatorSession
from fedsilo.transport.calls import ResultChunk, SignedEnvelope, StageMessage


@dataclass(frozen=True)
class RoundPlan:
    """What the round aggregates: its number, the chain head it continues and the vector
    length. No model is served: every silo derives the model of ``chain_head`` itself."""

    round: int
    chain_head: bytes
    vector_length: int


@dataclass
class RoundRecord:
    """How a round ended."""

    round: int
    session_id: bytes
    survivors: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    total: UIntArray | None = None
    error: FedsiloError | None = None
    missing: tuple[str, ...] = ()
    acks: dict[int, bytes] = field(default_factory=dict)  # silo index -> the H_r it acked
    result: AggregateResult | None = None
    evidence: Any = None  # the scheme's evidence of the round (what a missing silo checks)
    # what the session served (its aggregate, and what else its scheme serves): with the
    # evidence, what silos that missed the round verify it from
    downloads: dict[str, bytes] = field(default_factory=dict)


@dataclass
class SessionState:
    """Everything the aggregator keeps for one session (all access under its lock)."""

    ctx: SessionContext
    core: AggregatorSession
    plan: RoundPlan
    announcement: SignedEnvelope
    outbox: dict[tuple[str, int], SignedEnvelope] = field(default_factory=dict)
    accepted: dict[tuple[str, int], StageMessage] = field(default_factory=dict)
    # what an accepted message made the session send, while its journal append is pending
    unjournaled: dict[tuple[str, int], Sequence[AggregatorOutput]] = field(default_factory=dict)
    streamed: set[tuple[str, int]] = field(default_factory=set)  # whole uploads announced
    downloads: dict[str, bytes] = field(default_factory=dict)  # what silos may fetch
    fetched: set[int] = field(default_factory=set)
    journaled: bool = False  # from unmasking on, every accepted message is journaled first
    replaying: bool = False  # rebuilding from the journal: nothing is written again


def result_chunks_of(data: bytes, word: int, size: int = 1 << 20) -> Iterator[ResultChunk]:
    """``data`` (whole words of ``word`` bytes) as a stream of 1 MiB result chunks."""
    total = len(data) // word
    step = size - size % word
    for start in range(0, len(data), step):
        yield ResultChunk(start // word, total, data[start : start + step])
