"""Run one session of any registered scheme in memory, through the seam alone.

:func:`run_scheme_session` drives a scheme's silo and aggregator sessions exactly as the
runtime does, knowing nothing of the scheme: every small message goes through the
scheme's wire (encoded, then decoded under the envelope's session), every streamed
vector is read chunk by chunk from the silo session and folded by the aggregator's,
every download is served from what the aggregator session served and handed back to the
silo session that asked, a verified silo derives a chain link and acks it, and a stage
that stalls (everyone left has answered or dropped) is closed as at its deadline. The
conformance suite runs every scheme through it, with dropouts at every stage and a
malicious aggregator's moves.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fedsilo.crypto.prg import UIntArray
from fedsilo.crypto.quantize import Quantizer
from fedsilo.crypto.signatures import IdentityKey
from fedsilo.errors import ConfigError, FedsiloError
from fedsilo.protocol.fields import Reader
from fedsilo.protocol.ledger import RoundLedger
from fedsilo.protocol.messages import AggregateResult, Outgoing, SessionContext
from fedsilo.protocol.outputs import Ending, Fetch, Persist, Serve, Upload
from fedsilo.protocol.roster import Roster, SiloEntry
from fedsilo.protocol.scheme import AggregatorSession, FederationFacts, Scheme, SiloSession
from fedsilo.testing.dealing import SecretDealer
from fedsilo.testing.entropy import SeededEntropy
from fedsilo.testing.harness import genesis_ledger, protocol_link, session_context

CHUNK_ELEMENTS = 7  # small and odd, so every vector crosses chunk boundaries


@dataclass(frozen=True)
class SchemeFederation:
    """A test federation of ``scheme``: its roster, identities, parsed section, params."""

    scheme: Scheme
    roster: Roster
    identities: tuple[IdentityKey, ...]
    section: Any
    params: Any
    # each silo's secret file and what the scheme's silo_secret read from it (by roster
    # index), for a scheme that keeps one; empty otherwise
    secret_files: Mapping[int, bytes] = field(default_factory=dict)
    secrets: Mapping[int, Any] = field(default_factory=dict)
    federation_id: str = "conformance"
    config_digest: bytes = b"\x0c" * 32

    @property
    def quantizer(self) -> Quantizer:
        return self.scheme.quantizer(self.section)

    def context(
        self, session: int = 1, round_number: int = 1, chain_head: bytes | None = None
    ) -> SessionContext:
        return session_context(
            self.federation_id, self.config_digest, session, round_number, chain_head
        )

    def ledger(self) -> RoundLedger:
        """A silo ledger at round 0 of this federation's chain, kept in memory."""
        return genesis_ledger(self.config_digest)


def _parsed(scheme: Scheme, section: dict[str, Any], facts: FederationFacts) -> Any:
    reader = Reader()
    parsed = scheme.parse(reader, section, facts)
    if reader.problems or parsed is None:
        raise ConfigError("; ".join(reader.problems) or "the section did not parse")
    return parsed


def scheme_federation(
    scheme: Scheme, silos: int, vector_length: int, seed: int = 0, **section: Any
) -> SchemeFederation:
    """A federation of ``silos`` fresh identities running ``scheme`` with its local section
    (``section`` overrides keys of it); refused, naming the problems, if it does not parse
    or its rules fail. A scheme that keeps per-silo secrets and deals them for tests
    (:class:`~fedsilo.testing.dealing.SecretDealer`) gets a fresh deal from ``seed``: its
    public keys go into the section, and each silo's secret file is read back through
    the scheme's own ``silo_secret``, as a silo node reads it."""
    identities = tuple(IdentityKey.generate() for _ in range(silos))
    names = tuple(f"silo-{i}" for i in range(1, silos + 1))
    roster = Roster(
        tuple(SiloEntry(i, names[i - 1], k.verifying_key) for i, k in enumerate(identities, 1))
    )
    facts = FederationFacts(names, "aggregator", max_samples=1000, min_silos=None)
    wanted = {**scheme.local_section(), **section}
    parsed = _parsed(scheme, wanted, facts)
    files: dict[int, bytes] = {}
    if scheme.secret_file is not None:
        if not isinstance(scheme, SecretDealer):
            raise ConfigError(f"the test kit cannot deal {scheme.kind} secrets")
        deal = scheme.deal_test_secrets(
            silos=silos,
            threshold=parsed.threshold,
            entropy=SeededEntropy("deal", seed),
            recipients={i: k.verifying_key for i, k in enumerate(identities, 1)},
        )
        parsed = _parsed(scheme, {**wanted, **deal.section}, facts)
        files = deal.files
    params = scheme.params(parsed, facts, vector_length)
    secrets = {
        i: scheme.silo_secret(params, data, index=i, identity=identities[i - 1])
        for i, data in files.items()
    }
    return SchemeFederation(scheme, roster, identities, parsed, params, files, secrets)


@dataclass
class SessionRun:
    """What one session did: how the aggregator's ended, what each silo computed, the
    error each silo that gave up raised, and every download the aggregator served."""

    ending: Ending | None
    aggregates: dict[int, AggregateResult] = field(default_factory=dict)
    silo_errors: dict[int, FedsiloError] = field(default_factory=dict)
    aggregator_errors: list[FedsiloError] = field(default_factory=list)
    served: dict[str, bytes] = field(default_factory=dict)
    persisted: bool = False


def run_scheme_session(
    fed: SchemeFederation,
    inputs: Sequence[UIntArray],
    *,
    context: SessionContext | None = None,
    ledgers: Mapping[int, RoundLedger] | None = None,
    drop_at: Mapping[int, str] | None = None,
    stop_at: str | None = None,
    tamper: Callable[[str, bytes], bytes] | None = None,
    seed: int = 0,
) -> SessionRun:
    """One session over ``inputs`` (silo ``i``'s protected vector is ``inputs[i - 1]``).

    ``drop_at`` maps a silo to the stage from which it falls silent (it sends nothing
    of that stage or later); ``stop_at`` is the stage at which the aggregator stops
    (it fails: nothing of that stage or later is delivered); ``tamper`` rewrites a
    download as the aggregator serves it (name, bytes -> bytes). Silos whose session
    cannot even be opened (it refuses the context) are recorded in ``silo_errors``.
    """
    ctx = context or fed.context()
    ledgers = ledgers or {i: fed.ledger() for i in range(1, fed.roster.size + 1)}
    driver = _Driver(fed, ctx, dict(drop_at or {}), stop_at, tamper)
    for i in range(1, fed.roster.size + 1):
        try:
            driver.silos[i] = fed.scheme.silo_session(
                fed.params,
                context=ctx,
                roster=fed.roster,
                index=i,
                identity=fed.identities[i - 1],
                entropy=SeededEntropy("conformance", seed, i),
                ledger=ledgers[i],
                protected=inputs[i - 1],
                secret=fed.secrets.get(i),
            )
        except FedsiloError as exc:
            driver.run.silo_errors[i] = exc
    driver.aggregator = fed.scheme.aggregator_session(
        fed.params, context=ctx, roster=fed.roster, vector_length=len(inputs[0])
    )
    driver.drive()
    return driver.run


class _Driver:
    """What the runtime does around one session, in memory."""

    aggregator: AggregatorSession

    def __init__(
        self,
        fed: SchemeFederation,
        ctx: SessionContext,
        drop_at: dict[int, str],
        stop_at: str | None,
        tamper: Callable[[str, bytes], bytes] | None,
    ) -> None:
        self.ctx, self.wire = ctx, fed.scheme.wire
        self.drop_at, self.stop_at, self.tamper = drop_at, stop_at, tamper
        self.order = {name: i for i, name in enumerate(fed.scheme.stage_names)}
        self.run = SessionRun(None)
        self.silos: dict[int, SiloSession] = {}
        self.inbox: dict[int, list[Any]] = {i: [] for i in range(1, fed.roster.size + 1)}
        self.dead: set[int] = set()

    def _before_stop(self, stage: str) -> bool:
        return self.stop_at is None or self.order[stage] < self.order[self.stop_at]

    def _speaks(self, index: int, stage: str) -> bool:
        drop = self.drop_at.get(index)
        if index in self.dead or (drop is not None and self.order[stage] >= self.order[drop]):
            self.dead.add(index)
            return False
        return self._before_stop(stage)

    def _publish(self, outputs: Sequence[Any]) -> None:
        for output in outputs:
            if isinstance(output, Outgoing):
                stage, body = self.wire.aggregator_body(output.message)
                if self._before_stop(stage):  # else the aggregator failed before it
                    message = self.wire.aggregator_message(self.ctx, stage, body)
                    self.inbox[output.recipient].append(message)
            elif isinstance(output, Serve):
                data = bytes(output.data)
                self.run.served[output.name] = (
                    self.tamper(output.name, data) if self.tamper else data
                )
            elif isinstance(output, Persist):
                self.run.persisted = True

    def _to_aggregator(self, call: Callable[[], Sequence[Any]]) -> None:
        try:
            self._publish(call())
        except FedsiloError as exc:  # refused: the sender's loss, the session goes on
            self.run.aggregator_errors.append(exc)

    def _upload(self, index: int, upload: Upload) -> None:
        session, total = self.silos[index], upload.total_length
        for offset in range(0, total, CHUNK_ELEMENTS):
            data = session.vector_chunk(offset, min(CHUNK_ELEMENTS, total - offset))
            self._to_aggregator(
                functools.partial(
                    self.aggregator.receive_chunk,
                    self.ctx,
                    upload.stage,
                    index,
                    offset,
                    total,
                    data,
                )
            )
        self.aggregator.end_of_stream(index)

    def _send(self, index: int, outputs: Sequence[Any]) -> None:
        session = self.silos[index]
        for output in outputs:
            if isinstance(output, Upload):
                if not self._speaks(index, output.stage):
                    return
                self._upload(index, output)
            elif isinstance(output, Fetch):
                data = self.run.served.get(output.name, b"")
                if len(data) != output.size:
                    raise FedsiloError(f"{output.name} is {len(data)} bytes, not {output.size}")
                self._send(index, session.fetched(output.name, bytearray(data)))
            else:
                stage, sender, body = self.wire.silo_body(output)
                if not self._speaks(index, stage):
                    return
                decoded = self.wire.silo_message(self.ctx, stage, sender, body)
                self._to_aggregator(functools.partial(self.aggregator.receive, decoded))

    def _step(self, index: int, call: Callable[[], Sequence[Any]]) -> None:
        session = self.silos[index]
        try:
            self._send(index, call())
            if session.verified and session.aggregate is not None:
                self.run.aggregates[index] = session.aggregate
                self._send(index, session.acknowledge(protocol_link(session.aggregate)))
        except FedsiloError as exc:
            self.run.silo_errors[index] = exc
            self.dead.add(index)

    def drive(self) -> None:
        for index, session in self.silos.items():
            self._step(index, session.start)
        while self.aggregator.ending is None:
            delivered = False
            for index, session in self.silos.items():
                while self.inbox[index]:
                    message = self.inbox[index].pop(0)
                    if index not in self.dead:
                        self._step(index, functools.partial(session.receive, message))
                        delivered = True
            if delivered:
                continue
            stage = self.aggregator.stage
            if stage is not None and not self._before_stop(stage):
                break  # the aggregator failed here
            self._to_aggregator(self.aggregator.close_stage)  # the stage's deadline passed
        self.run.ending = self.aggregator.ending


def quantized_inputs(fed: SchemeFederation, length: int, seed: int = 0) -> list[UIntArray]:
    """Each silo's protected vector: ``length`` random floats in [-1, 1], quantized by the
    scheme's own quantizer."""
    rng = np.random.default_rng(seed)
    quantizer = fed.quantizer
    return [
        quantizer.quantize(rng.uniform(-1, 1, length).astype(np.float32), SeededEntropy(seed, i))
        for i in range(1, fed.roster.size + 1)
    ]


__all__ = [
    "SchemeFederation",
    "SessionRun",
    "quantized_inputs",
    "run_scheme_session",
    "scheme_federation",
]
