"""The transport interface: what a silo node needs of its connection to the aggregator,
and what an aggregator node needs of the transport that serves it.

Two implementations keep the same contract: mutual-TLS gRPC
(:class:`fedsilo.transport.client.AggregatorClient`, :mod:`fedsilo.transport.server`)
and in-memory (:mod:`fedsilo.transport.memory`). The transport conformance suite
(every case of ``tests/nodes/test_bad_input.py`` that uses only this interface) runs
over both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from fedsilo.crypto.prg import UIntArray
from fedsilo.pki.trust import TrustStore
from fedsilo.transport.calls import (
    CallContext,
    InputChunk,
    JoinReply,
    JoinRequest,
    SignedEnvelope,
    StageMessage,
)
from fedsilo.transport.handlers import AggregatorHandlers


class AggregatorLink(Protocol):
    """A silo's connection to the aggregator. A refused call raises the
    :class:`~fedsilo.errors.FedsiloError` class the aggregator raised."""

    def join(self, request: JoinRequest) -> JoinReply: ...

    def submit(self, message: StageMessage) -> None: ...

    def await_signed(self, context: CallContext, patience: float) -> SignedEnvelope:
        """The aggregator's signed message for ``context`` (its stage: what is awaited),
        asked again until it exists, for up to ``patience`` seconds."""
        ...

    def upload(self, context: CallContext, words: UIntArray) -> None: ...

    def upload_from(self, source: Callable[[int], Iterator[InputChunk]]) -> None:
        """The chunks ``source(offset)`` produces, from the offset the aggregator asks
        (``source`` reproduces the same bytes from any offset)."""
        ...

    def fetch(self, kind: str, context: CallContext, expected_bytes: int, word: int) -> bytearray:
        """The download ``context`` names, of exactly ``expected_bytes``."""
        ...

    def close(self) -> None: ...


class ServingTransport(Protocol):
    """What serves the aggregator's handlers to the silos."""

    @property
    def port(self) -> int: ...

    def start(self) -> None: ...

    def stop(self, grace: float) -> None: ...


# how an aggregator node builds its serving transport from its trust store and handlers
Serve = Callable[[TrustStore, AggregatorHandlers], ServingTransport]
