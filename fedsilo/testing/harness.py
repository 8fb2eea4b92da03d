"""An in-memory federation: N silo sessions and one aggregator session, no I/O.

It drives the very same sessions the network adapters drive. Dropouts are
injected per silo and stage (a silo that drops at a stage sends neither that
stage's message nor any later one); an :class:`~fedsilo.testing.adversary.Adversary`
sits between the silos and the honest aggregator core and may rewrite
anything it relays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from fedsilo.crypto.entropy import Entropy
from fedsilo.crypto.prg import UIntArray
from fedsilo.crypto.quantize import Quantizer
from fedsilo.crypto.signatures import IdentityKey
from fedsilo.errors import FedsiloError
from fedsilo.protocol.masking.aggregator import MaskingAggregator
from fedsilo.protocol.masking.ledger import InMemoryUnmaskLedger, UnmaskLedger
from fedsilo.protocol.masking.params import MaskingParams
from fedsilo.protocol.masking.silo import MaskingSilo
from fedsilo.protocol.masking.states import AggregatorState
from fedsilo.protocol.messages import (
    STAGE_OF_SILO_MESSAGE,
    AggregateResult,
    MaskedInputStream,
    Outgoing,
    SessionContext,
    SiloMessage,
    Stage,
)
from fedsilo.protocol.roster import Roster, SiloEntry
from fedsilo.testing.adversary import Adversary
from fedsilo.testing.entropy import SeededEntropy

T = TypeVar("T")
STAGE_ORDER = {stage: i for i, stage in enumerate(Stage)}
MODEL_HASH = b"\x11" * 32


@dataclass(frozen=True)
class Federation:
    """The static setup of a test federation: roster, identity keys, parameters."""

    roster: Roster
    identities: tuple[IdentityKey, ...]
    params: MaskingParams
    federation_id: str = "test-federation"
    config_digest: bytes = b"\x00" * 32

    def context(self, session: int = 1, round_number: int = 1) -> SessionContext:
        return SessionContext(
            self.federation_id, self.config_digest, session.to_bytes(16, "big"), round_number
        )

    def identity(self, index: int) -> IdentityKey:
        return self.identities[index - 1]


def make_federation(
    silos: int,
    *,
    threshold: int | None = None,
    colluders: int = 1,
    bits: int = 32,
    levels: int = 1 << 16,
    clip: float = 1.0,
) -> Federation:
    """A federation of ``silos`` members with fresh P-256 identity keys."""
    identities = tuple(IdentityKey.generate() for _ in range(silos))
    roster = Roster(
        tuple(SiloEntry(i + 1, f"silo-{i + 1}", k.verifying_key) for i, k in enumerate(identities))
    )
    params = MaskingParams.with_defaults(silos, colluders, Quantizer(clip, levels, bits), threshold)
    return Federation(roster, identities, params)


def random_inputs(fed: Federation, length: int, seed: int = 0) -> list[UIntArray]:
    """Uniform quantized inputs in [0, levels) for every silo."""
    rng = np.random.default_rng(seed)
    dtype = np.uint32 if fed.params.bits == 32 else np.uint64
    levels = fed.params.quantizer.levels
    return [rng.integers(0, levels, size=length, dtype=dtype) for _ in range(fed.roster.size)]


@dataclass
class RunResult:
    """What happened in one in-memory aggregation."""

    result: AggregateResult | None
    aggregator_error: FedsiloError | None
    silos: dict[int, MaskingSilo]
    adversary: Adversary
    rejected: list[FedsiloError] = field(default_factory=list)
    timings: dict[str, list[float]] = field(default_factory=dict)

    def silo_error(self, index: int) -> FedsiloError | None:
        return self.silos[index].error


def run_aggregation(
    fed: Federation,
    inputs: Sequence[UIntArray],
    *,
    drop_at: Mapping[int, Stage] | None = None,
    adversary: Adversary | None = None,
    ledgers: Mapping[int, UnmaskLedger] | None = None,
    model_hashes: Mapping[int, bytes] | None = None,
    entropies: Mapping[int, Entropy] | None = None,
    session: int = 1,
    round_number: int = 1,
    seed: int = 0,
    chunk_words: int | None = None,
    clock: Callable[[], float] | None = None,
) -> RunResult:
    """Run one aggregation session to completion or abort, entirely in memory.

    ``chunk_words`` is the size in which masked inputs are delivered to the
    aggregator (default: one message per silo; the gRPC transport streams 1 MiB
    chunks). With a ``clock``, the seconds spent in each silo step (keyed
    ``silo:<MessageType>``), in each silo's masking (``silo:mask``) and in the
    aggregator (``aggregator``) are recorded in ``RunResult.timings``.
    """
    drop_at = drop_at or {}
    adversary = adversary or Adversary()
    ctx = fed.context(session, round_number)
    silos = {
        i: MaskingSilo(
            context=ctx,
            roster=fed.roster,
            params=fed.params,
            index=i,
            identity=fed.identity(i),
            entropy=(entropies or {}).get(i) or SeededEntropy(seed, session, i),
            ledger=(ledgers or {}).get(i) or InMemoryUnmaskLedger(),
            model_hash=(model_hashes or {}).get(i, MODEL_HASH),
            quantized_input=inputs[i - 1],
        )
        for i in range(1, fed.roster.size + 1)
    }
    aggregator = MaskingAggregator(
        context=ctx,
        roster=fed.roster,
        params=fed.params,
        model_hash=MODEL_HASH,
        vector_length=len(inputs[0]),
    )
    run = RunResult(None, None, silos, adversary)
    _Loop(run, aggregator, drop_at, clock, chunk_words or len(inputs[0])).run()
    run.result = aggregator.result
    return run


class _Loop:
    def __init__(
        self,
        run: RunResult,
        aggregator: MaskingAggregator,
        drop_at: Mapping[int, Stage],
        clock: Callable[[], float] | None,
        chunk_words: int,
    ) -> None:
        self.run_result, self.aggregator, self.drop_at = run, aggregator, drop_at
        self.clock, self.chunk_words = clock, chunk_words
        self.dead: set[int] = set()

    def _timed(self, key: str, step: Callable[[], T]) -> T:
        if self.clock is None:
            return step()
        start = self.clock()
        try:
            return step()
        finally:
            self.run_result.timings.setdefault(key, []).append(self.clock() - start)

    def _from_silo(self, index: int, messages: list[SiloMessage]) -> list[SiloMessage]:
        kept = []
        for message in messages:
            drop = self.drop_at.get(index)
            stage = STAGE_OF_SILO_MESSAGE[type(message)]
            if index in self.dead or (drop is not None and STAGE_ORDER[stage] >= STAGE_ORDER[drop]):
                self.dead.add(index)
                continue
            kept.append(message)
        return kept

    def run(self) -> None:
        """Deliver each silo reply to the aggregator at once, as a streaming transport does,
        so every masked vector is folded and dropped before the next one is made."""
        silos = self.run_result.silos
        outgoing = self._to_aggregator(
            [m for i, s in silos.items() for m in self._from_silo(i, s.start())]
        )
        for _ in range(4 * len(Stage)):
            if self._finished():
                return
            if not outgoing:
                try:
                    outgoing = self._timed("aggregator", self.aggregator.close_stage)
                except FedsiloError as exc:
                    self.run_result.aggregator_error = exc
                    return
            following: list[Outgoing] = []
            for out in self.run_result.adversary.outbound(outgoing):
                if out.recipient in self.dead:
                    continue
                silo = silos[out.recipient]
                key = f"silo:{type(out.message).__name__}"
                try:
                    replies = self._timed(key, lambda: silo.receive(out.message))  # noqa: B023
                except FedsiloError:
                    continue  # the silo aborted; its error is on the session
                following += self._to_aggregator(self._from_silo(out.recipient, replies))
            outgoing = following
        raise AssertionError("the in-memory federation did not terminate")

    def _finished(self) -> bool:
        if self.aggregator.state in (AggregatorState.DONE, AggregatorState.ABORTED):
            self.run_result.aggregator_error = self.aggregator.error
            return True
        return False

    def _expand(self, message: SiloMessage) -> Iterator[SiloMessage]:
        """A masked-input stream becomes its chunks; masking time is charged to the silo."""
        if not isinstance(message, MaskedInputStream):
            yield message
            return
        chunks, spent = message.chunks(self.chunk_words), 0.0
        while True:
            start = self.clock() if self.clock else 0.0
            chunk = next(chunks, None)
            spent += (self.clock() - start) if self.clock else 0.0
            if chunk is None:
                break
            yield chunk
        if self.clock:
            self.run_result.timings.setdefault("silo:mask", []).append(spent)

    def _to_aggregator(self, messages: list[SiloMessage]) -> list[Outgoing]:
        agg, outgoing = self.aggregator, []
        for message in (m for original in messages for m in self._expand(original)):
            for relayed in self.run_result.adversary.inbound(message):
                try:
                    outgoing += self._timed("aggregator", lambda: agg.receive(relayed))  # noqa: B023
                except FedsiloError as exc:
                    self.run_result.rejected.append(exc)
        return outgoing
