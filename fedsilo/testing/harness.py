"""An in-memory federation: N silo sessions and one aggregator session, no I/O.

It drives the very same sessions the network adapters drive. Dropouts are
injected per silo and stage (a silo that drops at a stage sends neither that
stage's message nor any later one); an :class:`~fedsilo.testing.adversary.Adversary`
sits between the silos and the honest aggregator core and may rewrite
anything it relays.

Each silo keeps a :class:`~fedsilo.protocol.ledger.RoundLedger` that the caller
may pass in and keep across calls, so multi-round and multi-session attacks
run against the very rules a node enforces. The protocol does not know about
models: after a verified release the harness derives each silo's chain link
with :func:`protocol_link`, which stands in for the server-optimizer step of
the nodes (``fedsilo.training.global_state``) by hashing the aggregate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

import numpy as np

from fedsilo.crypto.entropy import Entropy
from fedsilo.crypto.prg import UIntArray
from fedsilo.crypto.quantize import Quantizer
from fedsilo.crypto.signatures import IdentityKey
from fedsilo.errors import FedsiloError
from fedsilo.protocol import words
from fedsilo.protocol.chain import ChainLink, aggregate_sha256, genesis
from fedsilo.protocol.events import AuditEvent
from fedsilo.protocol.ledger import InMemoryLedgerStore, RoundLedger
from fedsilo.protocol.masking.messages import (
    STAGE_OF_SILO_MESSAGE,
    MaskedInput,
    MaskedInputStream,
    RoundEvidence,
    SiloMessage,
    Stage,
)
from fedsilo.protocol.masking.params import MaskingParams
from fedsilo.protocol.masking.scheme import MASKING
from fedsilo.protocol.masking.session import MaskingAggregatorSession
from fedsilo.protocol.masking.sharing import FalseShareEvidence
from fedsilo.protocol.masking.silo import MaskingSilo
from fedsilo.protocol.masking.states import AggregatorState, SiloState
from fedsilo.protocol.messages import AggregateResult, Outgoing, SessionContext
from fedsilo.protocol.outputs import AggregatorOutput, Persist, Serve
from fedsilo.protocol.roster import Roster, SiloEntry
from fedsilo.testing.adversary import Adversary
from fedsilo.testing.entropy import SeededEntropy

T = TypeVar("T")
STAGE_ORDER = {stage: i for i, stage in enumerate(Stage)}


def protocol_link(result: AggregateResult) -> ChainLink:
    """The chain link of a verified round as the harness derives it: the "model" after the
    round is a hash of the history and the aggregate (the nodes run the server optimizer)."""
    ctx = result.context
    agg = aggregate_sha256(result.total)
    model = hashlib.sha256(b"fedsilo/testing/model" + ctx.chain_head + agg).digest()
    return ChainLink(
        ctx.round,
        ctx.chain_head,
        ctx.session_id,
        result.survivors,
        agg,
        model,
        hashlib.sha256(b"").digest(),
    )


def fresh_ledger(fed: Federation) -> RoundLedger:
    """A silo ledger at round 0 of ``fed``'s chain, kept in memory."""
    return genesis_ledger(fed.config_digest)


def genesis_ledger(config_digest: bytes) -> RoundLedger:
    """A silo ledger at round 0 of the chain of the config ``config_digest``, in memory."""
    return RoundLedger(InMemoryLedgerStore(), genesis(config_digest))


def session_context(
    federation_id: str,
    config_digest: bytes,
    session: int = 1,
    round_number: int = 1,
    chain_head: bytes | None = None,
) -> SessionContext:
    """Session number ``session`` of ``round_number`` on ``chain_head`` (default: genesis),
    with a session id derived from both."""
    head = genesis(config_digest) if chain_head is None else chain_head
    return SessionContext(
        federation_id,
        config_digest,
        hashlib.sha256(session.to_bytes(16, "big") + head).digest(),
        round_number,
        head,
    )


@dataclass(frozen=True)
class Federation:
    """The static setup of a test federation: roster, identity keys, parameters."""

    roster: Roster
    identities: tuple[IdentityKey, ...]
    params: MaskingParams
    federation_id: str = "test-federation"
    config_digest: bytes = b"\x07" * 32

    def context(
        self, session: int = 1, round_number: int = 1, chain_head: bytes | None = None
    ) -> SessionContext:
        return session_context(
            self.federation_id, self.config_digest, session, round_number, chain_head
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
    full_verification: bool = False,
) -> Federation:
    """A federation of ``silos`` members with fresh P-256 identity keys; with
    ``full_verification`` every silo checks the release against every survivor's ``y_u``."""
    identities = tuple(IdentityKey.generate() for _ in range(silos))
    roster = Roster(
        tuple(SiloEntry(i + 1, f"silo-{i + 1}", k.verifying_key) for i, k in enumerate(identities))
    )
    params = MaskingParams.with_defaults(silos, colluders, Quantizer(clip, levels, bits), threshold)
    params = replace(params, full_verification=full_verification)
    return Federation(roster, identities, params)


def honest_silos(
    fed: Federation, inputs: Sequence[UIntArray], *, seed: int = 0, session: int = 1
) -> dict[int, MaskingSilo]:
    """Every silo of ``fed`` as a genuine session of ``fed.context(session)`` on its input
    (fresh ledgers, seeded entropy: the same silos :func:`run_aggregation` drives)."""
    return {
        i: MaskingSilo(
            context=fed.context(session),
            roster=fed.roster,
            params=fed.params,
            index=i,
            identity=fed.identity(i),
            entropy=SeededEntropy(seed, session, i),
            ledger=fresh_ledger(fed),
            quantized_input=inputs[i - 1],
        )
        for i in fed.roster.indices
    }


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
    ledgers: dict[int, RoundLedger] = field(default_factory=dict)
    acks: dict[int, bytes] = field(default_factory=dict)  # sender -> acked H_r
    evidence: RoundEvidence | None = None  # what a silo that missed the round verifies
    rejected: list[FedsiloError] = field(default_factory=list)
    false_shares: tuple[FalseShareEvidence, ...] = ()  # the aggregator's evidence of liars
    accused: dict[int, tuple[int, ...]] = field(default_factory=dict)  # dealer -> accusers
    events: list[AuditEvent] = field(default_factory=list)  # the aggregator's, in order
    timings: dict[str, list[float]] = field(default_factory=dict)

    def silo_error(self, index: int) -> FedsiloError | None:
        return self.silos[index].error

    def verified(self) -> dict[int, AggregateResult]:
        """The aggregate each silo computed from a release it verified."""
        return {i: s.aggregate for i, s in self.silos.items() if s.aggregate is not None}


def run_aggregation(
    fed: Federation,
    inputs: Sequence[UIntArray],
    *,
    drop_at: Mapping[int, Stage | str] | None = None,
    adversary: Adversary | None = None,
    ledgers: Mapping[int, RoundLedger] | None = None,
    entropies: Mapping[int, Entropy] | None = None,
    session: int = 1,
    round_number: int = 1,
    chain_head: bytes | None = None,
    contexts: Mapping[int, SessionContext] | None = None,
    seed: int = 0,
    chunk_words: int | None = None,
    clock: Callable[[], float] | None = None,
    aggregator_params: MaskingParams | None = None,
) -> RunResult:
    """Run one aggregation session to completion or abort, entirely in memory.

    ``chunk_words`` is the size in which masked inputs are delivered to the
    aggregator (default: one message per silo; the gRPC transport streams 1 MiB
    chunks). With a ``clock``, the seconds spent in each silo step (keyed
    ``silo:<MessageType>``), in each silo's masking (``silo:mask``) and in the
    aggregator (``aggregator``) are recorded in ``RunResult.timings``.

    ``ledgers`` (default: fresh ones) are the silos' durable ledgers; pass the same
    ones again to run a later session or round. ``contexts`` lets a malicious
    aggregator announce a different context to some silos; ``aggregator_params`` lets
    it run on other parameters than the silos' (for example ignoring ``min_silos``).
    """
    # a stage by name too, so a caller above the protocol need not import masking's Stage
    stops = {i: Stage(stage) for i, stage in (drop_at or {}).items()}
    adversary = adversary or Adversary()
    ctx = fed.context(session, round_number, chain_head)
    all_ledgers = {i: (ledgers or {}).get(i) or fresh_ledger(fed) for i in fed.roster.indices}
    silos = {
        i: MaskingSilo(
            context=(contexts or {}).get(i, ctx),
            roster=fed.roster,
            params=fed.params,
            index=i,
            identity=fed.identity(i),
            entropy=(entropies or {}).get(i) or SeededEntropy(seed, session, i),
            ledger=all_ledgers[i],
            quantized_input=inputs[i - 1],
        )
        for i in range(1, fed.roster.size + 1)
    }
    driven = MASKING.aggregator_session(
        aggregator_params or fed.params,
        context=ctx,
        roster=fed.roster,
        vector_length=len(inputs[0]),
    )
    aggregator = driven.core
    run = RunResult(None, None, silos, adversary, all_ledgers)
    _Loop(run, driven, stops, clock, chunk_words or len(inputs[0])).run()
    run.result = aggregator.result
    run.acks = {i: a.head for i, a in aggregator.acks.items()}
    run.evidence = aggregator.evidence
    run.false_shares = aggregator.false_shares
    run.accused = aggregator.accused
    return run


class _Loop:
    def __init__(
        self,
        run: RunResult,
        session: MaskingAggregatorSession,
        drop_at: Mapping[int, Stage],
        clock: Callable[[], float] | None,
        chunk_words: int,
    ) -> None:
        self.run_result, self.session, self.drop_at = run, session, drop_at
        self.aggregator = session.core
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
            [m for i, s in silos.items() for m in self._from_silo(i, self._start(s))]
        )
        for _ in range(4 * len(Stage)):
            if self._finished():
                return
            if not outgoing:  # an abort is the session's ending, seen on the next turn
                outgoing = self._sends(self._timed("aggregator", self.session.close_stage))
            following: list[Outgoing] = []
            for out in self.run_result.adversary.outbound(outgoing):
                if out.recipient in self.dead:
                    continue
                silo = silos[out.recipient]
                key = f"silo:{type(out.message).__name__}"
                try:
                    replies = self._timed(key, lambda: silo.receive(out.message))  # noqa: B023
                    if silo.state is SiloState.VERIFIED and silo.aggregate is not None:
                        replies += silo.acknowledge(protocol_link(silo.aggregate))
                except FedsiloError:
                    continue  # the silo aborted; its error is on the session
                following += self._to_aggregator(self._from_silo(out.recipient, replies))
            outgoing = following
        raise AssertionError("the in-memory federation did not terminate")

    @staticmethod
    def _start(silo: MaskingSilo) -> list[SiloMessage]:
        try:
            return silo.start()
        except FedsiloError:
            return []  # refused to join (its ledger said no); the error is on the session

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
        outgoing = []
        for message in (m for original in messages for m in self._expand(original)):
            for relayed in self.run_result.adversary.inbound(message):
                try:
                    outputs = self._timed("aggregator", lambda: self._deliver(relayed))  # noqa: B023
                except FedsiloError as exc:
                    self.run_result.rejected.append(exc)
                    continue
                outgoing += self._sends(outputs)
        return outgoing

    def _deliver(self, message: SiloMessage) -> Sequence[AggregatorOutput]:
        """Into the session as the runtime delivers it: a chunk of the masked vector as
        the raw bytes the transport carries, any other message as it is."""
        if isinstance(message, MaskedInput):
            data = words.words_to_bytes(message.values)
            return self.session.receive_chunk(
                message.context,
                Stage.MASKED_INPUT.value,
                message.sender,
                message.offset,
                message.total_length,
                data,
            )
        return self.session.receive(message)

    def _sends(self, outputs: Sequence[AggregatorOutput]) -> list[Outgoing]:
        """The messages to deliver; the session's audit events go to ``RunResult.events``."""
        sends = []
        for output in outputs:
            if isinstance(output, Outgoing):
                sends.append(output)
            elif not isinstance(output, Serve | Persist):
                self.run_result.events.append(output)
        return sends
