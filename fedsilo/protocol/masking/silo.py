"""The silo side of a masking session: a pure state machine.

``start()`` admits the session in the silo's :class:`~fedsilo.protocol.ledger.RoundLedger`
(the next round, on the silo's own chain head, a session id never seen) and
returns the signed key advert; each ``receive(message)`` checks the
aggregator's message against everything the silo already knows and returns
the silo's next message, or raises a named error and moves the session to
ABORTED. After the release is verified (:mod:`.release`) the caller derives
the next model from :attr:`MaskingSilo.aggregate` and calls
:meth:`MaskingSilo.acknowledge`. See the package docstring for the invariants.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, NoReturn

import numpy as np

from fedsilo.crypto import feldman, kdf
from fedsilo.crypto.entropy import Entropy
from fedsilo.crypto.merkle import MerkleTree, words_digest
from fedsilo.crypto.prg import UIntArray, apply_masks, word_dtype
from fedsilo.crypto.signatures import IdentityKey
from fedsilo.errors import (
    ContextMismatchError,
    CryptoError,
    FedsiloError,
    InconsistentViewError,
    ListedAsDroppedError,
    LocalProtocolError,
    QuantizationError,
    RemoteProtocolError,
    RosterError,
    SignatureError,
    UnexpectedMessageError,
)
from fedsilo.protocol.chain import ChainLink, aggregate_sha256, sign_ack
from fedsilo.protocol.ledger import RoundLedger
from fedsilo.protocol.masking import checks, payloads, records, sharing
from fedsilo.protocol.masking.messages import (
    AdvertList,
    AggregatorMessage,
    ConsistencySignature,
    InputCommitment,
    KeyAdvert,
    MaskedInputStream,
    MaskingSet,
    ReleaseBundle,
    RevealedShare,
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
from fedsilo.protocol.masking.release import answer_challenge, limbs, verify_release
from fedsilo.protocol.masking.states import SILO_TRANSITIONS, SiloState
from fedsilo.protocol.messages import Ack, AggregateResult, SessionContext
from fedsilo.protocol.roster import Roster

# where a resumable session picks up after a crash (see MaskingSilo.RESUMABLE)
_RESUMES_AT = {
    SiloState.AWAIT_SIGNATURES: Stage.UNMASKING.value,
    SiloState.AWAIT_RELEASE: Stage.RELEASE.value,
}


class MaskingSilo:
    """One silo's session of one masked aggregation.

    ``quantized_input`` is the silo's already quantized update (values in
    ``[0, levels)``, dtype of the modulus), trained on the model the silo derived
    for the chain position ``context.chain_head``. ``ledger`` holds the silo's
    durable decisions across sessions and rounds.
    """

    def __init__(
        self,
        *,
        context: SessionContext,
        roster: Roster,
        params: MaskingParams,
        index: int,
        identity: IdentityKey,
        entropy: Entropy,
        ledger: RoundLedger,
        quantized_input: UIntArray,
    ) -> None:
        if roster.size != params.silos:
            raise LocalProtocolError("the roster and the parameters disagree on n")
        roster.entry(index)
        dtype = word_dtype(params.bits)
        if quantized_input.dtype != dtype or quantized_input.ndim != 1:
            raise QuantizationError(f"the quantized input must be a 1-D {dtype} vector")
        if quantized_input.size and int(quantized_input.max()) >= params.quantizer.levels:
            raise QuantizationError("the quantized input exceeds the declared levels")
        self.context, self.index = context, index
        self._roster, self._params, self._identity = roster, params, identity
        self._entropy, self._ledger = entropy, ledger
        self._input = quantized_input
        self._state = SiloState.NEW
        self.error: FedsiloError | None = None
        self._advert: KeyAdvert | None = None
        self._adverts: dict[int, KeyAdvert] = {}
        self._senders: tuple[int, ...] = ()
        self._held: dict[int, payloads.SharePair] = {}  # owner -> our share of its secrets
        self._dealers: dict[int, bytes] = {}  # owner -> digest of its commitments we checked
        self._relayed: tuple[int, ...] = ()  # U2: who shared keys, as the relay said
        # dealers whose share to us failed (accused in our share check), with why
        self._accusations: dict[int, str] = {}
        self._view: SurvivorView | None = None
        self._signatures: dict[int, ConsistencySignature] = {}
        self._aggregate: AggregateResult | None = None
        self._response: UnmaskingShares | None = None
        self._mine: ConsistencySignature | None = None
        self._masked: UIntArray | None = None
        self._tree: MerkleTree | None = None
        self._commitment: InputCommitment | None = None
        self._handlers: dict[type, Callable[[Any], list[SiloMessage]]] = {
            AdvertList: self._on_adverts,
            ShareRelay: self._on_share_relay,
            MaskingSet: self._on_masking_set,
            SurvivorList: self._on_survivors,
            SignatureBundle: self._on_signatures,
            ReleaseBundle: self._on_release,
        }

    @property
    def state(self) -> SiloState:
        return self._state

    @property
    def accusations(self) -> Mapping[int, str]:
        """The dealers this silo accused in its share check (their share to it failed), with
        the reason; none of them is in the set it masks with."""
        return dict(self._accusations)

    @property
    def signed_view(self) -> SurvivorView | None:
        """The one survivor view this silo signed in this session, if any."""
        return self._view

    @property
    def aggregate(self) -> AggregateResult | None:
        """The aggregate this silo computed from a verified release (state VERIFIED on)."""
        return self._aggregate

    @property
    def verified(self) -> bool:
        """The release verified (state VERIFIED): ready for :meth:`acknowledge`."""
        return self._state is SiloState.VERIFIED and self._aggregate is not None

    @property
    def survivors(self) -> tuple[int, ...]:
        """The survivors of the view this silo signed (empty before it signed one)."""
        return () if self._view is None else self._view.survivors

    @property
    def resumes_at(self) -> str | None:
        """The stage a restarted silo awaits next in this session: unmasking once it signed
        its view, release once it revealed; None while nothing needs resuming."""
        return _RESUMES_AT.get(self._state)

    def start(self) -> list[SiloMessage]:
        """Admit the session, draw the ephemeral keys and return the signed advert."""
        if self._state is not SiloState.NEW:
            raise LocalProtocolError("start() is called once, on a new session")
        ctx = self.context
        try:
            admission = self._ledger.admit(ctx.round, ctx.session_id, ctx.chain_head)
            if admission.resumed:
                raise LocalProtocolError(
                    f"this silo already joined session {ctx.session_id.hex()[:16]}… of round "
                    f"{ctx.round} and no longer holds its keys; it waits for the next session"
                )
        except FedsiloError as exc:
            self._abort(exc)
        self._cipher_sk = kdf.generate_x25519(self._entropy)
        self._mask_seed = sharing.random_seed(self._entropy)
        self._self_seed = sharing.random_seed(self._entropy)
        self._advert = payloads.sign_advert(
            self._identity,
            ctx,
            self.index,
            kdf.x25519_public_bytes(self._cipher_sk),
            payloads.public_of(self._mask_seed),
            payloads.seed_commitment(self._self_seed),
        )
        self._state = SiloState.AWAIT_ADVERTS
        return [self._advert]

    def receive(self, message: AggregatorMessage) -> list[SiloMessage]:
        """Process one message from the aggregator; raise and abort on any violation."""
        next_state = SILO_TRANSITIONS.get((self._state, type(message)))
        try:
            if next_state is None:
                raise UnexpectedMessageError(
                    f"{type(message).__name__} is not allowed in state {self._state.value}"
                )
            if message.context != self.context:
                raise ContextMismatchError(
                    f"{type(message).__name__} belongs to another federation, config, "
                    "session or round"
                )
            outputs = self._handlers[type(message)](message)
        except FedsiloError as exc:
            self._abort(exc)
        except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
            self._abort(RemoteProtocolError(f"malformed {type(message).__name__}: {exc}"))
        self._state = next_state
        return outputs

    def refuse(self, exc: FedsiloError) -> NoReturn:
        """Abort on a violation found outside the state machine (by the session that
        drives it): ``exc`` is raised, and kept as the session's error if it is the first."""
        self._abort(exc)

    def _abort(self, exc: FedsiloError) -> NoReturn:
        self._state = SiloState.ABORTED
        if self.error is None:  # keep the first cause; later messages only bounce off
            self.error = exc
        raise exc

    def _need(self, have: int, stage: Stage) -> None:
        checks.need(have, self._params.quorum, stage)

    # --- stage 1: ShareKeys ---------------------------------------------------------

    def _on_adverts(self, message: AdvertList) -> list[SiloMessage]:
        ids = self._roster.check_ids([a.sender for a in message.adverts], "the advert list")
        listed = dict(zip(ids, message.adverts, strict=True))
        if self.index not in listed:
            raise ListedAsDroppedError("the advert list leaves this silo out")
        if listed[self.index] != self._advert:
            raise InconsistentViewError("the aggregator relayed an altered advert of this silo")
        adverts = checks.check_adverts(self._roster, self.context, message.adverts)
        self._need(len(adverts), Stage.ADVERTISE_KEYS)
        self._adverts = adverts
        return [self._share_keys(sorted(adverts))]

    def _share_keys(self, holders: list[int]) -> ShareUpload:
        dealt = sharing.deal(
            self._identity,
            self.context,
            self.index,
            self._self_seed,
            self._mask_seed,
            self._params.threshold,
            holders,
            self._entropy,
        )
        self._held[self.index] = dealt.pairs[self.index]
        self._dealers[self.index] = payloads.dealer_digest(dealt.commitments)
        sealed = tuple(
            payloads.seal_share_pair(
                self._cipher_sk,
                self._adverts[h].cipher_public_key,
                self.context,
                self.index,
                h,
                dealt.pairs[h],
                self._entropy,
            )
            for h in holders
            if h != self.index
        )
        return ShareUpload(self.context, self.index, sealed, dealt.commitments)

    # --- stage 1b: ShareCheck -------------------------------------------------------

    def _on_share_relay(self, message: ShareRelay) -> list[SiloMessage]:
        if message.recipient != self.index:
            raise RosterError(f"a share relay for silo {message.recipient} was sent to us")
        senders = set(self._roster.check_ids(message.senders, "the share-key list"))
        if not senders <= set(self._adverts):
            raise InconsistentViewError("the share-key list names silos that never advertised")
        if self.index not in senders:
            raise ListedAsDroppedError("the share-key list leaves this silo out")
        self._need(len(senders), Stage.SHARE_KEYS)
        by_sender = {s.sender: s for s in message.shares}
        if len(by_sender) != len(message.shares) or set(by_sender) != senders - {self.index}:
            raise InconsistentViewError("the relayed shares do not match the share-key list")
        dealers = {c.sender: c for c in message.commitments}
        if len(dealers) != len(message.commitments) or set(dealers) != set(by_sender):
            raise InconsistentViewError(
                "the relayed dealer commitments do not match the share-key list"
            )
        accused = []
        for sender, share in sorted(by_sender.items()):
            if share.recipient != self.index:
                raise InconsistentViewError("a relayed share is addressed to another silo")
            try:  # the aggregator checked this signature: a bad one is its doing, not the dealer's
                payloads.verify_dealer_commitments(
                    self._roster.entry(sender).verifying_key, self.context, dealers[sender]
                )
            except SignatureError as exc:
                raise InconsistentViewError(
                    f"the aggregator relayed commitments of silo {sender} that it did not sign"
                ) from exc
            try:
                pair = payloads.open_share_pair(
                    self._cipher_sk, self._adverts[sender].cipher_public_key, self.context, share
                )
                self._dealers[sender] = sharing.check_received(
                    self._roster,
                    self.context,
                    self._params.threshold,
                    self.index,
                    self._adverts[sender],
                    dealers[sender],
                    pair,
                )
            except CryptoError as exc:  # a share we cannot use: its dealer is accused
                self._accusations[sender] = str(exc)
                accused.append(sender)
                continue
            self._held[sender] = pair
        self._relayed = tuple(sorted(senders))
        check = payloads.sign_share_check(self._identity, self.context, self.index, tuple(accused))
        return [check]

    # --- stage 2: MaskedInput -------------------------------------------------------

    def _on_masking_set(self, message: MaskingSet) -> list[SiloMessage]:
        senders = set(self._roster.check_ids(message.senders, "the masking set"))
        if not senders <= set(self._relayed):
            raise InconsistentViewError("the masking set names silos that did not share keys")
        if self.index not in senders:
            raise ListedAsDroppedError("the masking set leaves this silo out")
        if senders & set(self._accusations):
            named = self._roster.names(sorted(senders & set(self._accusations)))
            raise InconsistentViewError(
                f"the masking set keeps {', '.join(named)}, whose shares to this silo failed"
            )
        self._need(len(senders), Stage.SHARE_CHECK)
        self._senders = tuple(sorted(senders))
        return self._masked_input()

    def _masked_input(self) -> list[SiloMessage]:
        masks = [payloads.self_mask(self._self_seed, self.context, self.index)]
        masks += [
            payloads.pair_mask(
                self._mask_seed, self._adverts[v].mask_public_key, self.context, self.index, v
            )
            for v in self._senders
            if v != self.index
        ]
        masked = self._input.copy()
        apply_masks(masked, masks, self._params.bits)
        vector = limbs(masked)  # what the release is verified over (see .release)
        tree = MerkleTree.of_words(vector)
        commitment = payloads.sign_input_commitment(
            self._identity, self.context, self.index, len(masked), words_digest(vector), tree.root
        )
        self._masked, self._tree, self._commitment = vector, tree, commitment
        return [MaskedInputStream(self.context, self.index, masked), commitment]

    def _consistency(self, view: SurvivorView) -> ConsistencySignature:
        """The signed consistency answer: deterministic, so a resend is byte-identical."""
        assert self._masked is not None and self._tree is not None
        sketch, spots = answer_challenge(
            self.context, view, self._masked, self._tree, self._params.spot_checks
        )
        signature = payloads.sign_consistency(
            self._identity, self.context, self.index, view, sketch
        )
        return ConsistencySignature(self.context, self.index, sketch, spots, signature)

    # --- stage 3: ConsistencyCheck --------------------------------------------------

    def _on_survivors(self, message: SurvivorList) -> list[SiloMessage]:
        shared = dict.fromkeys(self._senders)
        survivors, dropped = checks.check_lists(
            self._roster, message.survivors, message.dropped, shared
        )
        if self.index in dropped or self.index not in survivors:
            raise ListedAsDroppedError(
                "the aggregator lists this silo as dropped although its input was sent"
            )
        self._need(len(survivors), Stage.MASKED_INPUT)
        commitments = checks.check_commitments(
            self._roster, self.context, message.commitments, survivors, len(self._input)
        )
        if commitments[survivors.index(self.index)] != self._commitment:
            raise InconsistentViewError("the aggregator relayed an altered commitment of ours")
        view = SurvivorView(survivors, dropped, commitments, bytes(message.sum_digest))
        self._ledger.record_view(self.context.session_id, payloads.view_digest(view))
        self._view = view
        self._mine = self._consistency(view)
        return [self._mine]

    # --- stage 4: Unmasking ---------------------------------------------------------

    def _on_signatures(self, message: SignatureBundle) -> list[SiloMessage]:
        view = self._view
        assert view is not None  # guaranteed by the transition table
        if (tuple(sorted(message.survivors)), tuple(sorted(message.dropped))) != (
            view.survivors,
            view.dropped,
        ):
            raise InconsistentViewError(
                "the signature bundle is for other survivor lists than the ones this silo signed"
            )
        self._signatures = checks.check_signatures(
            self._roster, self.context, view, message.signatures, self._params.quorum
        )
        return [self._unmask(view)]

    def _unmask(self, view: SurvivorView) -> UnmaskingShares:
        unsigned = UnmaskingShares(
            self.context,
            self.index,
            tuple(RevealedShare(v, self._held[v].self_seed.to_bytes()) for v in view.survivors),
            tuple(RevealedShare(v, self._held[v].mask_key.to_bytes()) for v in view.dropped),
            b"",
        )
        response = payloads.sign_unmasking(self._identity, unsigned, self._dealers)
        # durable before the shares leave; refuses a second session of a revealed round
        self._ledger.record_reveal(self.context.session_id, payloads.unmasking_bytes(response))
        self._response = response
        return response

    # --- stage 5: verified release --------------------------------------------------

    def _on_release(self, message: ReleaseBundle) -> list[SiloMessage]:
        view = self._view
        assert view is not None
        total = verify_release(
            ctx=self.context,
            adverts=self._adverts,
            view=view,
            signatures=self._signatures,
            bundle=message,
            bits=self._params.bits,
            spot_checks=self._params.spot_checks,
            full=self._params.full_verification,
        )
        self._aggregate = AggregateResult(self.context, view.survivors, view.dropped, total)
        return []

    def acknowledge(self, link: ChainLink) -> list[SiloMessage]:
        """Finalize the round on ``link`` (derived by the caller from :attr:`aggregate`) and
        return the signed ack of ``H_r``."""
        if self._state is not SiloState.VERIFIED or self._aggregate is None:
            raise LocalProtocolError("acknowledge() follows a verified release")
        ctx, result = self.context, self._aggregate
        expected = (ctx.round, ctx.chain_head, ctx.session_id, result.survivors)
        if (link.round, link.previous, link.session_id, link.survivors) != expected or (
            not hmac.compare_digest(link.aggregate_sha256, aggregate_sha256(result.total))
        ):
            raise LocalProtocolError("the chain link does not describe this verified round")
        head = link.head
        self._ledger.finalize(ctx.round, head)
        self._state = SiloState.DONE
        signature = sign_ack(self._identity, ctx.federation_id, ctx.round, head, self.index)
        return [Ack(ctx, self.index, head, signature)]

    # --- at rest: a session that survives a crash -----------------------------------

    RESUMABLE: ClassVar[tuple[SiloState, ...]] = (
        SiloState.AWAIT_SIGNATURES,
        SiloState.AWAIT_RELEASE,
    )

    def snapshot(self) -> records.Record:
        """Everything needed to resume this session once it has signed its view, as
        JSON-able data. It holds the session's secrets: the caller encrypts it at rest.

        Before the view is signed nothing needs resuming: a silo that crashes earlier has
        revealed nothing and simply misses the session."""
        if self._state not in self.RESUMABLE or self._view is None or self._mine is None:
            raise LocalProtocolError(f"a session in state {self._state.value} is not resumable")
        ctx = self.context
        return {
            "context": records.context_record(ctx),
            "index": self.index,
            "state": self._state.value,
            "adverts": [records.advert_record(a) for a in self._adverts.values()],
            "senders": list(self._senders),
            "held": {
                str(o): [p.mask_key.to_bytes().hex(), p.self_seed.to_bytes().hex()]
                for o, p in self._held.items()
            },
            "dealers": {str(o): d.hex() for o, d in self._dealers.items()},
            "view": records.view_record(self._view),
            "mine": records.consistency_record(self._mine),
            "signatures": [records.consistency_record(s) for s in self._signatures.values()],
            "response": None
            if self._response is None
            else records.unmasking_record(self._response),
        }

    @classmethod
    def resume(
        cls,
        state: Mapping[str, Any],
        *,
        roster: Roster,
        params: MaskingParams,
        identity: IdentityKey,
        entropy: Entropy,
        ledger: RoundLedger,
    ) -> MaskingSilo:
        """The session of :meth:`snapshot`, ready to re-send :meth:`pending` and go on; the
        ledger must hold it as the round's live session (and its response, if any)."""
        ctx = records.context_from(records.parsed("context", lambda: state["context"]))
        silo = cls(
            context=ctx,
            roster=roster,
            params=params,
            index=records.parsed("index", lambda: int(state["index"])),
            identity=identity,
            entropy=entropy,
            ledger=ledger,
            quantized_input=np.zeros(0, dtype=word_dtype(params.bits)),
        )
        silo._restore(state)
        return silo

    def _restore(self, state: Mapping[str, Any]) -> None:
        ctx = self.context
        admission = self._ledger.admit(ctx.round, ctx.session_id, ctx.chain_head)
        if not admission.resumed:
            raise LocalProtocolError("a resumed session must be the one its ledger joined")

        def build() -> None:
            adverts = (records.advert_from(r, ctx) for r in state["adverts"])
            self._adverts = {a.sender: a for a in adverts}
            self._advert = self._adverts[self.index]
            self._senders = tuple(int(i) for i in state["senders"])
            self._held = {
                int(o): payloads.SharePair(
                    feldman.Share.from_bytes(bytes.fromhex(k)),
                    feldman.Share.from_bytes(bytes.fromhex(b)),
                )
                for o, (k, b) in state["held"].items()
            }
            self._dealers = {int(o): bytes.fromhex(d) for o, d in state["dealers"].items()}
            self._view = records.view_from(state["view"], ctx)
            self._mine = records.consistency_from(state["mine"], ctx)
            sigs = (records.consistency_from(r, ctx) for r in state["signatures"])
            self._signatures = {s.sender: s for s in sigs}
            if state["response"] is not None:
                self._response = records.unmasking_from(state["response"], ctx)
            self._state = SiloState(state["state"])

        records.parsed("session", build)
        if self._state not in self.RESUMABLE or self._view is None:
            raise LocalProtocolError(f"a snapshot in state {self._state.value} cannot resume")
        if payloads.view_digest(self._view) != admission.view:
            raise LocalProtocolError("the snapshot's view is not the one its ledger recorded")
        stored = None if self._response is None else payloads.unmasking_bytes(self._response)
        if stored != admission.response:
            raise LocalProtocolError("the snapshot's unmasking response is not its ledger's")

    def pending(self) -> list[SiloMessage]:
        """What a resumed session sent last, to send again: byte-identical, so the
        aggregator takes it as an idempotent resend."""
        if self._state is SiloState.AWAIT_SIGNATURES and self._mine is not None:
            return [self._mine]
        if self._state is SiloState.AWAIT_RELEASE and self._response is not None:
            return [self._response]
        return []
