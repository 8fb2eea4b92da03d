"""The silo side of a masking session: a pure state machine.

``start()`` returns the signed key advert; each ``receive(message)`` checks
the aggregator's message against everything the silo already knows and
returns the silo's next message, or raises a named error and moves the
session to ABORTED. See the package docstring for the invariants.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from fedsilo.crypto import kdf, shamir
from fedsilo.crypto.entropy import Entropy
from fedsilo.crypto.prg import UIntArray, word_dtype
from fedsilo.crypto.signatures import IdentityKey
from fedsilo.errors import (
    ContextMismatchError,
    EquivocationRefusedError,
    FedsiloError,
    InconsistentViewError,
    ListedAsDroppedError,
    LocalProtocolError,
    QuantizationError,
    RemoteProtocolError,
    RosterError,
    SignatureError,
    TooFewSurvivorsError,
    UnexpectedMessageError,
)
from fedsilo.protocol.masking import payloads
from fedsilo.protocol.masking.ledger import SignedView, UnmaskLedger
from fedsilo.protocol.masking.params import MaskingParams
from fedsilo.protocol.masking.states import SILO_TRANSITIONS, SiloState
from fedsilo.protocol.messages import (
    AdvertList,
    AggregatorMessage,
    ConsistencySignature,
    KeyAdvert,
    MaskedInputStream,
    RevealedShare,
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


class MaskingSilo:
    """One silo's session of one masked aggregation.

    ``quantized_input`` is the silo's already quantized update (values in
    ``[0, levels)``, dtype of the modulus). ``model_hash`` is the hash of the
    global model the silo trained on; it is signed at the consistency check.
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
        ledger: UnmaskLedger,
        model_hash: bytes,
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
        self._entropy, self._ledger, self._model_hash = entropy, ledger, model_hash
        self._input = quantized_input
        self._state = SiloState.NEW
        self.error: FedsiloError | None = None
        self._advert: KeyAdvert | None = None
        self._adverts: dict[int, KeyAdvert] = {}
        self._senders: tuple[int, ...] = ()
        self._held: dict[int, payloads.SharePair] = {}  # owner -> our share of its secrets
        self._view: SignedView | None = None
        self._handlers: dict[type, Callable[[Any], list[SiloMessage]]] = {
            AdvertList: self._on_adverts,
            ShareRelay: self._on_share_relay,
            SurvivorList: self._on_survivors,
            SignatureBundle: self._on_signatures,
        }

    @property
    def state(self) -> SiloState:
        return self._state

    def start(self) -> list[SiloMessage]:
        """Draw the ephemeral keys and return the signed advert."""
        if self._state is not SiloState.NEW:
            raise LocalProtocolError("start() is called once, on a new session")
        self._cipher_sk = kdf.generate_x25519(self._entropy)
        self._mask_sk = kdf.generate_x25519(self._entropy)
        self._advert = payloads.sign_advert(
            self._identity,
            self.context,
            self.index,
            kdf.x25519_public_bytes(self._cipher_sk),
            kdf.x25519_public_bytes(self._mask_sk),
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

    def _abort(self, exc: FedsiloError) -> NoReturn:
        self._state = SiloState.ABORTED
        if self.error is None:  # keep the first cause; later messages only bounce off
            self.error = exc
        raise exc

    def _need(self, have: int, stage: Stage) -> None:
        if have < self._params.threshold:
            raise TooFewSurvivorsError(stage.value, have, self._params.threshold)

    # --- stage 1: ShareKeys ---------------------------------------------------------

    def _on_adverts(self, message: AdvertList) -> list[SiloMessage]:
        ids = self._roster.check_ids([a.sender for a in message.adverts], "the advert list")
        adverts = dict(zip(ids, message.adverts, strict=True))
        if self.index not in adverts:
            raise ListedAsDroppedError("the advert list leaves this silo out")
        if adverts[self.index] != self._advert:
            raise InconsistentViewError("the aggregator relayed an altered advert of this silo")
        self._need(len(ids), Stage.ADVERTISE_KEYS)
        for sender, advert in adverts.items():
            if advert.context != self.context:
                raise ContextMismatchError(
                    f"the advert of silo {self._roster.name(sender)!r} is from another session"
                )
            try:
                payloads.verify_advert(
                    self._roster.entry(sender).verifying_key, self.context, advert
                )
            except SignatureError as exc:
                raise SignatureError(
                    f"the advert of silo {self._roster.name(sender)!r} is not signed by its "
                    "roster key: substituted or forged by the aggregator"
                ) from exc
        keys = [k for a in adverts.values() for k in (a.cipher_public_key, a.mask_public_key)]
        if len(set(keys)) != len(keys):
            raise InconsistentViewError("two adverts share a public key")
        self._adverts = adverts
        return [self._share_keys(sorted(ids))]

    def _share_keys(self, holders: list[int]) -> ShareUpload:
        self._self_seed = self._entropy.random_bytes(payloads.SEED_BYTES)
        t = self._params.threshold
        mask_secret = kdf.x25519_private_bytes(self._mask_sk)
        key_shares = shamir.split(mask_secret, t, holders, self._entropy)
        seed_shares = shamir.split(self._self_seed, t, holders, self._entropy)
        pairs = {
            h: payloads.SharePair(k, s)
            for h, k, s in zip(holders, key_shares, seed_shares, strict=True)
        }
        self._held[self.index] = pairs[self.index]
        sealed = tuple(
            payloads.seal_share_pair(
                self._cipher_sk,
                self._adverts[h].cipher_public_key,
                self.context,
                self.index,
                h,
                pairs[h],
                self._entropy,
            )
            for h in holders
            if h != self.index
        )
        return ShareUpload(self.context, self.index, sealed)

    # --- stage 2: MaskedInput -------------------------------------------------------

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
        for sender, share in by_sender.items():
            if share.recipient != self.index:
                raise InconsistentViewError("a relayed share is addressed to another silo")
            pair = payloads.open_share_pair(
                self._cipher_sk, self._adverts[sender].cipher_public_key, self.context, share
            )
            if pair.mask_key.x != self.index or pair.self_seed.x != self.index:
                raise InconsistentViewError(f"silo {sender} sealed us a share for another holder")
            self._held[sender] = pair
        self._senders = tuple(sorted(senders))
        return [self._masked_input()]

    def _masked_input(self) -> MaskedInputStream:
        masks = [payloads.self_mask(self._self_seed, self.context, self.index)]
        masks += [
            payloads.pair_mask(
                self._mask_sk, self._adverts[v].mask_public_key, self.context, self.index, v
            )
            for v in self._senders
            if v != self.index
        ]
        return MaskedInputStream(
            self.context, self.index, len(self._input), self._params.bits, self._input, tuple(masks)
        )

    # --- stage 3: ConsistencyCheck --------------------------------------------------

    def _on_survivors(self, message: SurvivorList) -> list[SiloMessage]:
        survivors = set(self._roster.check_ids(message.survivors, "the survivor list"))
        dropped = set(self._roster.check_ids(message.dropped, "the dropped list"))
        both = survivors & dropped
        if both:
            raise InconsistentViewError(
                f"silo(s) {', '.join(self._roster.names(both))} listed as both survivor and dropped"
            )
        if self.index in dropped or self.index not in survivors:
            raise ListedAsDroppedError(
                "the aggregator lists this silo as dropped although its input was sent"
            )
        if survivors | dropped != set(self._senders):
            raise InconsistentViewError(
                "the survivor and dropped lists do not cover exactly the silos that shared keys"
            )
        self._need(len(survivors), Stage.MASKED_INPUT)
        view = SignedView(tuple(sorted(survivors)), tuple(sorted(dropped)))
        self._commit_view(view)
        signature = payloads.sign_consistency(
            self._identity,
            self.context,
            self.index,
            view.survivors,
            view.dropped,
            self._model_hash,
        )
        return [ConsistencySignature(self.context, self.index, signature)]

    def _commit_view(self, view: SignedView) -> None:
        prior = self._ledger.signed_view(self.context.round, self._model_hash)
        if prior is not None and prior != view:
            raise EquivocationRefusedError(
                f"round {self.context.round} was already signed for survivors "
                f"{list(prior.survivors)} on this model; refusing to sign {list(view.survivors)}"
            )
        self._ledger.record_signed_view(self.context.round, self._model_hash, view)
        self._view = view

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
        signers = self._roster.check_ids([s.sender for s in message.signatures], "the signatures")
        if not set(signers) <= set(view.survivors):
            raise InconsistentViewError("a consistency signature comes from a non-survivor")
        self._need(len(signers), Stage.CONSISTENCY_CHECK)
        for sig in message.signatures:
            self._check_consistency_signature(sig, view)
        return [self._unmask(view)]

    def _check_consistency_signature(self, sig: ConsistencySignature, view: SignedView) -> None:
        if sig.context != self.context:
            raise ContextMismatchError("a consistency signature is from another session")
        try:
            payloads.verify_consistency(
                self._roster.entry(sig.sender).verifying_key,
                self.context,
                sig.sender,
                view.survivors,
                view.dropped,
                self._model_hash,
                sig.signature,
            )
        except SignatureError as exc:
            raise InconsistentViewError(
                f"silo {self._roster.name(sig.sender)!r} did not sign the survivor lists and "
                "global-model hash this silo signed: the aggregator showed silos different views"
            ) from exc

    def _unmask(self, view: SignedView) -> UnmaskingShares:
        round_number = self.context.round
        if self._ledger.has_unmasked(round_number, self._model_hash):
            raise EquivocationRefusedError(
                f"unmasking shares for round {round_number} on this model were already released"
            )
        self._ledger.record_unmasked(round_number, self._model_hash)
        return UnmaskingShares(
            self.context,
            self.index,
            tuple(RevealedShare(v, self._held[v].self_seed.to_bytes()) for v in view.survivors),
            tuple(RevealedShare(v, self._held[v].mask_key.to_bytes()) for v in view.dropped),
        )
