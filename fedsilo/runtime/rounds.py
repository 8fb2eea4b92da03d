"""What one round of the aggregator is made of: its plan, its per-session state, its record."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from fedsilo.crypto.prg import UIntArray
from fedsilo.errors import FedsiloError
from fedsilo.protocol.masking.aggregator import MaskingAggregator
from fedsilo.protocol.messages import (
    AdvertList,
    SessionContext,
    ShareRelay,
    SignatureBundle,
    Stage,
    SurvivorList,
)
from fedsilo.transport.proto import fedsilo_pb2 as pb

STAGE_OF_REPLY = {
    AdvertList: Stage.SHARE_KEYS.value,
    ShareRelay: Stage.MASKED_INPUT.value,
    SurvivorList: Stage.CONSISTENCY_CHECK.value,
    SignatureBundle: Stage.UNMASKING.value,
}
SILO_MESSAGE_STAGE = {
    "advert": Stage.ADVERTISE_KEYS.value,
    "shares": Stage.SHARE_KEYS.value,
    "consistency": Stage.CONSISTENCY_CHECK.value,
    "unmasking": Stage.UNMASKING.value,
}


@dataclass(frozen=True)
class RoundPlan:
    """What the round aggregates: the global model's hash and the vector length."""

    round: int
    model: bytes  # the global model as raw little-endian float32 (what silos download)
    vector_length: int

    @property
    def model_hash(self) -> bytes:
        return hashlib.sha256(self.model).digest()


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


@dataclass
class SessionState:
    """Everything the aggregator keeps for one session (all access under its lock)."""

    ctx: SessionContext
    core: MaskingAggregator
    plan: RoundPlan
    announcement: pb.Signed
    outbox: dict[tuple[str, int], pb.Signed] = field(default_factory=dict)
    accepted: dict[tuple[str, int], bytes] = field(default_factory=dict)
    chunk_digests: dict[tuple[int, int], bytes] = field(default_factory=dict)
    result_bytes: bytes | None = None
    fetched: set[int] = field(default_factory=set)


def result_chunks_of(data: bytes, word: int, size: int = 1 << 20) -> Iterator[pb.ResultChunk]:
    """``data`` (whole words of ``word`` bytes) as a stream of 1 MiB result chunks."""
    total = len(data) // word
    step = size - size % word
    for start in range(0, len(data), step):
        yield pb.ResultChunk(
            offset=start // word, total_length=total, data=data[start : start + step]
        )
