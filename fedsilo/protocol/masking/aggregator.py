"""The aggregator side of a masking session: a pure state machine.

The aggregator collects one kind of silo message per stage. A stage closes
when every silo it waits for has answered, or when the runtime calls
:meth:`MaskingAggregator.close_stage` at the deadline; with fewer than ``t``
answers the session aborts and releases nothing. Masked inputs are folded
into a single non-wrapped running sum ``Y`` (:class:`~fedsilo.crypto.sketch.WideSum`:
the sum mod 2^k plus one carry byte a word) as their chunks arrive, so memory
is one vector whatever the number of silos. With full release verification
(``MaskingParams.full_verification``, small vectors only) it also keeps a copy of
every silo's ``y_u`` and releases the survivors' with ``Y``, so that every silo
adds them up itself.

A survivor counts once its whole vector and its signed input commitment have
arrived. Every survivor must then sign the consistency check (its sketch is
needed to verify the release); otherwise the session aborts before anything
is revealed. After unmasking the aggregator hands every survivor ``Y`` and the
reconstructed secrets (:class:`~fedsilo.protocol.messages.ReleaseBundle`) and
collects their acks of ``H_r``; a missing ack never un-releases the round.

A bad message from one silo raises (so the adapter can answer that silo with
an error) and excludes that silo from the stage, but does not abort the
session: one faulty silo must not sink a round the others can finish.
"""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from fedsilo.crypto import feldman, group
from fedsilo.crypto.prg import DEFAULT_CHUNK_WORDS, UIntArray, word_dtype
from fedsilo.crypto.sketch import CHALLENGES, SKETCH_PRIME, WideSum
from fedsilo.errors import (
    ContextMismatchError,
    CryptoError,
    FalseShareError,
    FedsiloError,
    LocalProtocolError,
    PartialInputError,
    ProtocolError,
    ReleaseVerificationError,
    RemoteProtocolError,
    RosterError,
    SignatureError,
    StageClosedError,
    TooFewSurvivorsError,
    UnexpectedMessageError,
    UnverifiableReleaseError,
)
from fedsilo.protocol.answers import AnswerBook
from fedsilo.protocol.chain import verify_ack
from fedsilo.protocol.events import AuditEvent, InputAccepted
from fedsilo.protocol.masking import payloads, records, sharing
from fedsilo.protocol.masking.messages import (
    AdvertList,
    ConsistencySignature,
    InputCommitment,
    KeyAdvert,
    MaskedInput,
    MaskingSet,
    ReleaseBundle,
    RevealedSecret,
    RoundEvidence,
    ShareCheck,
    ShareRelay,
    ShareUpload,
    SignatureBundle,
    SiloMessage,
    Stage,
    SurvivorList,
    UnmaskingShares,
)
from fedsilo.protocol.masking.params import MaskingParams
from fedsilo.protocol.masking.payloads import SurvivorView
from fedsilo.protocol.masking.release import (
    LIMB_BITS,
    aggregate_words,
    check_inputs,
    check_spot_answer,
    limbs,
    limbs_per_word,
    remove_masks,
)
from fedsilo.protocol.masking.states import AGGREGATOR_ACCEPTS, AGGREGATOR_NEXT, AggregatorState
from fedsilo.protocol.messages import Ack, AggregateResult, Outgoing, SessionContext
from fedsilo.protocol.roster import Roster

_STAGE_OF_STATE = {
    AggregatorState.COLLECT_ADVERTS: Stage.ADVERTISE_KEYS,
    AggregatorState.COLLECT_SHARES: Stage.SHARE_KEYS,
    AggregatorState.COLLECT_CHECKS: Stage.SHARE_CHECK,
    AggregatorState.COLLECT_INPUTS: Stage.MASKED_INPUT,
    AggregatorState.COLLECT_SIGNATURES: Stage.CONSISTENCY_CHECK,
    AggregatorState.COLLECT_UNMASKING: Stage.UNMASKING,
    AggregatorState.COLLECT_ACKS: Stage.RELEASE,
}


class MaskingAggregator:
    """The aggregator's session of one masked aggregation of ``vector_length`` words."""

    def __init__(
        self,
        *,
        context: SessionContext,
        roster: Roster,
        params: MaskingParams,
        vector_length: int,
        chunk_words: int = DEFAULT_CHUNK_WORDS,
    ) -> None:
        if roster.size != params.silos:
            raise LocalProtocolError("the roster and the parameters disagree on n")
        if vector_length < 1:
            raise LocalProtocolError("the vector length must be positive")
        self.context, self._roster, self._params = context, roster, params
        self._length, self._chunk_words = vector_length, chunk_words
        self._state = AggregatorState.COLLECT_ADVERTS
        self._expected: frozenset[int] = roster.indices
        self._answers: dict[int, Any] = {}  # this stage's
        self._book = AnswerBook(roster.name)  # the whole session's: resends and equivocation
        self._received: dict[int, int] = {}  # words of masked input folded, per silo
        self._inputs: dict[int, UIntArray] = {}  # each silo's y_u, kept in full mode only
        self._adverts: dict[int, KeyAdvert] = {}
        self._uploads: dict[int, ShareUpload] = {}
        self._masking: tuple[int, ...] = ()  # U2': who masks with whom
        # dealers accused in a signed share check, and by whom (they are left out of U2')
        self._accused: dict[int, tuple[int, ...]] = {}
        self._overruled: list[int] = []  # accusers left out for accusing too many
        self._survivors: tuple[int, ...] = ()
        self._dropped: tuple[int, ...] = ()
        self._view: SurvivorView | None = None
        self._sum = WideSum.zeros(0, LIMB_BITS)
        self._limbs = limbs_per_word(params.bits)
        self._acks: dict[int, Ack] = {}
        self._published: dict[type, Any] = {}  # the one message of each kind sent to all
        self._false_shares: list[sharing.FalseShareEvidence] = []
        self._events: list[AuditEvent] = []  # drained by take_events()
        self.result: AggregateResult | None = None
        self.error: FedsiloError | None = None
        self._checks: dict[type, Callable[[Any], None]] = {
            KeyAdvert: self._check_advert,
            ShareUpload: self._check_upload,
            ShareCheck: self._check_share_check,
            InputCommitment: self._check_commitment,
            ConsistencySignature: self._check_signature,
            UnmaskingShares: self._check_unmasking,
            Ack: self._check_ack,
        }
        self._advance: dict[AggregatorState, Callable[[], list[Outgoing]]] = {
            AggregatorState.COLLECT_ADVERTS: self._after_adverts,
            AggregatorState.COLLECT_SHARES: self._after_shares,
            AggregatorState.COLLECT_CHECKS: self._after_checks,
            AggregatorState.COLLECT_INPUTS: self._after_inputs,
            AggregatorState.COLLECT_SIGNATURES: self._after_signatures,
            AggregatorState.COLLECT_UNMASKING: self._after_unmasking,
        }

    @property
    def state(self) -> AggregatorState:
        return self._state

    @property
    def vector_length(self) -> int:
        return self._length

    @property
    def revealing(self) -> bool:
        """Collecting unmasking responses: silos reveal shares from here on, so the
        session must be journaled before the signature bundle goes out."""
        return self._state is AggregatorState.COLLECT_UNMASKING

    def take_events(self) -> list[AuditEvent]:
        """The audit events since the last call (each returned once)."""
        events, self._events = self._events, []
        return events

    @property
    def waiting_for(self) -> frozenset[int]:
        """The silos whose message for the current stage has not arrived."""
        if self._state not in AGGREGATOR_ACCEPTS:
            return frozenset()
        return self._expected - self._complete()

    @property
    def released_sum(self) -> WideSum | None:
        """``Y``, once released to the survivors (what they fetch to verify)."""
        return self._sum if self.result is not None else None

    @property
    def masked_inputs(self) -> tuple[tuple[int, UIntArray], ...]:
        """Every survivor's ``y_u`` (sender, words), once the survivors are listed, in full
        verification mode; empty in sketch mode. What the release carries, and what the
        journal must keep with ``Y`` to :meth:`resume` a full-mode session."""
        if not self._inputs or self._view is None:  # sketch mode, not listed yet, or aborted
            return ()
        return tuple((u, self._inputs[u]) for u in self._survivors)

    @property
    def evidence(self) -> RoundEvidence | None:
        """The round's evidence once it is done, for silos that missed it to catch up."""
        if self._state is not AggregatorState.DONE or self.result is None:
            return None
        p = self._published
        return RoundEvidence(
            self.context,
            p[AdvertList],
            p[SurvivorList],
            p[SignatureBundle],
            p[ReleaseBundle],
            tuple(self._acks[i] for i in sorted(self._acks)),
        )

    @property
    def accused(self) -> dict[int, tuple[int, ...]]:
        """Each dealer a signed share check accused, with its accusers: left out of U2'."""
        return dict(self._accused)

    @property
    def overruled(self) -> tuple[int, ...]:
        """Silos left out for accusing so many dealers that too few would remain."""
        return tuple(self._overruled)

    @property
    def false_shares(self) -> tuple[sharing.FalseShareEvidence, ...]:
        """Evidence against every silo that revealed a share failing its commitments (the
        share was not used; :func:`~.sharing.verify_false_share` checks it offline)."""
        return tuple(self._false_shares)

    @property
    def acks(self) -> dict[int, Ack]:
        """The verified acks gathered so far, by sender."""
        return dict(self._acks)

    def received(self, sender: int) -> int:
        """How many words of ``sender``'s masked input are folded (for resuming uploads)."""
        return self._received.get(sender, 0)

    @property
    def stage(self) -> Stage | None:
        """The stage being collected, or None when the session has ended."""
        return _STAGE_OF_STATE.get(self._state)

    def _complete(self) -> frozenset[int]:
        if self._state is AggregatorState.COLLECT_INPUTS:
            return frozenset(
                s for s, n in self._received.items() if n == self._length and s in self._answers
            )
        return frozenset(self._answers)

    # --- input ----------------------------------------------------------------------

    def receive(self, message: SiloMessage) -> list[Outgoing]:
        """Take one silo message; returns the messages to send if the stage closed."""
        if message.context != self.context:
            raise ContextMismatchError("message belongs to another federation, session or round")
        # before the stage check: a retried message whose stage has closed is still taken
        if not isinstance(message, MaskedInput) and self._book.is_resend(message):
            return []
        accepted = AGGREGATOR_ACCEPTS.get(self._state)
        if accepted is None or not isinstance(message, accepted):
            refused = f"{type(message).__name__} is not accepted in state {self._state.value}"
            if self._is_late(message):
                raise StageClosedError(f"{refused}: its stage is over")
            raise UnexpectedMessageError(refused)
        sender = message.sender
        if sender not in self._expected:
            raise RosterError(f"silo {sender!r} is not part of stage {self._stage.value}")
        if isinstance(message, MaskedInput):
            self._fold(message)
            return self._advance_stage() if not self.waiting_for else []
        self._checked(sender, message)
        self._answers[sender] = message
        outgoing = self._advance_stage() if not self.waiting_for else []
        # taken only once the step it completes went through: a message whose arrival
        # aborted the session was refused with that abort, and so is its resend
        self._book.take(message)
        return outgoing

    def _is_late(self, message: SiloMessage) -> bool:
        """Of a stage this session already closed (or the session is over)."""
        order = list(AGGREGATOR_ACCEPTS)
        if self._state not in AGGREGATOR_ACCEPTS:
            return True
        return any(
            isinstance(message, AGGREGATOR_ACCEPTS[s]) for s in order[: order.index(self._state)]
        )

    def _checked(self, sender: int, message: SiloMessage) -> None:
        try:
            self._checks[type(message)](message)
        except (FedsiloError, TypeError, ValueError, AttributeError, KeyError) as exc:
            self._expected = self._expected - {sender}  # excluded for the rest of the session
            if isinstance(exc, FedsiloError):
                raise
            raise RemoteProtocolError(f"malformed {type(message).__name__}: {exc}") from exc

    def close_stage(self) -> list[Outgoing]:
        """The stage deadline passed: continue with whoever answered, or abort."""
        if self._state not in AGGREGATOR_ACCEPTS:
            raise LocalProtocolError(f"no stage is open in state {self._state.value}")
        partial = sorted(s for s, n in self._received.items() if 0 < n < self._length)
        if self._state is AggregatorState.COLLECT_INPUTS and partial:
            self._abort(
                PartialInputError(
                    f"the masked input of {', '.join(self._roster.names(partial))} stopped "
                    "part-way; the session is aborted and nothing is released; run a new session"
                )
            )
        return self._advance_stage()

    @property
    def _stage(self) -> Stage:
        return _STAGE_OF_STATE[self._state]

    def _advance_stage(self) -> list[Outgoing]:
        done = self._complete() & self._expected
        if self._state is AggregatorState.COLLECT_ACKS:
            return self._finish_acks()
        if self._state is AggregatorState.COLLECT_SIGNATURES and done != set(self._survivors):
            missing = self._roster.names(set(self._survivors) - done)
            self._abort(
                UnverifiableReleaseError(
                    f"stage {self._stage.value}: {', '.join(missing)} did not sign; every "
                    "survivor's sketch is needed to verify the release, so the session is "
                    "aborted before anything is revealed; run a new session"
                )
            )
        # the survivors of a sum are at least the quorum max(t, min_silos); unmasking needs
        # only t of them to answer
        if self._state is AggregatorState.COLLECT_UNMASKING:
            need = self._params.threshold
        else:
            need = self._params.quorum
        if len(done) < need:
            missing = self._roster.names(self._roster.indices - done)  # everyone no longer in
            self._abort(TooFewSurvivorsError(self._stage.value, len(done), need, missing))
        self._expected = done
        try:
            outgoing = self._advance[self._state]()
        except FedsiloError as exc:
            self._abort(exc)
        self._state = AGGREGATOR_NEXT[self._state]
        self._answers = {}
        return outgoing

    def abandon(self, reason: FedsiloError) -> None:
        """Abort from outside: the runtime could not make the session durable."""
        with contextlib.suppress(FedsiloError):
            self._abort(reason)

    def _finish_acks(self) -> list[Outgoing]:
        self._acks = dict(self._answers)
        self._state, self._answers = AggregatorState.DONE, {}
        return []

    def _abort(self, exc: FedsiloError) -> Any:
        self._state = AggregatorState.ABORTED
        if self.error is None:
            self.error = exc
        self._sum = WideSum.zeros(0, LIMB_BITS)  # release nothing
        self._inputs = {}
        raise exc

    # --- per-message checks (a failing check excludes the sender) ----------------------

    def _check_advert(self, advert: KeyAdvert) -> None:
        try:
            payloads.verify_advert(
                self._roster.entry(advert.sender).verifying_key, self.context, advert
            )
        except SignatureError as exc:
            raise SignatureError(
                f"the advert of silo {self._roster.name(advert.sender)!r} is not validly signed"
            ) from exc
        # the rules every silo applies to the advert list: one bad advert relayed would make
        # every honest silo leave the session, so its sender is left out here instead
        name = self._roster.name(advert.sender)
        try:
            payloads.check_mask_public_key(advert.mask_public_key)
        except CryptoError as exc:
            raise RemoteProtocolError(f"the advert of silo {name!r}: {exc}") from exc
        for other in self._answers.values():
            if {advert.cipher_public_key, advert.mask_public_key} & {
                other.cipher_public_key,
                other.mask_public_key,
            }:
                raise RemoteProtocolError(
                    f"the advert of silo {name!r} repeats a public key of "
                    f"{self._roster.name(other.sender)!r}"
                )

    def _check_share_check(self, check: ShareCheck) -> None:
        # the bound first: a signed list of millions of names is refused before it is hashed
        if not set(check.accused) <= set(self._uploads) - {check.sender} or len(
            set(check.accused)
        ) != len(check.accused):
            raise RemoteProtocolError(
                f"silo {self._roster.name(check.sender)!r} accused silos that dealt it nothing"
            )
        payloads.verify_share_check(
            self._roster.entry(check.sender).verifying_key, self.context, check
        )

    def _check_upload(self, upload: ShareUpload) -> None:
        if upload.commitments.sender != upload.sender:
            raise RemoteProtocolError(
                f"silo {self._roster.name(upload.sender)!r} sent another dealer's commitments"
            )
        sharing.check_dealer(
            self._roster,
            self.context,
            self._adverts[upload.sender],
            upload.commitments,
            self._params.threshold,
        )
        recipients = [s.recipient for s in upload.shares]
        if any(s.sender != upload.sender for s in upload.shares) or sorted(recipients) != sorted(
            set(self._adverts) - {upload.sender}
        ):
            raise RemoteProtocolError(
                f"silo {self._roster.name(upload.sender)!r} did not seal exactly one share "
                "bundle for every other silo that advertised"
            )

    def _check_commitment(self, commitment: InputCommitment) -> None:
        if commitment.total_length != self._length:
            raise RemoteProtocolError(
                f"silo {self._roster.name(commitment.sender)!r} committed to "
                f"{commitment.total_length} words, the vector has {self._length}"
            )
        payloads.verify_input_commitment(
            self._roster.entry(commitment.sender).verifying_key, self.context, commitment
        )
        self._events.append(
            InputAccepted(
                self.context.round,
                self._roster.name(commitment.sender),
                "sha256:" + commitment.digest.hex(),
            )
        )

    def _check_signature(self, sig: ConsistencySignature) -> None:
        assert self._view is not None
        if len(sig.sketch) != CHALLENGES or not all(0 <= z < SKETCH_PRIME for z in sig.sketch):
            raise RemoteProtocolError(
                f"silo {self._roster.name(sig.sender)!r} sent a malformed sketch"
            )
        payloads.verify_consistency(
            self._roster.entry(sig.sender).verifying_key,
            self.context,
            sig.sender,
            self._view,
            sig.sketch,
            sig.signature,
        )
        # bounded and proven before it is relayed to every survivor
        check_spot_answer(
            self.context,
            self._view,
            sig.sender,
            sig.spot_leaves,
            len(self._sum.low),
            self._params.spot_checks,
        )

    def _check_ack(self, ack: Ack) -> None:
        verify_ack(
            self._roster.entry(ack.sender).verifying_key,
            self.context.federation_id,
            self.context.round,
            ack.head,
            ack.sender,
            ack.signature,
        )

    def _check_unmasking(self, message: UnmaskingShares) -> None:
        self_owners = [r.owner for r in message.self_mask_shares]
        key_owners = [r.owner for r in message.mask_key_shares]
        if self_owners != list(self._survivors) or key_owners != list(self._dropped):
            raise RemoteProtocolError(
                f"silo {self._roster.name(message.sender)!r} revealed shares for the wrong silos"
            )
        dealers = {o: self._uploads[o].commitments for o in (*self_owners, *key_owners)}
        try:
            sharing.check_revealed(
                self._roster, self.context, self._params.threshold, message, dealers
            )
        except FalseShareError as exc:
            assert isinstance(exc.evidence, sharing.FalseShareEvidence)
            self._false_shares.append(exc.evidence)
            raise

    def _fold(self, chunk: MaskedInput) -> None:
        done = self._received.get(chunk.sender, 0)
        values = chunk.values
        if (
            chunk.total_length != self._length
            or not isinstance(values, np.ndarray)
            or values.dtype != word_dtype(self._params.bits)
            or values.ndim != 1
            or not len(values)  # an empty chunk would count a vector that adds nothing
            or chunk.offset != done
            or done + len(values) > self._length
        ):
            raise RemoteProtocolError(
                f"masked input chunk of silo {self._roster.name(chunk.sender)!r} at offset "
                f"{chunk.offset} does not continue its vector (expected offset {done}, "
                f"{self._length} {values.dtype} words in all)"
            )
        if done == 0:
            self._sum.count_vector()
            if self._params.full_verification:
                self._inputs[chunk.sender] = np.empty(self._length, values.dtype)
        self._sum.add(limbs(values), offset=done * self._limbs)
        if self._params.full_verification:
            self._inputs[chunk.sender][done : done + len(values)] = values  # a copy: ours
        self._received[chunk.sender] = done + len(values)

    # --- stage transitions --------------------------------------------------------------

    def _after_adverts(self) -> list[Outgoing]:
        self._adverts = {s: self._answers[s] for s in sorted(self._expected)}
        adverts = AdvertList(self.context, tuple(self._adverts.values()))
        self._published[AdvertList] = adverts
        return [Outgoing(s, adverts) for s in self._adverts]

    def _after_shares(self) -> list[Outgoing]:
        self._uploads = {s: self._answers[s] for s in sorted(self._expected)}
        senders = tuple(self._uploads)
        self._sum = WideSum.zeros(self._length * self._limbs, LIMB_BITS)
        return [
            Outgoing(
                v,
                ShareRelay(
                    self.context,
                    v,
                    senders,
                    tuple(e for u in senders for e in self._uploads[u].shares if e.recipient == v),
                    tuple(self._uploads[u].commitments for u in senders if u != v),
                ),
            )
            for v in senders
        ]

    def _after_checks(self) -> list[Outgoing]:
        """U2': who checked its shares, less every dealer a signed check accused."""
        checks = tuple(self._answers[s] for s in sorted(self._expected))
        checks = self._without_excessive_accusers(checks)
        accused = {a for c in checks for a in c.accused}
        self._masking = tuple(s for s in sorted(c.sender for c in checks) if s not in accused)
        self._accused = {
            a: tuple(c.sender for c in checks if a in c.accused) for a in sorted(accused)
        }
        checks_needed = len(self._masking)
        if checks_needed < self._params.quorum:
            missing = self._roster.names(self._roster.indices - set(self._masking))
            raise TooFewSurvivorsError(
                Stage.SHARE_CHECK.value, checks_needed, self._params.quorum, missing
            )
        masking = MaskingSet(self.context, self._masking, checks)
        self._published[MaskingSet] = masking
        self._expected = frozenset(self._masking)
        return [Outgoing(s, masking) for s in self._masking]

    def _without_excessive_accusers(self, checks: tuple[ShareCheck, ...]) -> tuple[ShareCheck, ...]:
        """Accusations are unproven, so one silo must not empty a session by them: while the
        accused would leave fewer than the quorum, the silo that accuses most is left out
        itself and its accusations ignored (a dishonest dealer still loses every accuser it
        cheated that stays in)."""
        kept = list(checks)
        while True:
            accused = {a for c in kept for a in c.accused}
            if len({c.sender for c in kept} - accused) >= self._params.quorum or not accused:
                return tuple(kept)
            loudest = max(kept, key=lambda c: (len(c.accused), c.sender))
            self._overruled.append(loudest.sender)
            kept.remove(loudest)

    def _after_inputs(self) -> list[Outgoing]:
        self._survivors = tuple(sorted(self._expected))
        self._dropped = tuple(sorted(set(self._masking) - self._expected))
        commitments = tuple(self._answers[s] for s in self._survivors)
        self._view = SurvivorView(self._survivors, self._dropped, commitments, self._sum.digest())
        survivors = SurvivorList(
            self.context, self._survivors, self._dropped, commitments, self._view.sum_digest
        )
        self._published[SurvivorList] = survivors
        return [Outgoing(s, survivors) for s in self._survivors]

    def _after_signatures(self) -> list[Outgoing]:
        sigs = tuple(self._answers[s] for s in sorted(self._expected))
        bundle = SignatureBundle(self.context, self._survivors, self._dropped, sigs)
        self._published[SignatureBundle] = bundle
        return [Outgoing(s, bundle) for s in sorted(self._expected)]

    def _after_unmasking(self) -> list[Outgoing]:
        answers: list[UnmaskingShares] = [self._answers[s] for s in sorted(self._expected)]
        keys = {v: self._dropped_mask_key(v, answers) for v in self._dropped}
        seeds = {u: self._survivor_seed(u, answers) for u in self._survivors}
        total = aggregate_words(self._sum, self._params.bits)
        remove_masks(
            total, self.context, self._adverts, self._survivors, seeds, keys, self._params.bits
        )
        self.result = AggregateResult(self.context, self._survivors, self._dropped, total)
        release = ReleaseBundle(
            self.context,
            tuple(RevealedSecret(u, seeds[u]) for u in self._survivors),
            tuple(RevealedSecret(v, keys[v]) for v in self._dropped),
            self._sum,
            self.masked_inputs,
        )
        self._published[ReleaseBundle] = release
        self._expected = frozenset(self._survivors)
        return [Outgoing(u, release) for u in self._survivors]

    def _reconstruct(self, owner: int, revealed: Iterable[tuple[int, bytes]]) -> bytes:
        """``owner``'s seed from the first ``t`` revealed shares (each one verified against
        its dealer's commitments when it arrived)."""
        shares = [feldman.Share.from_bytes(b) for o, b in revealed if o == owner]
        try:
            return group.scalar_to_bytes(feldman.reconstruct(shares, self._params.threshold))
        except CryptoError as exc:
            raise ProtocolError(
                f"the shares of silo {self._roster.name(owner)!r} do not reconstruct: {exc}"
            ) from exc

    def _dropped_mask_key(self, v: int, answers: list[UnmaskingShares]) -> bytes:
        secret = self._reconstruct(
            v, ((r.owner, r.share) for a in answers for r in a.mask_key_shares)
        )
        if payloads.public_of(secret) != self._adverts[v].mask_public_key:
            raise ProtocolError(
                f"the reconstructed mask key of {self._roster.name(v)!r} does not match its "
                "advert: a silo revealed a false share"
            )
        return secret

    def _survivor_seed(self, u: int, answers: list[UnmaskingShares]) -> bytes:
        seed = self._reconstruct(
            u, ((r.owner, r.share) for a in answers for r in a.self_mask_shares)
        )
        commitment = payloads.seed_commitment(seed)
        if not hmac.compare_digest(commitment, self._adverts[u].seed_commitment):
            raise ProtocolError(
                f"the reconstructed self-mask seed of {self._roster.name(u)!r} does not match "
                "its commitment: a silo revealed a false share"
            )
        return seed

    # --- at rest: the journal's starting point ------------------------------------------

    def unmasking_snapshot(self) -> tuple[records.Record, WideSum]:
        """The session as it enters unmasking, before any response (JSON-able data and
        ``Y``): the point from which the runtime's journal replays every later message, so
        a session that may have made silos reveal is finished after a crash, never re-run."""
        if self._state is not AggregatorState.COLLECT_UNMASKING or self._answers:
            raise LocalProtocolError("the journal starts as unmasking opens, before responses")
        assert self._view is not None
        ctx = self.context
        record: records.Record = {
            "context": records.context_record(ctx),
            "length": self._length,
            "adverts": [records.advert_record(a) for a in self._adverts.values()],
            "uploads": [
                records.dealer_record(self._uploads[i].commitments) for i in sorted(self._uploads)
            ],
            "view": records.view_record(self._view),
            "expected": sorted(self._expected),
            "signatures": [
                records.consistency_record(sig)
                for sig in self._published[SignatureBundle].signatures
            ],
        }
        return record, self._sum

    @classmethod
    def resume(
        cls,
        record: Mapping[str, Any],
        total: WideSum,
        *,
        context: SessionContext,
        roster: Roster,
        params: MaskingParams,
        inputs: Sequence[tuple[int, UIntArray]] = (),
    ) -> MaskingAggregator:
        """The session of :meth:`unmasking_snapshot` for ``context``, collecting responses;
        in full verification mode ``inputs`` are the journaled :attr:`masked_inputs`."""
        stored = records.parsed("context", lambda: list(record["context"]))
        if stored != records.context_record(context):
            raise LocalProtocolError("the journal belongs to another session")
        core = cls(
            context=context,
            roster=roster,
            params=params,
            vector_length=records.parsed("length", lambda: int(record["length"])),
        )

        def build() -> None:
            adverts = (records.advert_from(r, context) for r in record["adverts"])
            core._adverts = {a.sender: a for a in adverts}
            dealers = (records.dealer_from(r) for r in record["uploads"])
            core._uploads = {c.sender: ShareUpload(context, c.sender, (), c) for c in dealers}
            core._view = records.view_from(record["view"], context)
            core._expected = frozenset(int(i) for i in record["expected"])
            sigs = tuple(records.consistency_from(r, context) for r in record["signatures"])
            core._published[SignatureBundle] = SignatureBundle(
                context, core._view.survivors, core._view.dropped, sigs
            )

        records.parsed("session", build)
        view = core._view
        assert view is not None
        core._survivors, core._dropped = view.survivors, view.dropped
        core._published[AdvertList] = AdvertList(context, tuple(core._adverts.values()))
        core._published[SurvivorList] = SurvivorList(
            context, view.survivors, view.dropped, view.commitments, view.sum_digest
        )
        limb_length = core._length * core._limbs
        if total.digest() != view.sum_digest or len(total.low) != limb_length:
            raise LocalProtocolError("the journaled sum is not the one the survivors signed")
        core._sum = total
        core._inputs = core._journaled_inputs(tuple(inputs))
        core._state = AggregatorState.COLLECT_UNMASKING
        return core

    def _journaled_inputs(self, inputs: tuple[tuple[int, UIntArray], ...]) -> dict[int, UIntArray]:
        if not self._params.full_verification:
            if inputs:
                raise LocalProtocolError("a sketch-mode journal holds no masked inputs")
            return {}
        assert self._view is not None
        try:  # the very check every silo runs on the release
            check_inputs(self._view, inputs, self._sum, self._params.bits)
        except ReleaseVerificationError as exc:
            raise LocalProtocolError(
                f"the journaled masked inputs are not the survivors' committed ones: {exc}"
            ) from exc
        return dict(inputs)
