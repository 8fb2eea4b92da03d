"""The silo's side of the wire: calls with bounded retries, exact resends, resumable uploads.

A retried call resends the very same request object (never a re-signed
variant, which would look like equivocation). An upload cut short resumes
at the offset the aggregator reports. Declared sizes of downloads are
checked before anything is allocated.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc

from fedsilo.crypto.prg import UIntArray
from fedsilo.errors import FedsiloError, RemoteProtocolError, TransportError
from fedsilo.transport.codec import words_to_bytes
from fedsilo.transport.proto import fedsilo_pb2 as pb
from fedsilo.transport.server import MAX_MESSAGE_BYTES, RESUME_KEY
from fedsilo.transport.service import AggregationStub

T = TypeVar("T")
CHUNK_BYTES = 1 << 20
RETRYABLE = {grpc.StatusCode.UNAVAILABLE}


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff from ``first`` doubling to ``cap`` seconds, for ``patience`` in all."""

    first: float = 0.1
    cap: float = 3.0
    patience: float = 60.0


class RemoteRefusedError(TransportError):
    """The aggregator refused a call; ``code`` is the gRPC status."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"the aggregator refused: {code.name}: {details}")
        self.code, self.details = code, details


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

    def close(self) -> None:
        self._channel.close()

    def _retrying(self, call: Callable[[], T]) -> T:
        delay, waited = self._backoff.first, 0.0
        while True:
            try:
                return call()
            except grpc.RpcError as exc:
                code = exc.code()
                if code not in RETRYABLE or waited >= self._backoff.patience:
                    raise RemoteRefusedError(code, exc.details() or "") from exc
            self._sleep(delay)
            waited += delay
            delay = min(delay * 2, self._backoff.cap)

    def join(self, request: pb.JoinRequest) -> pb.JoinReply:
        reply: pb.JoinReply = self._retrying(lambda: self._stub.Join(request, timeout=30))
        return reply

    def submit(self, message: pb.SiloMessage) -> None:
        self._retrying(lambda: self._stub.Submit(message, timeout=30))

    def await_signed(self, request: pb.AwaitRequest, patience: float) -> pb.Signed:
        """Poll until the aggregator has the awaited message, for up to ``patience`` seconds."""
        deadline = time.monotonic() + patience
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TransportError(f"gave up waiting for stage {request.context.stage!r}")
            try:
                signed: pb.Signed = self._retrying(
                    lambda left=left: self._stub.Await(request, timeout=min(left, 21.0))  # type: ignore[misc]
                )
                return signed
            except RemoteRefusedError as exc:
                if exc.code is not grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise

    def upload(self, context: pb.Context, words: UIntArray) -> None:
        """Stream ``words`` in chunks; resume where the aggregator says if cut short."""
        data = words_to_bytes(words)
        word = words.dtype.itemsize
        self.upload_from(lambda start: _chunks(context, data, word, start))

    def upload_from(self, source: Callable[[int], Iterator[pb.InputChunk]]) -> None:
        """Stream the chunks ``source(offset)`` produces from ``offset`` on; on a cut,
        resume at the offset the aggregator reports (``source`` must reproduce the
        same bytes from any offset)."""
        offset = 0
        for _ in range(64):
            try:
                self._retrying(
                    lambda start=offset: self._stub.UploadInput(  # type: ignore[misc]
                        source(start), timeout=600
                    )
                )
                return
            except RemoteRefusedError as exc:
                resumed = _resume_offset(exc)
                if resumed is None:
                    raise
                offset = resumed
        raise TransportError("the masked-input upload did not complete after 64 resumptions")

    def fetch(
        self, kind: str, request: pb.ResultRequest, expected_bytes: int, word: int
    ) -> bytearray:
        """Download a released result of exactly ``expected_bytes``, refusing anything else
        (into one buffer, returned as is: the caller owns it)."""
        method = self._stub.FetchResult

        def download() -> bytearray:
            buffer: bytearray | None = None
            received = 0
            for chunk in method(request, timeout=600):
                if chunk.total_length * word != expected_bytes:
                    raise RemoteProtocolError(
                        f"the {kind} declares {chunk.total_length} words; "
                        f"expected {expected_bytes // word}"
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

        return self._retrying(download)


def _chunks(context: pb.Context, data: bytes, word: int, offset: int) -> Iterator[pb.InputChunk]:
    total = len(data) // word
    step = CHUNK_BYTES - CHUNK_BYTES % word
    for start in range(offset * word, len(data), step):
        yield pb.InputChunk(
            context=context,
            offset=start // word,
            total_length=total,
            data=data[start : start + step],
        )


def _resume_offset(exc: RemoteRefusedError) -> int | None:
    if exc.code is not grpc.StatusCode.ABORTED:
        return None
    cause: Any = exc.__cause__
    for key, value in (cause.trailing_metadata() or ()) if cause is not None else ():
        if key == RESUME_KEY:
            return int(value)
    return None


__all__ = ["AggregatorClient", "Backoff", "FedsiloError", "RemoteRefusedError"]
