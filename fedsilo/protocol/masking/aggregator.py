"""The aggregator side of a masking session: a pure state machine.

The aggregator collects one kind of silo message per stage. A stage closes
when every silo it waits for has answered, or when the runtime calls
:meth:`MaskingAggregator.close_stage` at the deadline; with fewer than ``t``
answers the session aborts and releases nothing. Masked inputs are folded
into a single running sum mod 2^k as their chunks arrive, so memory is one
vector whatever the number of silos.

A bad message from one silo raises (so the adapter can answer that silo with
an error) and excludes that silo from the stage, but does not abort the
session: one faulty silo must not sink a round the others can finish.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from fedsilo.crypto import kdf, shamir
from fedsilo.crypto.prg import DEFAULT_CHUNK_WORDS, SignedMask, apply_masks, word_dtype
from fedsilo.errors import (
    ContextMismatchError,
    CryptoError,
    FedsiloError,
    LocalProtocolError,
    PartialInputError,
    ProtocolError,
    RemoteProtocolError,
    RosterError,
    SignatureError,
    TooFewSurvivorsError,
    UnexpectedMessageError,
)
from fedsilo.protocol.masking import payloads
from fedsilo.protocol.masking.params import MaskingParams
from fedsilo.protocol.masking.states import AGGREGATOR_ACCEPTS, AGGREGATOR_NEXT, AggregatorState
from fedsilo.protocol.messages import (
    AdvertList,
    AggregateResult,
    ConsistencySignature,
    KeyAdvert,
    MaskedInput,
    Outgoing,
    SessionContext,
    ShareRelay,
    ShareUpload,
    SignatureBundle,
    SiloMessage,
    Stage,
    SurvivorList,
    UnmaskingShares,
)
from fedsilo.protocol.roster import Roster

_STAGE_OF_STATE = {
    AggregatorState.COLLECT_ADVERTS: Stage.ADVERTISE_KEYS,
    AggregatorState.COLLECT_SHARES: Stage.SHARE_KEYS,
    AggregatorState.COLLECT_INPUTS: Stage.MASKED_INPUT,
    AggregatorState.COLLECT_SIGNATURES: Stage.CONSISTENCY_CHECK,
    AggregatorState.COLLECT_UNMASKING: Stage.UNMASKING,
}


class MaskingAggregator:
    """The aggregator's session of one masked aggregation of ``vector_length`` words."""

    def __init__(
        self,
        *,
        context: SessionContext,
        roster: Roster,
        params: MaskingParams,
        model_hash: bytes,
        vector_length: int,
        chunk_words: int = DEFAULT_CHUNK_WORDS,
    ) -> None:
        if roster.size != params.silos:
            raise LocalProtocolError("the roster and the parameters disagree on n")
        if vector_length < 1:
            raise LocalProtocolError("the vector length must be positive")
        self.context, self._roster, self._params = context, roster, params
        self._model_hash, self._length, self._chunk_words = model_hash, vector_length, chunk_words
        self._state = AggregatorState.COLLECT_ADVERTS
        self._expected: frozenset[int] = roster.indices
        self._answers: dict[int, Any] = {}
        self._received: dict[int, int] = {}  # words of masked input folded, per silo
        self._adverts: dict[int, KeyAdvert] = {}
        self._uploads: dict[int, ShareUpload] = {}
        self._survivors: tuple[int, ...] = ()
        self._dropped: tuple[int, ...] = ()
        self._sum = np.zeros(0, dtype=word_dtype(params.bits))
        self.result: AggregateResult | None = None
        self.error: FedsiloError | None = None
        self._checks: dict[type, Callable[[Any], None]] = {
            KeyAdvert: self._check_advert,
            ShareUpload: self._check_upload,
            ConsistencySignature: self._check_signature,
            UnmaskingShares: self._check_unmasking,
        }
        self._advance: dict[AggregatorState, Callable[[], list[Outgoing]]] = {
            AggregatorState.COLLECT_ADVERTS: self._after_adverts,
            AggregatorState.COLLECT_SHARES: self._after_shares,
            AggregatorState.COLLECT_INPUTS: self._after_inputs,
            AggregatorState.COLLECT_SIGNATURES: self._after_signatures,
            AggregatorState.COLLECT_UNMASKING: self._after_unmasking,
        }

    @property
    def state(self) -> AggregatorState:
        return self._state

    @property
    def waiting_for(self) -> frozenset[int]:
        """The silos whose message for the current stage has not arrived."""
        if self._state not in AGGREGATOR_ACCEPTS:
            return frozenset()
        return self._expected - self._complete()

    def sum_digest(self) -> bytes:
        """SHA-256 of the running sum (to show that a refused message changed nothing)."""
        return hashlib.sha256(self._sum.tobytes()).digest()

    def received(self, sender: int) -> int:
        """How many words of ``sender``'s masked input are folded (for resuming uploads)."""
        return self._received.get(sender, 0)

    @property
    def stage(self) -> Stage | None:
        """The stage being collected, or None when the session has ended."""
        return _STAGE_OF_STATE.get(self._state)

    def _complete(self) -> frozenset[int]:
        if self._state is AggregatorState.COLLECT_INPUTS:
            return frozenset(s for s, n in self._received.items() if n == self._length)
        return frozenset(self._answers)

    # --- input ----------------------------------------------------------------------

    def receive(self, message: SiloMessage) -> list[Outgoing]:
        """Take one silo message; returns the messages to send if the stage closed."""
        accepted = AGGREGATOR_ACCEPTS.get(self._state)
        if accepted is None or not isinstance(message, accepted):
            raise UnexpectedMessageError(
                f"{type(message).__name__} is not accepted in state {self._state.value}"
            )
        if message.context != self.context:
            raise ContextMismatchError("message belongs to another federation, session or round")
        sender = message.sender
        if sender not in self._expected:
            raise RosterError(f"silo {sender!r} is not part of stage {self._stage.value}")
        if isinstance(message, MaskedInput):
            self._fold(message)
        elif not self._is_resend(sender, message):
            self._checked(sender, message)
            self._answers[sender] = message
        return self._advance_stage() if not self.waiting_for else []

    def _is_resend(self, sender: int, message: SiloMessage) -> bool:
        previous = self._answers.get(sender)
        if previous is None:
            return False
        if previous == message:
            return True  # an identical resend is idempotent
        raise RemoteProtocolError(
            f"silo {self._roster.name(sender)!r} sent two different {type(message).__name__}s"
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
        if len(done) < self._params.threshold:
            missing = self._roster.names(self._roster.indices - done)  # everyone no longer in
            self._abort(
                TooFewSurvivorsError(self._stage.value, len(done), self._params.threshold, missing)
            )
        self._expected = done
        try:
            outgoing = self._advance[self._state]()
        except FedsiloError as exc:
            self._abort(exc)
        self._state = AGGREGATOR_NEXT[self._state]
        self._answers = {}
        return outgoing

    def _abort(self, exc: FedsiloError) -> Any:
        self._state = AggregatorState.ABORTED
        if self.error is None:
            self.error = exc
        self._sum = np.zeros(0, dtype=self._sum.dtype)  # release nothing
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

    def _check_upload(self, upload: ShareUpload) -> None:
        recipients = [s.recipient for s in upload.shares]
        if any(s.sender != upload.sender for s in upload.shares) or sorted(recipients) != sorted(
            set(self._adverts) - {upload.sender}
        ):
            raise RemoteProtocolError(
                f"silo {self._roster.name(upload.sender)!r} did not seal exactly one share "
                "bundle for every other silo that advertised"
            )

    def _check_signature(self, sig: ConsistencySignature) -> None:
        payloads.verify_consistency(
            self._roster.entry(sig.sender).verifying_key,
            self.context,
            sig.sender,
            self._survivors,
            self._dropped,
            self._model_hash,
            sig.signature,
        )

    def _check_unmasking(self, message: UnmaskingShares) -> None:
        self_owners = [r.owner for r in message.self_mask_shares]
        key_owners = [r.owner for r in message.mask_key_shares]
        if self_owners != list(self._survivors) or key_owners != list(self._dropped):
            raise RemoteProtocolError(
                f"silo {self._roster.name(message.sender)!r} revealed shares for the wrong silos"
            )
        for revealed in (*message.self_mask_shares, *message.mask_key_shares):
            if shamir.Share.from_bytes(revealed.share).x != message.sender:
                raise RemoteProtocolError("a revealed share carries another holder's index")

    def _fold(self, chunk: MaskedInput) -> None:
        done = self._received.get(chunk.sender, 0)
        values = chunk.values
        if (
            chunk.total_length != self._length
            or not isinstance(values, np.ndarray)
            or values.dtype != self._sum.dtype
            or values.ndim != 1
            or chunk.offset != done
            or done + len(values) > self._length
        ):
            raise RemoteProtocolError(
                f"masked input chunk of silo {self._roster.name(chunk.sender)!r} at offset "
                f"{chunk.offset} does not continue its vector (expected offset {done}, "
                f"{self._length} {self._sum.dtype} words in all)"
            )
        span = self._sum[done : done + len(values)]
        np.add(span, values, out=span)
        self._received[chunk.sender] = done + len(values)

    # --- stage transitions --------------------------------------------------------------

    def _after_adverts(self) -> list[Outgoing]:
        self._adverts = {s: self._answers[s] for s in sorted(self._expected)}
        adverts = AdvertList(self.context, tuple(self._adverts.values()))
        return [Outgoing(s, adverts) for s in self._adverts]

    def _after_shares(self) -> list[Outgoing]:
        self._uploads = {s: self._answers[s] for s in sorted(self._expected)}
        senders = tuple(self._uploads)
        self._sum = np.zeros(self._length, dtype=self._sum.dtype)
        return [
            Outgoing(
                v,
                ShareRelay(
                    self.context,
                    v,
                    senders,
                    tuple(e for u in senders for e in self._uploads[u].shares if e.recipient == v),
                ),
            )
            for v in senders
        ]

    def _after_inputs(self) -> list[Outgoing]:
        self._survivors = tuple(sorted(self._expected))
        self._dropped = tuple(sorted(set(self._uploads) - self._expected))
        survivors = SurvivorList(self.context, self._survivors, self._dropped)
        return [Outgoing(s, survivors) for s in self._survivors]

    def _after_signatures(self) -> list[Outgoing]:
        sigs = tuple(self._answers[s] for s in sorted(self._expected))
        bundle = SignatureBundle(self.context, self._survivors, self._dropped, sigs)
        return [Outgoing(s, bundle) for s in sorted(self._expected)]

    def _after_unmasking(self) -> list[Outgoing]:
        answers: list[UnmaskingShares] = [self._answers[s] for s in sorted(self._expected)]
        masks = [m for v in self._dropped for m in self._dropped_pair_masks(v, answers)]
        masks += [self._survivor_self_mask(u, answers) for u in self._survivors]
        apply_masks(
            self._sum,
            payloads.negate(masks),
            self._params.bits,
            chunk_words=self._chunk_words,
        )
        self.result = AggregateResult(self.context, self._survivors, self._dropped, self._sum)
        return []

    def _reconstruct(self, owner: int, revealed: Iterable[tuple[int, bytes]]) -> bytes:
        shares = [shamir.Share.from_bytes(b) for o, b in revealed if o == owner]
        try:
            return shamir.reconstruct(shares, self._params.threshold)
        except CryptoError as exc:
            raise ProtocolError(
                f"the shares of silo {self._roster.name(owner)!r} do not reconstruct: {exc}"
            ) from exc

    def _dropped_pair_masks(self, v: int, answers: list[UnmaskingShares]) -> list[SignedMask]:
        secret = self._reconstruct(
            v, ((r.owner, r.share) for a in answers for r in a.mask_key_shares)
        )
        mask_sk = kdf.x25519_from_private_bytes(secret)
        if kdf.x25519_public_bytes(mask_sk) != self._adverts[v].mask_public_key:
            raise ProtocolError(
                f"the reconstructed mask key of {self._roster.name(v)!r} does not match its "
                "advert: a silo revealed a false share"
            )
        return [
            payloads.pair_mask(mask_sk, self._adverts[u].mask_public_key, self.context, u, v)
            for u in self._survivors
        ]

    def _survivor_self_mask(self, u: int, answers: list[UnmaskingShares]) -> SignedMask:
        seed = self._reconstruct(
            u, ((r.owner, r.share) for a in answers for r in a.self_mask_shares)
        )
        return payloads.self_mask(seed, self.context, u)
