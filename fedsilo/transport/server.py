"""The aggregator's gRPC servicer: authenticate, translate, delegate.

Every call is authenticated from the TLS auth context (the peer
certificate, checked against the pinned roster and the CRL) before anything
is decoded. An error becomes the refusal :mod:`fedsilo.transport.status` gives its
class (a status, the one-line message, the class's name in the trailers); the sender
gets the same typed error back and the service keeps serving everyone else.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

from fedsilo.errors import FedsiloError, TooManyCallsError
from fedsilo.pki.trust import Member, TrustStore
from fedsilo.transport import frames
from fedsilo.transport.handlers import AggregatorHandlers
from fedsilo.transport.proto import fedsilo_pb2 as pb
from fedsilo.transport.service import generic_handler
from fedsilo.transport.status import refusal_of

T = TypeVar("T")
MAX_MESSAGE_BYTES = (2 << 20) + (64 << 10)  # a 2 MiB chunk plus its envelope
AWAIT_CAP_SECONDS = 20.0
# A fixed 4 MiB HTTP/2 window per stream instead of bandwidth-delay probing: buffered
# bytes per silo stay bounded (aggregator memory stays O(params)), and 4 MiB per
# round trip still moves ~100 MB/s per stream across a 40 ms WAN.
FLOW_CONTROL = [("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 4 << 20)]


# An honest silo has one call open at a time; a few more cover a restart that finds its
# old connection's long poll still open. Beyond that one silo would hold workers of the
# shared pool (and with slow streams keep them), starving every other silo's calls.
MAX_CALLS_PER_SILO = 4


class AggregationServicer:
    def __init__(self, trust: TrustStore, handlers: AggregatorHandlers) -> None:
        self._trust, self._handlers = trust, handlers
        self._lock = threading.Lock()
        self._open: dict[int, int] = {}  # silo index -> calls now open

    def _call(self, context: grpc.ServicerContext, work: Callable[[Member], T]) -> T:
        try:
            member = self._trust.authenticate_peer(dict(context.auth_context()))
            with self._slot(member):
                return work(member)
        except FedsiloError as exc:
            refusal = refusal_of(exc)
            context.set_trailing_metadata(refusal.trailers)
            context.abort(refusal.status, refusal.message)
        raise AssertionError("unreachable")  # context.abort raises

    def _stream(
        self, context: grpc.ServicerContext, work: Callable[[Member], Iterator[T]]
    ) -> Iterator[T]:
        """A streamed reply, its call counted open until its last message has gone."""
        try:
            member = self._trust.authenticate_peer(dict(context.auth_context()))
            with self._slot(member):
                yield from work(member)
        except FedsiloError as exc:
            refusal = refusal_of(exc)
            context.set_trailing_metadata(refusal.trailers)
            context.abort(refusal.status, refusal.message)

    @contextlib.contextmanager
    def _slot(self, member: Member) -> Iterator[None]:
        with self._lock:
            if self._open.get(member.index, 0) >= MAX_CALLS_PER_SILO:
                raise TooManyCallsError(
                    f"{member.name} already has {MAX_CALLS_PER_SILO} calls open; "
                    "wait for one to end"
                )
            self._open[member.index] = self._open.get(member.index, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._open[member.index] -= 1

    # Every frame is decoded inside the authenticated call: nothing of an unauthenticated
    # peer's request is looked at, and a malformed frame is refused as that peer's error.

    def Join(self, request: pb.JoinRequest, context: grpc.ServicerContext) -> pb.JoinReply:
        return frames.join_reply_pb(
            self._call(context, lambda m: self._handlers.join(m, frames.join_request(request)))
        )

    def Submit(self, request: pb.SiloMessage, context: grpc.ServicerContext) -> pb.Ack:
        self._call(context, lambda m: self._handlers.submit(m, frames.stage_message(request)))
        return pb.Ack()

    def UploadInput(
        self, request_iterator: Iterator[pb.InputChunk], context: grpc.ServicerContext
    ) -> pb.Ack:
        chunks = (frames.input_chunk(c) for c in request_iterator)
        self._call(context, lambda m: self._handlers.upload(m, chunks))
        return pb.Ack()

    def Await(self, request: pb.AwaitRequest, context: grpc.ServicerContext) -> bytes:
        """The signed envelope's bytes, sent as they were signed (the method is raw)."""
        remaining = context.time_remaining()
        timeout = min(AWAIT_CAP_SECONDS, max(0.0, (remaining or AWAIT_CAP_SECONDS) - 0.5))
        return self._call(
            context,
            lambda m: self._handlers.await_message(
                m, frames.call_context(request.context), timeout
            ),
        )

    def FetchResult(
        self, request: pb.ResultRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.ResultChunk]:
        return self._stream(
            context,
            lambda m: (
                frames.result_chunk_pb(c)
                for c in self._handlers.result_chunks(m, frames.call_context(request.context))
            ),
        )


def server_credentials(key_pem: bytes, cert_pem: bytes, ca_pem: bytes) -> Any:
    """Mutual TLS only: a client without a certificate from the CA cannot connect."""
    return grpc.ssl_server_credentials(
        [(key_pem, cert_pem)], root_certificates=ca_pem, require_client_auth=True
    )


class GrpcServing:
    """The aggregator's handlers served over mutual TLS (the gRPC side of
    :class:`fedsilo.transport.link.ServingTransport`)."""

    def __init__(
        self,
        trust: TrustStore,
        handlers: AggregatorHandlers,
        address: str,
        credentials: Any,
        workers: int,
    ) -> None:
        self.server, self._port = build_server(
            AggregationServicer(trust, handlers), address, credentials, workers
        )

    @property
    def port(self) -> int:
        return self._port

    def start(self) -> None:
        self.server.start()

    def stop(self, grace: float) -> None:
        self.server.stop(grace).wait()


def build_server(
    servicer: AggregationServicer, address: str, credentials: Any, workers: int
) -> tuple[grpc.Server, int]:
    """A started-ready (not yet started) server bound to ``address``; returns it and its port."""
    server = grpc.server(
        concurrent.futures.ThreadPoolExecutor(max_workers=workers),
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            *FLOW_CONTROL,
        ],
    )
    server.add_generic_rpc_handlers((generic_handler(servicer),))
    port = server.add_secure_port(address, credentials)
    if port == 0:
        raise FedsiloError(f"cannot listen on {address}")
    return server, port
