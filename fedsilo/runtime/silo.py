"""The silo node: connects out to the aggregator and runs each round's session.

Before it trusts anything it checks: the aggregator's certificate is the pinned
one (and every message claiming to come from the aggregator is signed by that
certificate's key); every other silo's certificate is the pinned one, valid and
not revoked; the announced config digest is ours; the model layout the
aggregator serves is the pinned one, and so is its own; the announcement is for
this silo's next round on its own chain head, with a session id derived from it.
The aggregator serves no model: the silo trains on the model it derived itself
(round 1: the pinned initial model), evaluates it on its held-out split, encodes
``[w * delta, w, correct, examples]`` (:mod:`fedsilo.training.weighted`), drives
its scheme's session (:meth:`fedsilo.protocol.scheme.Scheme.silo_session`) stage
by stage, verifies the release, derives the next model and optimizer state
(:mod:`fedsilo.training.chain_step`), stores them, finalizes the round in its
ledger and acks ``H_r``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from fedsilo.config.model import FederationConfig
from fedsilo.config.schemes import scheme_of, scheme_params
from fedsilo.crypto.entropy import Entropy, SystemEntropy
from fedsilo.crypto.prg import UIntArray
from fedsilo.crypto.signatures import IdentityKey, VerifyingKey
from fedsilo.errors import (
    ChainMismatchError,
    ConfigError,
    ContextMismatchError,
    EquivocationError,
    FedsiloError,
    NotJoinableError,
    PKIError,
    ProtocolError,
    ReleaseVerificationError,
    RemoteProtocolError,
    SessionClosedError,
    StageClosedError,
)
from fedsilo.pki.identity import Role
from fedsilo.pki.trust import TrustStore
from fedsilo.protocol.catchup import check_acks
from fedsilo.protocol.events import RoundFinalized
from fedsilo.protocol.ledger import RoundLedger
from fedsilo.protocol.messages import SessionContext
from fedsilo.protocol.outputs import (
    Fetch,
    Upload,
    evidence_download,
)
from fedsilo.protocol.reset import ResetRecord, apply_reset_records
from fedsilo.protocol.roster import Roster, SiloEntry
from fedsilo.protocol.scheme import RELEASE_STAGE, SiloSession
from fedsilo.runtime.chain_store import ChainStore
from fedsilo.runtime.disputes import DisputeStore
from fedsilo.runtime.events import EventLog
from fedsilo.runtime.session_vault import SessionVault
from fedsilo.training.chain_step import ChainStep, GlobalState
from fedsilo.training.local import LocalTrainer, check_served_layout
from fedsilo.training.server_optimizers import server_optimizer
from fedsilo.training.weighted import LocalResult, SecureFedAvg
from fedsilo.transport import codec
from fedsilo.transport.calls import (
    CallContext,
    InputChunk,
    JoinRequest,
    SignedEnvelope,
    StageMessage,
)
from fedsilo.transport.client import CHUNK_BYTES
from fedsilo.transport.codec import AggregatorEnvelope, Announcement, SessionOutcome
from fedsilo.transport.link import AggregatorLink

MAX_VECTOR_WORDS = 1 << 31


class _Stopwatch:
    """Wall and this thread's CPU seconds since construction."""

    def __init__(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.thread_time()

    def read(self) -> tuple[float, float]:
        return time.perf_counter() - self._wall, time.thread_time() - self._cpu


def secure_fedavg(config: FederationConfig) -> SecureFedAvg:
    """The weighted-update encoding, refused if any part of the sum could wrap."""
    scheme_params(config)  # the scheme's rules first: a node refuses what it cannot run
    quantizer = scheme_of(config).quantizer(config.scheme)
    codec = SecureFedAvg(quantizer, config.training.max_samples)
    codec.check_capacity(len(config.silos))
    return codec


@dataclass
class RoundResult:
    round: int
    survivors: tuple[int, ...]
    total: UIntArray


class SiloNode:
    """One institution's node."""

    def __init__(
        self,
        *,
        config: FederationConfig,
        name: str,
        identity: IdentityKey,
        client: AggregatorLink,
        trust: TrustStore,
        trainer: LocalTrainer,
        ledger: RoundLedger,
        chain: ChainStore,
        vault: SessionVault,
        log: EventLog,
        disputes: DisputeStore,
        entropy: Entropy | None = None,
        codec: SecureFedAvg | None = None,
        secret: bytes | None = None,
    ) -> None:
        """``codec`` encodes the local result as the integer vector to protect (default:
        :func:`secure_fedavg` of ``config``; it is refused if it disagrees with it);
        ``secret`` is the content of the scheme's per-silo secret file, for a scheme that
        has one (:attr:`~fedsilo.protocol.scheme.Scheme.secret_file`)."""
        if name not in config.silo_names:
            raise ConfigError(f"{name!r} is not a silo of {config.federation}")
        self.config, self.name, self.index = (
            config,
            name,
            config.silo_names.index(name) + 1,
        )
        self._identity, self._client, self._trust = identity, client, trust
        self._trainer, self._ledger, self._chain, self._log = trainer, ledger, chain, log
        self._vault, self._disputes = vault, disputes
        self._entropy = entropy or SystemEntropy()
        expected = secure_fedavg(config)
        self.codec = codec or expected
        if (self.codec.quantizer, self.codec.max_samples) != (
            expected.quantizer,
            expected.max_samples,
        ):
            raise ConfigError("the update encoding given to the silo is not the config's")
        self.params = scheme_params(config, self.codec.vector_length(trainer.layout.vector_length))
        self._scheme = scheme_of(config)
        self._secret = self._scheme_secret(secret)
        # every stage after the first opens with the aggregator's message to this silo
        self._awaited = self._scheme.stages[1:]
        self._digest = bytes.fromhex(config.digest().removeprefix("sha256:"))
        self._step = ChainStep(self.codec, server_optimizer(config.training), trainer.layout)
        self._state: GlobalState | None = None  # loaded at connect, after the layout checks
        self._trained: tuple[int, LocalResult] | None = None
        self._resets: tuple[ResetRecord, ...] = ()
        self._patience = config.timeouts.total + 30.0
        self._aggregator_key: VerifyingKey | None = None
        self._roster: Roster | None = None
        # the certificates served at join (DER), re-verified before every session
        self._aggregator_certificate = b""
        self._silo_certificates: tuple[tuple[int, str, bytes], ...] = ()

    def _scheme_secret(self, data: bytes | None) -> object:
        """The scheme's long-term secret of this silo, read and checked once, at start."""
        if self._scheme.secret_file is None:
            if data is not None:
                raise ConfigError(f"the {self._scheme.kind} scheme keeps no per-silo secret")
            return None
        if data is None:
            raise ConfigError(
                f"the {self._scheme.kind} scheme needs this silo's secret "
                f"({self._scheme.secret_file} in its state directory)"
            )
        return self._scheme.silo_secret(
            self.params, data, index=self.index, identity=self._identity
        )

    @property
    def ledger(self) -> RoundLedger:
        return self._ledger

    @property
    def state(self) -> GlobalState:
        """The model and optimizer state this silo derived for its next round."""
        if self._state is None:
            raise ProtocolError("the silo has not connected yet")
        return self._state

    def _load_state(self) -> GlobalState:
        """The state of the ledger's head: the pinned initial model at round 0, else the
        derived state stored for the last final round (refused if it does not match)."""
        self._trainer.check_initial(self.config.model.initial_sha256)
        if self._ledger.final_round == 0:
            return self._step.genesis(self._digest, self._trainer.initial_model())
        return self._chain.load(self._ledger.final_round, self._ledger.head)

    # --- trust --------------------------------------------------------------------------

    def connect(self) -> None:
        """Join, and check the aggregator's and every silo's certificate against the pins."""
        reply = self._client.join(JoinRequest(self.config.federation, self._digest, self.name))
        _, agg_cert = self._trust.verify_der(reply.aggregator_certificate, Role.AGGREGATOR)
        self._aggregator_key = VerifyingKey.from_public_key(agg_cert.public_key())
        self._aggregator_certificate = reply.aggregator_certificate
        if len(reply.silo_certificates) != len(self.config.silos):
            raise RemoteProtocolError("the aggregator sent a roster of the wrong size")
        entries = []
        for i, (der, silo) in enumerate(
            zip(reply.silo_certificates, self.config.silos, strict=True), 1
        ):
            member, cert = self._trust.verify_der(der, Role.SILO)
            if member.name != silo.name:
                raise RemoteProtocolError(
                    f"roster position {i} holds {member.name}, not {silo.name}"
                )
            entries.append(SiloEntry(i, silo.name, VerifyingKey.from_public_key(cert.public_key())))
        self._roster = Roster(tuple(entries))
        self._silo_certificates = tuple(
            (i, silo.name, der)
            for i, (der, silo) in enumerate(
                zip(reply.silo_certificates, self.config.silos, strict=True), 1
            )
        )
        # served == pinned and ours == served, so ours == pinned, and a mismatch is named
        check_served_layout(
            reply.model_layout, self.config.model.layout_sha256, self._trainer.layout
        )
        self._state = self._load_state()
        self._resets = tuple(ResetRecord.from_json(text) for text in reply.resets)
        self._log("joined", silo=self.name)
        if reply.chain_round > self._ledger.final_round:  # dropped, restarted or restored
            self.catch_up(reply.chain_round)
        self._apply_resets()

    def _revoked_peers(self) -> dict[int, str]:
        """Before a session: the current CRL (re-read if it changed; refused when stale, dated
        in the future or older than one accepted before), the aggregator's certificate and
        this silo's own against it; returns the peers whose certificates no longer verify,
        by roster index, with why. Raises :class:`PKIError` if this session cannot be run."""
        try:
            self._trust.fresh_crl()
            self._trust.verify_der(self._aggregator_certificate, Role.AGGREGATOR)
        except PKIError as exc:
            raise PKIError(f"this silo refuses to run a session: {exc}") from exc
        refused = {}
        for index, name, der in self._silo_certificates:
            try:
                self._trust.verify_der(der, Role.SILO)
            except PKIError as exc:
                if name == self.name:
                    raise PKIError(
                        f"this silo's own certificate no longer verifies: {exc}"
                    ) from exc
                refused[index] = f"{name} ({exc})"
        return refused

    def _apply_resets(self) -> None:
        """Apply every served epoch reset of this silo's next round that it has not yet:
        each is verified here (t operator signatures, max_resets, this federation and
        head) before the ledger lets the failed round run once more."""
        assert self._roster is not None
        applied = apply_reset_records(
            self._ledger,
            self._resets,
            self._roster,
            self.params.threshold,
            self.config.max_resets,
            self.config.federation,
            self._digest,
        )
        for reset in applied:
            self._vault.discard_all_but()  # the failed round's sessions are abandoned
            self._log(
                "reset-applied", silo=self.name, round=reset.failed_round, reset=reset.reset_index
            )

    def _open(self, signed: SignedEnvelope, *stages: str) -> AggregatorEnvelope:
        """The aggregator's signed message for one of ``stages``."""
        assert self._aggregator_key is not None
        return codec.open_message(self._aggregator_key, signed, stages)

    def _announcement(self, signed: SignedEnvelope) -> Announcement:
        """The aggregator's signed session announcement."""
        assert self._aggregator_key is not None
        return codec.open_announcement(self._aggregator_key, signed)

    def _round_context(
        self, round_number: int, stage: str, after_session: bytes = b""
    ) -> CallContext:
        """A request about a round rather than a session (its evidence, a catch-up, the
        announcement of a session after ``after_session``)."""
        return CallContext(
            self.config.federation, self._digest, after_session, round_number, stage, self.index
        )

    def _await(self, ctx: SessionContext | None, stage: str, round_number: int) -> SignedEnvelope:
        context = (
            CallContext.of(ctx, stage, self.index)
            if ctx is not None
            else self._round_context(round_number, stage)
        )
        return self._client.await_signed(context, self._patience)

    # --- rounds -------------------------------------------------------------------------

    def run_round(self, round_number: int) -> RoundResult:
        """Take part in ``round_number`` (this silo's next round), following restarted
        sessions, until it is verified and final here."""
        if self._roster is None:
            self.connect()
        previous = b""
        for _ in range(4):
            request = self._round_context(round_number, codec.ANNOUNCE_STAGE, previous)
            signed = self._client.await_signed(request, self._patience)
            announcement = self._announcement(signed)
            ctx = self._check_announcement(announcement, round_number)
            try:
                outcome = self._run_session(ctx, announcement)
            except NotJoinableError as exc:  # joined before a crash, or arrived too late
                self._log("session-skipped", silo=self.name, reason=str(exc))
                previous = ctx.session_id
                continue
            if isinstance(outcome, RoundResult):
                return outcome
            self._log("session-not-released", silo=self.name, reason=outcome.reason)
            previous = ctx.session_id
        raise ProtocolError(f"round {round_number} was not released after several sessions")

    def catch_up(self, target: int) -> None:
        """Verify and finalize every round up to ``target`` from its evidence, as a survivor
        of it would (its scheme's :meth:`~fedsilo.protocol.scheme.Scheme.verify_evidence`,
        then :mod:`fedsilo.protocol.catchup`); refuses to go on otherwise."""
        assert self._roster is not None
        quorum = self.params.quorum
        length = self.codec.vector_length(self._trainer.layout.vector_length)
        # the current CRL first (fresh, not older, not future-dated): a silo whose
        # certificate is revoked now cannot vouch for a round by its ack
        revoked = self._revoked_peers()
        while self._ledger.final_round < target:
            self._apply_resets()  # a reset made at this chain position counts here
            r = self._ledger.final_round + 1
            signed = self._await(None, codec.EVIDENCE_STAGE, r)
            message = self._open(signed, codec.EVIDENCE_STAGE)
            if message.evidence is None:
                raise RemoteProtocolError(f"the aggregator sent no evidence for round {r}")
            evidence = self._scheme.wire.evidence(message.evidence)
            # what the round's session served, sized by the scheme from the evidence
            downloads = {
                wanted.name: self._client.fetch(
                    wanted.name,
                    self._round_context(r, evidence_download(wanted.name)),
                    wanted.size,
                    1,
                )
                for wanted in self._scheme.evidence_fetches(
                    self.params, evidence, silos=len(self.config.silos), vector_length=length
                )
            }
            result = self._scheme.verify_evidence(
                self.params,
                evidence,
                downloads,
                roster=self._roster,
                federation=self.config.federation,
                config_digest=self._digest,
                chain=self._ledger.chain,
                vector_length=length,
            )
            derived = self._step.derive(self.state, result)
            check_acks(evidence, self._roster, derived.link.head, quorum, revoked)
            self._chain.save(derived.link, derived.state)
            self._ledger.finalize(r, derived.link.head)
            self._vault.discard_all_but()
            self._state = derived.state
            self._log("caught-up", silo=self.name, round=r)

    def _check_announcement(self, a: Announcement, round_number: int) -> SessionContext:
        ctx = a.context
        if ctx.federation_id != self.config.federation or ctx.config_digest != self._digest:
            raise ContextMismatchError(
                f"the aggregator announced config sha256:{ctx.config_digest.hex()}, "
                f"this silo runs {self.config.digest()}"
            )
        if ctx.session_id != a.hashed_id or len(a.nonce) != 32:
            raise RemoteProtocolError(
                "the announced session id is not SHA-256(announcement, nonce): refusing it"
            )
        if ctx.round < round_number:
            raise ContextMismatchError(
                f"announcement for round {ctx.round}, expected {round_number}"
            )
        if ctx.round > self._ledger.final_round + 1:
            self.catch_up(ctx.round - 1)  # verify every round this silo missed first
        self._ledger.chain.require_next(ctx.round, ctx.chain_head)  # before any training
        if a.scheme_params != self._scheme.announced(self.params):
            raise RemoteProtocolError(
                f"the aggregator announced {self._scheme.kind} parameters this silo's config "
                "does not have: refusing the session"
            )
        if not 0 < a.vector_length <= MAX_VECTOR_WORDS:
            raise RemoteProtocolError("the announced vector does not fit the config's limits")
        parameters = self.codec.parameters(a.vector_length)
        if parameters != self._trainer.layout.vector_length:
            raise RemoteProtocolError(
                f"the announced vector holds {parameters} parameters, the pinned model "
                f"{self._trainer.layout.vector_length}"
            )
        return ctx

    def _local_result(self, round_number: int) -> LocalResult:
        """Train once per round on the model this silo derived (sessions of one round reuse
        it; each session quantizes it with fresh randomness)."""
        if self._trained is None or self._trained[0] != round_number:
            result = self._trainer.local_round(round_number, self.state.model)
            self._log(
                "trained",
                silo=self.name,
                round=round_number,
                samples=result.samples,
                local_accuracy=round(result.evaluation.accuracy, 4),
            )
            self._trained = (round_number, result)
        return self._trained[1]

    def _resumed(self, ctx: SessionContext) -> SiloSession | None:
        """The session this silo kept before a crash, if the aggregator announces it again."""
        kept = self._vault.load(ctx.session_id)
        if kept is None:
            return None
        assert self._roster is not None
        session = self._scheme.resume_silo_session(
            self.params,
            kept,
            roster=self._roster,
            identity=self._identity,
            entropy=self._entropy,
            ledger=self._ledger,
            secret=self._secret,
        )
        self._log("session-resumed", silo=self.name, round=ctx.round, state=session.state.value)
        return session

    def _joined(self, ctx: SessionContext, revoked: dict[int, str]) -> SiloSession:
        """A new session of this round (the ledger admits it and abandons any earlier one),
        refusing to go on with any silo in ``revoked`` (index: why its certificate no
        longer verifies)."""
        if ctx.session_id in self._ledger.record.seen:
            raise NotJoinableError(
                f"session {ctx.session_id.hex()[:16]}… was joined before a restart and had not "
                "signed a view (or was abandoned): this silo waits for the next session"
            )
        if self.state.head != ctx.chain_head or self.state.round + 1 != ctx.round:
            raise ChainMismatchError(
                f"round {ctx.round} continues H_{ctx.round - 1} = {ctx.chain_head.hex()[:16]}…, "
                f"but this silo's model is the one after round {self.state.round} "
                f"(H = {self.state.head.hex()[:16]}…); it trains on nothing else"
            )
        result = self._local_result(ctx.round)
        assert self._roster is not None
        quantized = self.codec.encode(result, self._entropy)  # fresh rounding per session
        return self._scheme.silo_session(
            self.params,
            context=ctx,
            roster=self._roster,
            index=self.index,
            identity=self._identity,
            entropy=self._entropy,
            ledger=self._ledger,
            protected=quantized,
            revoked=revoked,
            secret=self._secret,
        )

    def _run_session(self, ctx: SessionContext, a: Announcement) -> RoundResult | SessionOutcome:
        revoked = self._revoked_peers()
        session = self._resumed(ctx)  # past its adverts: nothing left to refuse there
        if session is not None:
            self._send(ctx, session, session.pending())
            resumes_at = session.resumes_at
            if resumes_at is None:
                raise ProtocolError("a kept session that cannot resume")
            names = [spec.name for spec in self._awaited]
            stages = self._awaited[names.index(resumes_at) :]
        else:
            session = self._joined(ctx, revoked)
            try:
                self._send(ctx, session, session.start())
            except (SessionClosedError, StageClosedError) as exc:
                # the session went past its first stage before we arrived (we started late,
                # or were restored from a backup): we never joined it; wait for the next one
                raise NotJoinableError(
                    f"session {ctx.session_id.hex()[:16]}… no longer takes adverts "
                    f"({exc}); this silo waits for the next session"
                ) from exc
            except EquivocationError as exc:
                # this identity advertised other keys in this session before: the silo was
                # restored from a backup older than it, and has lost what it sent there;
                # it sends nothing more in this session
                raise NotJoinableError(
                    f"session {ctx.session_id.hex()[:16]}… already holds other adverts from "
                    f"this silo (restored from an older backup?) ({exc}); this silo waits "
                    "for the next session"
                ) from exc
            self._vault.discard_all_but(ctx.session_id)  # earlier sessions are abandoned
            stages = self._awaited
        kept: dict[str, SignedEnvelope] = {}  # the aggregator's signed words, for a dispute
        fetched = 0.0  # seconds spent downloading Y (and the inputs) at release
        verified = (0.0, 0.0)  # wall and CPU seconds of the verification work proper
        for stage in stages:
            signed = self._await(ctx, stage.name, ctx.round)
            # this silo's own cost of the stage, from the message's arrival to its replies
            stage_clock = _Stopwatch()
            message = self._open(signed, stage.name, codec.OUTCOME_STAGE)
            if message.recipient != self.index:
                raise RemoteProtocolError(
                    "the aggregator sent us a message addressed to another silo"
                )
            if message.outcome is not None:
                return codec.outcome_of(ctx, message.outcome)
            body = codec.session_body(ctx, stage.name, message)
            decoded = self._scheme.wire.aggregator_message(ctx, stage.name, body)
            kept[stage.name] = signed
            replies, fetched, verified = self._answer(ctx, session, decoded, kept)
            self._vault.keep(session)  # durable before the replies leave
            self._send(ctx, session, replies)
            seconds, cpu_seconds = stage_clock.read()
            self._log(
                "stage",
                silo=self.name,
                round=ctx.round,
                stage=stage.name,
                seconds=round(seconds, 4),
                cpu_seconds=round(cpu_seconds, 4),
                **({"fetch_seconds": round(fetched, 4)} if stage == RELEASE_STAGE else {}),
                **(
                    {
                        "verify_seconds": round(verified[0], 4),
                        "verify_cpu_seconds": round(verified[1], 4),
                    }
                    if stage.verifies
                    else {}
                ),
            )
        return self._finalize(ctx, session)

    def _answer(
        self,
        ctx: SessionContext,
        session: SiloSession,
        message: object,
        kept: dict[str, SignedEnvelope],
    ) -> tuple[list[object], float, tuple[float, float]]:
        """The session's answer to ``message``, with every download it asks for fetched and
        handed back. Returns the replies, the download seconds and the (wall, CPU) seconds
        the session itself took. A release that does not verify is kept as dispute
        evidence and aborts the round."""
        downloads: dict[str, bytearray] = {}
        fetch_seconds, wall, cpu = 0.0, 0.0, 0.0

        def timed(step: Callable[[], Sequence[object]]) -> list[object]:
            nonlocal wall, cpu
            clock = _Stopwatch()
            try:
                return list(step())
            finally:
                w, c = clock.read()
                wall, cpu = wall + w, cpu + c

        outputs = timed(lambda: session.receive(message))
        replies: list[object] = []
        while outputs:
            output = outputs.pop(0)
            if not isinstance(output, Fetch):
                replies.append(output)
                continue
            started = time.perf_counter()
            data = self._fetch(ctx, output)
            fetch_seconds += time.perf_counter() - started
            downloads[output.name] = data
            try:
                outputs += timed(lambda: session.fetched(output.name, data))  # noqa: B023
            except ReleaseVerificationError as exc:
                where = self._disputes.keep(ctx, kept, downloads, str(exc))
                self._log("release-refused", silo=self.name, round=ctx.round, kept=where.name)
                raise ReleaseVerificationError(
                    f"round {ctx.round} aborted: the aggregator's release does not verify "
                    f"({exc}); nothing was derived, the evidence is in {where}"
                ) from exc
        return replies, fetch_seconds, (wall, cpu)

    def _fetch(self, ctx: SessionContext, wanted: Fetch) -> bytearray:
        """Download what the session asked for, of exactly its size."""
        request = CallContext.of(ctx, wanted.name, self.index)
        return self._client.fetch(wanted.name, request, wanted.size, 1)

    def _finalize(self, ctx: SessionContext, session: SiloSession) -> RoundResult:
        """Derive the next state from the verified aggregate, store it, then finalize and ack."""
        if not session.verified or session.aggregate is None:
            raise FedsiloError(f"round {ctx.round}: the session ended unverified")
        derived = self._step.derive(self.state, session.aggregate)
        self._chain.save(derived.link, derived.state)  # durable before the ledger moves on
        acks = session.acknowledge(derived.link)  # the ledger is final for this round here
        # at once, before anything can fail: the next round trains on what the ledger holds
        self._state = derived.state
        self._send(ctx, session, acks)
        self._vault.discard_all_but()
        survivors = session.aggregate.survivors
        self._log.emit(RoundFinalized(ctx.round, self.name, derived.link.head.hex()))
        return RoundResult(ctx.round, survivors, session.aggregate.total)

    def _send(self, ctx: SessionContext, session: SiloSession, outputs: Sequence[object]) -> None:
        for output in outputs:
            if isinstance(output, Upload):
                self._client.upload_from(self._input_chunks(ctx, session, output))
            elif isinstance(output, Fetch):
                raise ProtocolError(f"the session asked to send a bare {type(output).__name__}")
            else:
                stage, sender, body = self._scheme.wire.silo_body(output)
                self._client.submit(StageMessage(CallContext.of(ctx, stage, sender), body))

    def _input_chunks(
        self, ctx: SessionContext, session: SiloSession, upload: Upload
    ) -> Callable[[int], Iterator[InputChunk]]:
        """The session's vector as upload chunks from any resume offset."""
        wire = CallContext.of(ctx, upload.stage, self.index)
        per_chunk = CHUNK_BYTES // upload.element_bytes
        total = upload.total_length

        def source(start: int) -> Iterator[InputChunk]:
            for offset in range(start, total, per_chunk):
                count = min(per_chunk, total - offset)
                yield InputChunk(wire, offset, total, session.vector_chunk(offset, count))

        return source
