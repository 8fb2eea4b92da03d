"""What the gRPC servicer needs from the aggregator runtime (implemented in fedsilo.runtime)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from fedsilo.pki.trust import Member
from fedsilo.transport.proto import fedsilo_pb2 as pb


class AggregatorHandlers(Protocol):
    def join(self, member: Member, request: pb.JoinRequest) -> pb.JoinReply: ...

    def submit(self, member: Member, message: pb.SiloMessage) -> None: ...

    def upload(self, member: Member, chunks: Iterator[pb.InputChunk]) -> None: ...

    def await_message(
        self, member: Member, request: pb.AwaitRequest, timeout: float
    ) -> pb.Signed: ...

    def result_chunks(
        self, member: Member, request: pb.ResultRequest
    ) -> Iterator[pb.ResultChunk]: ...
