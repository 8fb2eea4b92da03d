"""What a serving transport needs from the aggregator runtime (implemented in
fedsilo.runtime), in fedsilo types: each call comes with the silo the transport
authenticated."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from fedsilo.pki.trust import Member
from fedsilo.transport.calls import (
    CallContext,
    InputChunk,
    JoinReply,
    JoinRequest,
    ResultChunk,
    SignedEnvelope,
    StageMessage,
)


class AggregatorHandlers(Protocol):
    def join(self, member: Member, request: JoinRequest) -> JoinReply: ...

    def submit(self, member: Member, message: StageMessage) -> None: ...

    def upload(self, member: Member, chunks: Iterator[InputChunk]) -> None: ...

    def await_message(
        self, member: Member, context: CallContext, timeout: float
    ) -> SignedEnvelope: ...

    def result_chunks(self, member: Member, context: CallContext) -> Iterator[ResultChunk]: ...
