"""The Aggregation service's method table: the one place its RPC names and types live.

The service is registered and called through gRPC's generic handlers, built
from this table and the generated protobuf messages. So no generated
servicer base class, with its placeholder methods, is needed. A test keeps the
table identical to the service declared in ``proto/fedsilo.proto``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc

from fedsilo.transport.proto import fedsilo_pb2 as pb

SERVICE = "fedsilo.v1.Aggregation"


@dataclass(frozen=True)
class Method:
    name: str
    request: type[Any]
    response: type[Any]
    client_streaming: bool = False
    server_streaming: bool = False
    # the response travels as the bytes the servicer returns (already a serialized
    # ``response``: the aggregator's signed envelope, passed through unparsed both ways)
    raw_response: bool = False

    def serialize_response(self, message: Any) -> bytes:
        return bytes(message) if self.raw_response else bytes(message.SerializeToString())

    def parse_response(self, data: bytes) -> Any:
        return data if self.raw_response else self.response.FromString(data)

    @property
    def path(self) -> str:
        return f"/{SERVICE}/{self.name}"


METHODS = (
    Method("Join", pb.JoinRequest, pb.JoinReply),
    Method("Submit", pb.SiloMessage, pb.Ack),
    Method("UploadInput", pb.InputChunk, pb.Ack, client_streaming=True),
    Method("Await", pb.AwaitRequest, pb.Signed, raw_response=True),
    Method("FetchResult", pb.ResultRequest, pb.ResultChunk, server_streaming=True),
)

_SERVER_KIND = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
}


def generic_handler(servicer: object) -> grpc.GenericRpcHandler:
    """Route every method of the table to the servicer's method of the same name."""
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            m.name: _SERVER_KIND[(m.client_streaming, m.server_streaming)](
                getattr(servicer, m.name),
                request_deserializer=m.request.FromString,
                response_serializer=m.serialize_response,
            )
            for m in METHODS
        },
    )


class AggregationStub:
    """Client-side callables for every method of the table."""

    Join: Any
    Submit: Any
    UploadInput: Any
    Await: Any
    FetchResult: Any

    def __init__(self, channel: grpc.Channel) -> None:
        kinds = {
            (False, False): channel.unary_unary,
            (True, False): channel.stream_unary,
            (False, True): channel.unary_stream,
        }
        for m in METHODS:
            call = kinds[(m.client_streaming, m.server_streaming)](
                m.path,
                request_serializer=m.request.SerializeToString,
                response_deserializer=m.parse_response,
            )
            setattr(self, m.name, call)
