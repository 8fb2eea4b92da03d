"""The silo's side of the wire: calls with bounded retries, exact resends, resumable uploads.

A retried call resends the very same request object (never a re-signed
variant, which would look like equivocation). An upload cut short resumes
at the offset the aggregator reports. Declared sizes of downloads are
checked before anything is allocated.

A refused call raises the class the aggregator raised (``ContextMismatchError``
as that class), mapped back once by :func:`fedsilo.transport.status.error_of`
and chained from the ``grpc.RpcError``; statuses are read only here, to retry
(UNAVAILABLE) and to poll (DEADLINE_EXCEEDED), before anything is mapped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import grpc

from fedsilo.crypto.prg import UIntArray
from fedsilo.errors import FedsiloError, IncompleteUploadError, RemoteProtocolError, TransportError
from fedsilo.protocol.words import words_to_bytes
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
from fedsilo.transport.proto import fedsilo_pb2 as pb
from fedsilo.transport.server import MAX_MESSAGE_BYTES
from fedsilo.transport.service import AggregationStub
from fedsilo.transport.status import error_of

T = TypeVar("T")
CHUNK_BYTES = 1 << 20
MAX_RESUMPTIONS = 64
RETRYABLE = {grpc.StatusCode.UNAVAILABLE}


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff from ``first`` doubling to ``cap`` seconds, for ``patience`` in all."""

    first: float = 0.1
    cap: float = 3.0
    patience: float = 60.0


class AggregatorClient:
    def __init__(
        self,
        address: str,
        ca_pem: bytes,
        key_pem: bytes,
        cert_pem: bytes,
        backoff: Backoff = Backoff(),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        credentials = grpc.ssl_channel_credentials(ca_pem, key_pem, cert_pem)
        self._channel = grpc.secure_channel(
            address,
            credentials,
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ],
        )
        self._stub = AggregationStub(self._channel)
        self._backoff, self._sleep = backoff, sleep

    @property
    def channel(self) -> grpc.Channel:
        """The mutual-TLS channel to the aggregator (the bench sends its plain round on it)."""
        return self._channel

    def close(self) -> None:
        self._channel.close()

    def _retrying(self, call: Callable[[], T]) -> T:
        """``call()``, again while the aggregator is unavailable and patience lasts; a
        refusal raises as the error it names."""
        try:
            return self._retrying_raw(call)
        except grpc.RpcError as exc:
            raise refusal_error(exc) from exc

    def _retrying_raw(self, call: Callable[[], T]) -> T:
        delay, waited = self._backoff.first, 0.0
        while True:
            try:
                return call()
            except grpc.RpcError as exc:
                if exc.code() not in RETRYABLE or waited >= self._backoff.patience:
                    raise
            self._sleep(delay)
            waited += delay
            delay = min(delay * 2, self._backoff.cap)

    def join(self, request: JoinRequest) -> JoinReply:
        sent = frames.join_request_pb(request)
        return frames.join_reply(self._retrying(lambda: self._stub.Join(sent, timeout=30)))

    def submit(self, message: StageMessage) -> None:
        sent = frames.stage_message_pb(message)  # a retry resends these very bytes
        self._retrying(lambda: self._stub.Submit(sent, timeout=30))

    def await_signed(self, context: CallContext, patience: float) -> SignedEnvelope:
        """Poll until the aggregator has the awaited message, for up to ``patience`` seconds."""
        deadline = time.monotonic() + patience
        request = pb.AwaitRequest(context=frames.context_pb(context))
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TransportError(f"gave up waiting for stage {context.stage!r}")
            try:
                signed: SignedEnvelope = self._retrying_raw(
                    lambda left=left: self._stub.Await(request, timeout=min(left, 21.0))  # type: ignore[misc]
                )
                return signed
            except grpc.RpcError as exc:
                # the aggregator's NotReadyError (the only error sent as DEADLINE_EXCEEDED),
                # or this call's own deadline: not there yet, ask again
                if exc.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise refusal_error(exc) from exc

    def upload(self, context: CallContext, words: UIntArray) -> None:
        """Stream ``words`` in chunks; resume where the aggregator says if cut short."""
        data = words_to_bytes(words)
        word = words.dtype.itemsize
        self.upload_from(lambda start: chunks_of(context, data, word, start))

    def upload_from(self, source: Callable[[int], Iterator[InputChunk]]) -> None:
        """Stream the chunks ``source(offset)`` produces from ``offset`` on; on a cut,
        resume at the offset the aggregator reports (``source`` must reproduce the
        same bytes from any offset)."""

        def frames_from(start: int) -> Iterator[pb.InputChunk]:
            return (frames.input_chunk_pb(c) for c in source(start))

        resuming(
            lambda start: self._retrying(
                lambda: self._stub.UploadInput(frames_from(start), timeout=600)
            )
        )

    def fetch(self, kind: str, context: CallContext, expected_bytes: int, word: int) -> bytearray:
        """Download a released result of exactly ``expected_bytes``, refusing anything else
        (into one buffer, returned as is: the caller owns it)."""
        method, request = (
            self._stub.FetchResult,
            pb.ResultRequest(context=frames.context_pb(context)),
        )
        return self._retrying(
            lambda: assemble_download(
                (frames.result_chunk(c) for c in method(request, timeout=600)),
                kind,
                expected_bytes,
                word,
            )
        )


def assemble_download(
    chunks: Iterable[ResultChunk], kind: str, expected_bytes: int, word: int
) -> bytearray:
    """The ``kind`` that ``chunks`` carry, of exactly ``expected_bytes`` (every chunk's
    declared size checked before anything is allocated; each continues the last)."""
    buffer: bytearray | None = None
    received = 0
    for chunk in chunks:
        if chunk.total_length * word != expected_bytes:
            raise RemoteProtocolError(
                f"the {kind} declares {chunk.total_length} words; expected {expected_bytes // word}"
            )
        start = chunk.offset * word
        if start != received or start + len(chunk.data) > expected_bytes:
            raise RemoteProtocolError(
                f"a {kind} chunk at byte {start} does not continue the {received} "
                "bytes received, or runs beyond the declared size"
            )
        buffer = buffer if buffer is not None else bytearray(expected_bytes)
        buffer[start : start + len(chunk.data)] = chunk.data
        received += len(chunk.data)
    if buffer is None or received != expected_bytes:
        raise RemoteProtocolError(
            f"the {kind} arrived incomplete: {received} of {expected_bytes} bytes"
        )
    return buffer


def resuming(send: Callable[[int], object]) -> None:
    """``send(offset)`` from offset 0, again from the offset the aggregator names each time
    it reports the upload incomplete, at most :data:`MAX_RESUMPTIONS` times."""
    offset = 0
    for _ in range(MAX_RESUMPTIONS):
        try:
            send(offset)
            return
        except IncompleteUploadError as exc:
            if exc.offset is None:
                raise
            offset = exc.offset
    raise TransportError(f"the vector upload did not complete after {MAX_RESUMPTIONS} resumptions")


def chunks_of(context: CallContext, data: bytes, word: int, offset: int) -> Iterator[InputChunk]:
    """``data`` (whole words of ``word`` bytes) from word ``offset`` on, in upload chunks."""
    total = len(data) // word
    step = CHUNK_BYTES - CHUNK_BYTES % word
    for start in range(offset * word, len(data), step):
        yield InputChunk(context, start // word, total, data[start : start + step])


def refusal_error(exc: grpc.RpcError) -> FedsiloError:
    """The error a failed call's status, details and trailers name (the aggregator's own
    class if it sent one; a :class:`TransportError` otherwise)."""
    details: str = exc.details() or ""
    return error_of(exc.code(), details, exc.trailing_metadata() or ())


__all__ = [
    "AggregatorClient",
    "Backoff",
    "FedsiloError",
    "assemble_download",
    "chunks_of",
    "refusal_error",
]
