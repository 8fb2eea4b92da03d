"""The in-memory transport: the aggregator's handlers called in this process, no socket.

It has the contract of the mutual-TLS gRPC transport (:class:`AggregatorClient` on
the silo's side, the servicer on the aggregator's), so nodes and tests run a whole
federation in one process:

* every request and reply is framed as over gRPC (:mod:`fedsilo.transport.frames`),
  serialized to bytes and parsed back, so the two sides share no object, exactly as
  over the wire, and the signed envelopes and protocol signatures they carry are the
  same bytes;
* every call is authenticated against the trust store (pinned roster and CRL) from
  the certificate the client was made with, as the servicer does from the TLS
  context; there is no TLS, so there is no proof that the caller holds that
  certificate's key: this transport is for one process whose parts trust each
  other (tests, the bench), never for a network;
* a refusal travels through the same error table as over gRPC
  (:mod:`fedsilo.transport.status`), so a silo sees the class the aggregator raised;
* an await polls, an upload cut short resumes at the offset the aggregator names,
  and a download is checked against its declared size, as over gRPC.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from google.protobuf.message import Message

from fedsilo.crypto.prg import UIntArray
from fedsilo.errors import FedsiloError, NotReadyError, RemoteProtocolError, TransportError
from fedsilo.pki.identity import Role
from fedsilo.pki.trust import Member, TrustStore
from fedsilo.transport import frames
from fedsilo.transport.calls import (
    CallContext,
    InputChunk,
    JoinReply,
    JoinRequest,
    ResultChunk,
    SignedEnvelope,
    StageMessage,
)
from fedsilo.transport.client import assemble_download, chunks_of, resuming
from fedsilo.transport.handlers import AggregatorHandlers
from fedsilo.transport.server import AWAIT_CAP_SECONDS, MAX_MESSAGE_BYTES
from fedsilo.transport.status import error_of, refusal_of

M = TypeVar("M", bound=Message)
T = TypeVar("T")
V = TypeVar("V")


def _sized(data: bytes, what: str) -> bytes:
    """``data``, refused above the gRPC transport's message limit (so nothing passes here
    that the wire would refuse)."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise RemoteProtocolError(
            f"a {what} of {len(data)} bytes exceeds the {MAX_MESSAGE_BYTES}-byte message limit"
        )
    return data


def _copied(value: V, frame: Callable[[V], M], unframe: Callable[[M], V]) -> V:
    """``value`` as the other side would decode it off the wire: framed, serialized,
    size-checked, parsed and decoded."""
    message = frame(value)
    data = _sized(message.SerializeToString(), type(message).__name__)
    return unframe(type(message).FromString(data))


class InMemoryAggregator:
    """The aggregator's side: authenticates each call and hands it to ``handlers``."""

    def __init__(self, trust: TrustStore, handlers: AggregatorHandlers) -> None:
        self._trust, self._handlers = trust, handlers
        self._stopped = False

    def client(self, certificate_der: bytes) -> InMemoryClient:
        """A silo's connection, presenting the certificate ``certificate_der``."""
        return InMemoryClient(self, certificate_der)

    def call(self, certificate_der: bytes, work: Callable[[Member], T]) -> T:
        """``work`` for the silo behind ``certificate_der``; a refusal is mapped to the
        error a silo would see over gRPC."""
        try:
            member, _ = self._trust.verify_der(certificate_der, Role.SILO)
            return work(member)
        except FedsiloError as exc:
            raise self.refusal(exc) from exc

    @staticmethod
    def refusal(exc: FedsiloError) -> FedsiloError:
        """The error a silo sees over gRPC when the aggregator raises ``exc``."""
        refusal = refusal_of(exc)
        return error_of(refusal.status, refusal.message, refusal.trailers)

    @property
    def handlers(self) -> AggregatorHandlers:
        if self._stopped:
            raise TransportError("the in-memory aggregator has stopped")
        return self._handlers

    # --- the serving side of fedsilo.transport.link.ServingTransport ---------------------

    @property
    def port(self) -> int:
        return 0  # no port: nothing listens

    def start(self) -> None:
        self._stopped = False

    def stop(self, grace: float) -> None:
        self._stopped = True


class InMemoryClient:
    """A silo's connection to an :class:`InMemoryAggregator` (the silo-side contract of
    :class:`fedsilo.transport.client.AggregatorClient`)."""

    def __init__(self, server: InMemoryAggregator, certificate_der: bytes) -> None:
        self._server, self._der = server, certificate_der

    def _call(self, work: Callable[[Member], T]) -> T:
        return self._server.call(self._der, work)

    def close(self) -> None:
        """Nothing to release: there is no channel."""

    def join(self, request: JoinRequest) -> JoinReply:
        sent = _copied(request, frames.join_request_pb, frames.join_request)
        reply = self._call(lambda m: self._server.handlers.join(m, sent))
        return _copied(reply, frames.join_reply_pb, frames.join_reply)

    def submit(self, message: StageMessage) -> None:
        sent = _copied(message, frames.stage_message_pb, frames.stage_message)
        self._call(lambda m: self._server.handlers.submit(m, sent))

    def await_signed(self, context: CallContext, patience: float) -> SignedEnvelope:
        """Ask until the aggregator has the awaited message, for up to ``patience`` seconds."""
        deadline = time.monotonic() + patience
        sent = _copied(context, frames.context_pb, frames.call_context)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TransportError(f"gave up waiting for stage {context.stage!r}")
            wait = min(left, AWAIT_CAP_SECONDS)  # as long as the servicer holds one call
            try:
                signed = self._call(
                    lambda m, w=wait: self._server.handlers.await_message(m, sent, w)  # type: ignore[misc]
                )
                return bytes(_sized(signed, "Signed"))  # the envelope's own bytes, as sent
            except NotReadyError:
                continue

    def upload(self, context: CallContext, words: UIntArray) -> None:
        """Send ``words`` in chunks; resume where the aggregator says if cut short."""
        data = words.astype(words.dtype.newbyteorder("<"), copy=False).tobytes()
        word = words.dtype.itemsize
        self.upload_from(lambda start: chunks_of(context, data, word, start))

    def upload_from(self, source: Callable[[int], Iterator[InputChunk]]) -> None:
        """The chunks ``source(offset)`` produces, from the offset the aggregator asks."""

        def send(offset: int) -> None:
            chunks = (_copied(c, frames.input_chunk_pb, frames.input_chunk) for c in source(offset))
            self._call(lambda m: self._server.handlers.upload(m, chunks))

        resuming(send)

    def fetch(self, kind: str, context: CallContext, expected_bytes: int, word: int) -> bytearray:
        """A released result of exactly ``expected_bytes``, refusing anything else."""
        sent = _copied(context, frames.context_pb, frames.call_context)
        # the aggregator refuses when asked (its checks run before its stream starts);
        # the chunks are then copied and checked one by one, as they would arrive, so a
        # download that declares too much is refused before the rest is held. The silo's
        # own checks of what arrived are its errors, not a refusal.
        chunks = self._call(lambda m: self._server.handlers.result_chunks(m, sent))

        def arriving() -> Iterator[ResultChunk]:
            try:
                for chunk in chunks:
                    yield _copied(chunk, frames.result_chunk_pb, frames.result_chunk)
            except FedsiloError as exc:  # the aggregator's stream failed midway
                raise self._server.refusal(exc) from exc

        return assemble_download(arriving(), kind, expected_bytes, word)
