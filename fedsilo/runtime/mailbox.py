"""The aggregator's mailbox: every call a silo makes, and every message it is sent.

The servicer (``fedsilo.transport.server``, or the in-memory transport)
authenticates each call and hands it here. The mailbox owns the open session of
the config's scheme (:meth:`fedsilo.protocol.scheme.Scheme.aggregator_session`;
all access under one lock), signs every message it sends with the aggregator's
certificate key, and keeps them in per-silo outboxes that silos poll with
``Await``. Time is the round driver's (:mod:`fedsilo.runtime.driver`): it opens
sessions here and closes their stages at the config's deadlines.

A masked-input stream that ends early is not folded away: the silo is told the
offset to resume from (if it never resumes, the driver re-runs the round as a
new session with fresh keys, before anything is revealed).

Each session is announced with a fresh nonce; its id is
``SHA-256(announcement ‖ nonce)`` (:func:`fedsilo.transport.codec.announce`), and
the announcement names the chain head ``H_{r-1}`` the round continues. After
unmasking, the released sum ``Y`` is served to the survivors, who verify it,
derive the next model themselves and ack ``H_r``.

From the moment the consistency signatures go out (silos may then reveal) the
session is journaled (:mod:`fedsilo.runtime.journal`) before any silo call is
acknowledged, and a restarted aggregator finishes *that* session
(:meth:`Mailbox.restore`, then the driver); it never re-runs the round.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fedsilo.config.model import FederationConfig
from fedsilo.config.schemes import scheme_of
from fedsilo.crypto.signatures import IdentityKey
from fedsilo.errors import (
    ConfigError,
    ContextMismatchError,
    DurabilityError,
    FalseShareError,
    FedsiloError,
    LocalProtocolError,
    NotReadyError,
    RemoteProtocolError,
    RosterError,
    SessionClosedError,
)
from fedsilo.pki.trust import Member
from fedsilo.protocol.events import (
    RoundOpened,
    StageAnswered,
)
from fedsilo.protocol.messages import Outgoing
from fedsilo.protocol.outputs import (
    EVIDENCE_DOWNLOAD_PREFIX,
    RESULT_DOWNLOAD,
    Aborted,
    AggregatorOutput,
    Persist,
    Serve,
    evidence_download,
)
from fedsilo.protocol.reset import ResetRecord
from fedsilo.protocol.roster import Roster
from fedsilo.protocol.scheme import ShareEvidence
from fedsilo.runtime.events import EventLog
from fedsilo.runtime.journal import JournaledSession, JournalEvent, SessionJournal
from fedsilo.runtime.rounds import (
    RoundPlan,
    SessionState,
    result_chunks_of,
)
from fedsilo.runtime.state import RoundArchive
from fedsilo.transport import codec, frames
from fedsilo.transport.calls import (
    CallContext,
    InputChunk,
    JoinReply,
    JoinRequest,
    ResultChunk,
    SignedEnvelope,
    StageMessage,
)


@dataclass(frozen=True)
class SessionProgress:
    """A snapshot of the open session: which round and session, the stage it collects,
    who it still waits for, the streamed elements folded per silo (roster order), and
    every accepted message as ``stage/silo``."""

    round: int
    session_id: bytes
    stage: str  # the stage collecting, or how the session ended: completed, aborted
    waiting_for: tuple[str, ...]
    received_words: tuple[int, ...]
    accepted: tuple[str, ...]


class Mailbox:
    """What the servicer threads and the round driver share: the open session, its
    outboxes and the silos' calls into it."""

    def __init__(
        self,
        *,
        config: FederationConfig,
        roster: Roster,
        params: Any,
        identity: IdentityKey,
        certificate_der: bytes,
        silo_certificates: list[bytes],
        model_layout: bytes,
        log: EventLog,
        journal: SessionJournal | None = None,
        archive: RoundArchive | None = None,
        resets: tuple[ResetRecord, ...] = (),
    ) -> None:
        """``params`` are the parameters of ``config``'s scheme (its sessions run with them)."""
        self.config, self.roster, self.params = config, roster, params
        self._scheme = scheme_of(config)
        # what a silo may download: what its scheme's sessions serve, and for a final
        # round, to catch up, the same from the archive
        self._fetchable = self._scheme.downloads + tuple(
            evidence_download(name) for name in self._scheme.downloads
        )
        self._resets = tuple(r.to_json() for r in resets)  # every silo verifies them itself
        self._journal, self._archive = journal, archive
        self._model_layout = model_layout
        self._identity, self._certificate_der = identity, certificate_der
        self._silo_certificates = silo_certificates
        self._digest = bytes.fromhex(config.digest().removeprefix("sha256:"))
        self._log = log
        self._cond = threading.Condition()
        self._session: SessionState | None = None
        self._previous: dict[bytes, SessionState] = {}
        self._stopping = False
        self._joined: set[str] = set()

    # --- helpers ------------------------------------------------------------------------

    def _signed(self, body: bytes, stage: str, kind: str = codec.MESSAGE_KIND) -> SignedEnvelope:
        return codec.sign(self._identity, body, kind, stage)

    def _check_member_context(self, member: Member, c: CallContext) -> None:
        """``c`` is for this federation and config, and in ``member``'s own name."""
        if c.federation != self.config.federation:
            raise ContextMismatchError(f"message for federation {c.federation!r}")
        if c.config_digest != self._digest:
            raise ContextMismatchError(
                f"config digest mismatch: peer sha256:{c.config_digest.hex()}, "
                f"aggregator {self.config.digest()}"
            )
        if c.sender != member.index:
            raise RosterError(
                f"{member.name} (silo {member.index}) sent a message in the name of silo {c.sender}"
            )

    def _session_of(self, member: Member, c: CallContext) -> SessionState:
        """The open session, which ``c`` must name (its stage label is the codec's to check;
        the session alone checks the rest of every message's context)."""
        self._check_member_context(member, c)
        session = self._session
        if session is None or c.session_id != session.ctx.session_id:
            raise SessionClosedError("the message belongs to another (or no longer open) session")
        return session

    @property
    def session_id(self) -> bytes | None:
        """The id of the session now open (None before the first)."""
        with self._cond:
            return None if self._session is None else self._session.ctx.session_id

    @property
    def progress(self) -> SessionProgress | None:
        """Where the open session stands (None before the first one): for monitoring, and
        to show that a refused call changed nothing."""
        with self._cond:
            s = self._session
            if s is None:
                return None
            core = s.core
            ending = core.ending
            return SessionProgress(
                s.ctx.round,
                s.ctx.session_id,
                core.stage or ("aborted" if isinstance(ending, Aborted) else "completed"),
                self.roster.names(sorted(core.waiting_for)),
                tuple(core.received(i) for i in range(1, self.roster.size + 1)),
                tuple(sorted(f"{k[0]}/{self.roster.name(k[1])}" for k in s.accepted)),
            )

    # --- handlers called by the servicer --------------------------------------------------

    def join(self, member: Member, request: JoinRequest) -> JoinReply:
        if request.federation != self.config.federation or request.config_digest != self._digest:
            raise ContextMismatchError(
                f"config digest mismatch: {member.name} runs "
                f"sha256:{request.config_digest.hex()}, the aggregator runs "
                f"{self.config.digest()}"
            )
        if request.name != member.name:
            raise RosterError(f"{member.name} asked to join as {request.name!r}")
        self._log("join", silo=member.name)
        with self._cond:
            self._joined.add(member.name)
            self._cond.notify_all()
        return JoinReply(
            aggregator_certificate=self._certificate_der,
            silo_certificates=tuple(self._silo_certificates),
            model_layout=self._model_layout,
            chain_round=self._archive.final_round() if self._archive else 0,
            resets=self._resets,
        )

    def submit(self, member: Member, message: StageMessage) -> None:
        c = message.context
        stage = c.stage
        # _session_of routes it to the open session, which checks its whole context
        decoded = self._scheme.wire.silo_message(c.session, stage, c.sender, message.body)
        with self._cond:
            session = self._session_of(member, c)
            waited, ended = member.index in session.core.waiting_for, session.core.ending
            try:  # the session takes an identical resend once and refuses a different one
                outgoing = session.core.receive(decoded)
            except FedsiloError as exc:
                if isinstance(exc, FalseShareError):
                    assert isinstance(exc.evidence, ShareEvidence)
                    self._log(
                        "false-share",
                        round=session.ctx.round,
                        silo=member.name,
                        owner=self.roster.name(exc.evidence.owner),
                        kind=exc.evidence.kind,
                        evidence=exc.evidence.record(),
                    )
                core = session.core
                changed = (waited and member.index not in core.waiting_for) or (
                    ended is None and core.ending is not None
                )
                if session.journaled and changed:
                    # a refusal that excluded its sender or ended the session is journaled
                    # too (once per silo at most), so a restored session refuses it again
                    event = JournalEvent("refused", frames.stage_message_bytes(message))
                    self._journal_event(session, event)
                raise
            key = (stage, member.index)
            if key in session.accepted:
                return  # a resend the session took as one: journaled and announced once
            if session.journaled:  # durable before the silo's call is acknowledged
                # what the message made the session send waits for the journal: if the
                # append fails the silo is refused, and its retry journals and sends it
                outgoing = session.unjournaled.setdefault(key, outgoing)
                self._journal_event(
                    session, JournalEvent("submit", frames.stage_message_bytes(message))
                )
                del session.unjournaled[key]
            session.accepted[key] = message
            self._log.emit(StageAnswered(session.ctx.round, member.name, stage))
            self._publish(session, outgoing)

    def upload(self, member: Member, chunks: Iterator[InputChunk]) -> None:
        """Fold a streamed vector chunk by chunk; raises IncompleteUploadError (with the
        offset to resume from) if it ends early."""
        session: SessionState | None = None
        for chunk in chunks:
            c = chunk.context
            stage = c.stage
            with self._cond:
                session = self._session_of(member, c)
                outputs = session.core.receive_chunk(
                    c.session, c.stage, member.index, chunk.offset, chunk.total_length, chunk.data
                )
                self._publish(session, outputs)
        if session is None:
            raise RemoteProtocolError("an empty vector stream")
        with self._cond:
            session.core.end_of_stream(member.index)
            if (stage, member.index) not in session.streamed:  # announced once, as a submit
                session.streamed.add((stage, member.index))
                self._log.emit(StageAnswered(session.ctx.round, member.name, stage))

    def await_message(self, member: Member, c: CallContext, timeout: float) -> SignedEnvelope:
        """Block until the message ``member`` waits for exists, up to ``timeout`` seconds."""
        if c.sender != member.index:
            raise RosterError(f"{member.name} polled in the name of silo {c.sender}")
        with self._cond:
            key_of = self._await_key(c, member)
            self._cond.wait_for(lambda: key_of() is not None or self._stopping, timeout)
            found = key_of()
            if found is None:
                raise NotReadyError(f"nothing for stage {c.stage!r} yet")
            return found

    def _await_key(self, c: CallContext, member: Member) -> Callable[[], SignedEnvelope | None]:
        def lookup() -> SignedEnvelope | None:
            if c.stage == codec.EVIDENCE_STAGE:
                return self._evidence(member.index, c.round)
            if c.stage == codec.ANNOUNCE_STAGE:
                s = self._session
                if s is not None and s.ctx.round >= c.round and s.ctx.session_id != c.session_id:
                    return s.announcement
                return None
            session = self._session
            sid = c.session_id
            if session is None or session.ctx.session_id != sid:
                session = self._previous.get(sid)
            if session is None:
                return None
            return session.outbox.get((c.stage, member.index)) or session.outbox.get(
                (codec.OUTCOME_STAGE, member.index)
            )

        return lookup

    def _evidence(self, recipient: int, round_number: int) -> SignedEnvelope | None:
        """A final round's evidence, for a silo catching up (it verifies every part)."""
        data = self._archive.evidence(round_number) if self._archive else None
        if data is None:
            return None
        message = codec.evidence_message(recipient, round_number, data)
        return self._signed(message, codec.EVIDENCE_STAGE)

    def result_chunks(self, member: Member, request: CallContext) -> Iterator[ResultChunk]:
        """What a session serves its members (its released aggregate first: with masking a
        sum of >= t masked inputs, which the aggregator may show any member), or what the
        session of a final round served, for a silo catching up."""
        stage = self._check_fetch(member, request)
        if stage.startswith(EVIDENCE_DOWNLOAD_PREFIX):
            archive, r = self._archive, request.round
            name = stage.removeprefix(EVIDENCE_DOWNLOAD_PREFIX)
            kept = archive.download(r, name) if archive is not None else None
            if kept is None:
                raise NotReadyError(f"no final round {r} (or it kept no {name})")
            return result_chunks_of(kept, 1)
        sid = request.session_id
        with self._cond:
            session = (
                self._session if self._session and self._session.ctx.session_id == sid else None
            )
            session = session or self._previous.get(sid)
            # a session serves what it declared once it says so (masking: everything with
            # its release; a scheme may serve the others' contributions before it)
            data = None if session is None else session.downloads.get(stage)
            if session is None or data is None:
                if stage == RESULT_DOWNLOAD:
                    raise NotReadyError("no released aggregate for that session")
                raise NotReadyError(
                    f"that session serves no {stage} (not yet, or not in this mode)"
                )
            if stage != RESULT_DOWNLOAD:
                return result_chunks_of(data, 1)
        return self._counted(session, member, result_chunks_of(data, 1))

    def _check_fetch(self, member: Member, c: CallContext) -> str:
        """The stage of a fetch that is ``member``'s own, for this federation and config, of
        a kind there is (the same gate as every other call, before anything is looked up)."""
        self._check_member_context(member, c)
        if c.stage not in self._fetchable:
            raise RemoteProtocolError(
                f"there is nothing to fetch for stage {c.stage!r} "
                f"(one of {', '.join(self._fetchable)})"
            )
        return c.stage

    def _counted(
        self, session: SessionState, member: Member, chunks: Iterator[ResultChunk]
    ) -> Iterator[ResultChunk]:
        """A silo counts as served only once its last chunk has gone out."""
        yield from chunks
        with self._cond:
            session.fetched.add(member.index)
            self._cond.notify_all()

    # --- publishing ---------------------------------------------------------------------

    def _publish(self, session: SessionState, outputs: Sequence[AggregatorOutput]) -> None:
        """Carry out a session's outputs: audit events logged, downloads served, messages
        signed into the outboxes, the journal begun before any of them can be seen."""
        signed: dict[tuple[str, int], SignedEnvelope] = {}
        persist: Persist | None = None
        events = []
        for output in outputs:  # state first, so a failing log write cannot lose any of it
            if isinstance(output, Outgoing):
                stage, body = self._scheme.wire.aggregator_body(output.message)
                wire = codec.aggregator_message(output.recipient, session.ctx, stage, body)
                signed[(stage, output.recipient)] = self._signed(wire, stage)
            elif isinstance(output, Serve):
                if output.name not in self._scheme.downloads:  # nothing could fetch it
                    raise LocalProtocolError(
                        f"the {self._scheme.kind} session served {output.name!r}, which is not "
                        f"one of its scheme's downloads ({', '.join(self._scheme.downloads)})"
                    )
                session.downloads[output.name] = output.data
            elif isinstance(output, Persist):
                persist = output
            else:
                events.append(output)
        if persist is not None and not session.journaled:
            self._persist(session, persist, signed)  # before any silo can see the bundle
        session.outbox.update(signed)
        if signed:
            self._cond.notify_all()
        if not session.replaying:  # replayed events were logged before the crash
            for event in events:
                self._log.emit(event)

    def _persist(
        self,
        session: SessionState,
        persist: Persist,
        bundles: dict[tuple[str, int], SignedEnvelope],
    ) -> None:
        if self._journal is None:
            session.journaled = True  # in-process use (tests, bench): nothing to survive
            return
        outbox = {**session.outbox, **bundles}
        header = {
            "chain_head": session.plan.chain_head.hex(),
            "resets": len(self._resets),  # a reset installed later abandons this session
            "vector_length": session.plan.vector_length,
            "announcement": session.announcement.hex(),
            "scheme": persist.record,
            "outbox": [[k[0], k[1], v.hex()] for k, v in outbox.items()],
        }
        try:
            self._journal.begin(session.ctx.round, header, persist.data, session.downloads)
        except DurabilityError as exc:
            session.core.abandon(exc)  # nothing was revealed: the round runs a new session
            raise
        session.journaled = True
        self._log("journaled", round=session.ctx.round)

    def _journal_event(self, session: SessionState, event: JournalEvent) -> None:
        if self._journal is not None and not session.replaying:
            self._journal.append(event)

    def publish_outcome(
        self, session: SessionState, released: bool, reason: str, survivors: tuple[int, ...]
    ) -> None:
        """Tell every silo how the session ended (signed, in its outbox). Under the lock."""
        for index in range(1, self.roster.size + 1):
            body = codec.outcome_message(index, session.ctx, released, list(survivors), reason)
            session.outbox[(codec.OUTCOME_STAGE, index)] = self._signed(body, codec.OUTCOME_STAGE)
        self._cond.notify_all()

    # --- what the round driver does to the open session --------------------------------

    @property
    def condition(self) -> threading.Condition:
        """The one lock of the aggregator's state, with the condition every waiter uses."""
        return self._cond

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def current(self) -> SessionState | None:
        """The open session (the last one, once the rounds are over). Under the lock."""
        return self._session

    @property
    def joined(self) -> frozenset[str]:
        """The silos that joined since this aggregator started."""
        return frozenset(self._joined)

    def open(self, plan: RoundPlan) -> SessionState:
        """Announce a new session of ``plan`` with a fresh nonce; it is the open one now."""
        body = codec.announce(
            self.config.federation,
            self._digest,
            plan.round,
            plan.chain_head,
            plan.vector_length,
            self._scheme.announced(self.params),
            os.urandom(32),
        )
        ctx = codec.announcement(body).context
        core = self._scheme.aggregator_session(
            self.params, context=ctx, roster=self.roster, vector_length=plan.vector_length
        )
        signed = self._signed(body, codec.ANNOUNCE_STAGE, codec.ANNOUNCEMENT_KIND)
        session = SessionState(ctx, core, plan, signed)
        with self._cond:
            if self._session is not None:
                self._previous = {self._session.ctx.session_id: self._session}
            self._session = session
            self._cond.notify_all()
        self._log.emit(RoundOpened(plan.round, ctx.session_id.hex()[:32]))
        return session

    def restore(self, journaled: JournaledSession) -> SessionState:
        """The journaled session of a round that reached unmasking before a crash, rebuilt
        (its outbox, then every journaled message replayed), open again."""
        header = journaled.header
        try:
            signed = bytes.fromhex(header["announcement"])
            ctx = codec.kept_announcement(signed).context
            # a journal written before the scheme seam kept the scheme's record at its top
            record = header.get("scheme", header)
            plan = RoundPlan(
                ctx.round, bytes.fromhex(header["chain_head"]), int(header["vector_length"])
            )
            outbox = {
                (str(stage), int(index)): bytes.fromhex(kept)
                for stage, index, kept in header["outbox"]
            }
        except (KeyError, TypeError, ValueError, AttributeError, FedsiloError) as exc:
            raise ConfigError(
                f"the journaled session is malformed ({exc!r}); see the journal"
            ) from exc
        if not isinstance(record, dict):
            raise ConfigError("the journaled session's scheme record is not a mapping")
        core = self._scheme.resume_aggregator_session(
            self.params, record, journaled.total, context=ctx, roster=self.roster
        )
        session = SessionState(ctx, core, plan, signed)
        session.journaled = session.replaying = True
        session.outbox.update(outbox)
        session.downloads.update(journaled.downloads)  # the resumed session serves only anew
        with self._cond:
            self._session = session
            for event in journaled.events:
                self._replay(session, event)
            session.replaying = False
            self._cond.notify_all()
        self._log("session-resumed", round=ctx.round, events=len(journaled.events))
        return session

    def _replay(self, session: SessionState, event: JournalEvent) -> None:
        if event.kind == "close":
            with contextlib.suppress(FedsiloError):
                self._publish(session, session.core.close_stage())
            return
        message = frames.stage_message_of(event.body)
        stage, sender = message.context.stage, message.context.sender
        decoded = self._scheme.wire.silo_message(session.ctx, stage, sender, message.body)
        if event.kind == "refused":  # refused again, with the same exclusion or ending
            with contextlib.suppress(FedsiloError):
                session.core.receive(decoded)
            return
        session.accepted[(stage, sender)] = message
        self._publish(session, session.core.receive(decoded))

    def close_stage(self, session: SessionState, stage: str) -> None:
        """Close ``stage`` of ``session`` at its deadline (journaled first once revealing);
        if too few answered, the session's ``ending`` says so. Call under the lock."""
        if session.journaled:
            self._journal_event(session, JournalEvent("close", stage=stage))
        # a journal that cannot be begun abandons the session (its ending says so)
        with contextlib.suppress(FedsiloError):
            self._publish(session, session.core.close_stage())

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
