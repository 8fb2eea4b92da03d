"""Masking's messages <-> their bodies on the wire (``proto/masking.proto``).

The transport carries each body in a scheme-neutral envelope whose context names the
session, the stage and the speaker; the stage says which message the body is, so a
body is parsed as exactly one type and a stage label cannot disagree with it. Decoding
checks what it can of the shape (indices and lengths are the session's to check) and a
malformed body raises :class:`~fedsilo.errors.RemoteProtocolError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from google.protobuf.message import Message as ProtoMessage

from fedsilo.errors import RemoteProtocolError
from fedsilo.protocol.masking.messages import (
    AdvertList,
    AggregatorMessage,
    ConsistencySignature,
    DealerCommitments,
    EncryptedShare,
    EvidenceNotice,
    InputCommitment,
    KeyAdvert,
    MaskingSet,
    ReleaseBundle,
    ReleaseNotice,
    RevealedSecret,
    RevealedShare,
    RoundEvidence,
    ShareCheck,
    ShareRelay,
    ShareUpload,
    SignatureBundle,
    SpotLeaf,
    Stage,
    SurvivorList,
    UnmaskingShares,
)
from fedsilo.protocol.masking.proto import masking_pb2 as mpb
from fedsilo.protocol.messages import Ack, SessionContext
from fedsilo.protocol.proto_bytes import parse_message
from fedsilo.protocol.words import bytes_to_words, words_to_bytes

SmallSiloMessage = (
    KeyAdvert
    | ShareUpload
    | ShareCheck
    | InputCommitment
    | ConsistencySignature
    | UnmaskingShares
    | Ack
)

# --- the parts ------------------------------------------------------------------------


def _advert_pb(a: KeyAdvert) -> mpb.KeyAdvert:
    return mpb.KeyAdvert(
        sender=a.sender,
        cipher_public_key=a.cipher_public_key,
        mask_public_key=a.mask_public_key,
        seed_commitment=a.seed_commitment,
        signature=a.signature,
    )


def _advert(ctx: SessionContext, m: mpb.KeyAdvert) -> KeyAdvert:
    return KeyAdvert(
        ctx,
        int(m.sender),
        bytes(m.cipher_public_key),
        bytes(m.mask_public_key),
        bytes(m.seed_commitment),
        bytes(m.signature),
    )


def _share_pb(s: EncryptedShare) -> mpb.EncryptedShare:
    return mpb.EncryptedShare(sender=s.sender, recipient=s.recipient, sealed=s.sealed)


def _share(m: mpb.EncryptedShare) -> EncryptedShare:
    return EncryptedShare(int(m.sender), int(m.recipient), bytes(m.sealed))


def _share_check_pb(c: ShareCheck) -> mpb.ShareCheck:
    return mpb.ShareCheck(sender=c.sender, accused=list(c.accused), signature=c.signature)


def _share_check(ctx: SessionContext, m: mpb.ShareCheck) -> ShareCheck:
    return ShareCheck(ctx, int(m.sender), tuple(int(a) for a in m.accused), bytes(m.signature))


def _dealer_pb(c: DealerCommitments) -> mpb.DealerCommitments:
    return mpb.DealerCommitments(
        sender=c.sender, self_seed=c.self_seed, mask_seed=c.mask_seed, signature=c.signature
    )


def _dealer(m: mpb.DealerCommitments) -> DealerCommitments:
    return DealerCommitments(
        int(m.sender), bytes(m.self_seed), bytes(m.mask_seed), bytes(m.signature)
    )


def _revealed(items: Iterable[mpb.RevealedShare]) -> tuple[RevealedShare, ...]:
    return tuple(RevealedShare(int(r.owner), bytes(r.share)) for r in items)


def _secrets(items: Iterable[mpb.RevealedSecret]) -> tuple[RevealedSecret, ...]:
    return tuple(RevealedSecret(int(r.owner), bytes(r.secret)) for r in items)


def _commitment_pb(c: InputCommitment) -> mpb.InputCommitment:
    return mpb.InputCommitment(
        sender=c.sender,
        total_length=c.total_length,
        digest=c.digest,
        root=c.root,
        signature=c.signature,
    )


def _commitment(ctx: SessionContext, m: mpb.InputCommitment) -> InputCommitment:
    return InputCommitment(
        ctx,
        int(m.sender),
        int(m.total_length),
        bytes(m.digest),
        bytes(m.root),
        bytes(m.signature),
    )


def _consistency_pb(c: ConsistencySignature) -> mpb.ConsistencySignature:
    return mpb.ConsistencySignature(
        sender=c.sender,
        signature=c.signature,
        sketch=list(c.sketch),
        spot_leaves=[
            mpb.SpotLeaf(leaf=s.leaf, data=words_to_bytes(s.words), proof=list(s.proof))
            for s in c.spot_leaves
        ],
    )


def _consistency(ctx: SessionContext, m: mpb.ConsistencySignature) -> ConsistencySignature:
    """Spot-check leaves are 32-bit limbs whatever the modulus (masking's release checks)."""
    return ConsistencySignature(
        ctx,
        int(m.sender),
        tuple(int(z) for z in m.sketch),
        tuple(
            SpotLeaf(
                int(s.leaf), bytes_to_words(bytes(s.data), 32), tuple(bytes(h) for h in s.proof)
            )
            for s in m.spot_leaves
        ),
        bytes(m.signature),
    )


def _ack_pb(a: Ack) -> mpb.RoundAck:
    return mpb.RoundAck(sender=a.sender, head=a.head, signature=a.signature)


def _ack(ctx: SessionContext, m: mpb.RoundAck) -> Ack:
    return Ack(ctx, int(m.sender), bytes(m.head), bytes(m.signature))


def _upload_pb(u: ShareUpload) -> mpb.ShareUpload:
    return mpb.ShareUpload(
        sender=u.sender,
        shares=[_share_pb(s) for s in u.shares],
        commitments=_dealer_pb(u.commitments),
    )


def _upload(ctx: SessionContext, m: mpb.ShareUpload) -> ShareUpload:
    return ShareUpload(
        ctx, int(m.sender), tuple(_share(s) for s in m.shares), _dealer(m.commitments)
    )


def _unmasking_pb(u: UnmaskingShares) -> mpb.UnmaskingShares:
    return mpb.UnmaskingShares(
        sender=u.sender,
        self_mask_shares=[
            mpb.RevealedShare(owner=r.owner, share=r.share) for r in u.self_mask_shares
        ],
        mask_key_shares=[
            mpb.RevealedShare(owner=r.owner, share=r.share) for r in u.mask_key_shares
        ],
        signature=u.signature,
    )


def _unmasking(ctx: SessionContext, m: mpb.UnmaskingShares) -> UnmaskingShares:
    return UnmaskingShares(
        ctx,
        int(m.sender),
        _revealed(m.self_mask_shares),
        _revealed(m.mask_key_shares),
        bytes(m.signature),
    )


def _advert_list_pb(a: AdvertList) -> mpb.AdvertList:
    return mpb.AdvertList(adverts=[_advert_pb(x) for x in a.adverts])


def _advert_list(ctx: SessionContext, m: mpb.AdvertList) -> AdvertList:
    return AdvertList(ctx, tuple(_advert(ctx, a) for a in m.adverts))


def _relay_pb(r: ShareRelay) -> mpb.ShareRelay:
    return mpb.ShareRelay(
        recipient=r.recipient,
        senders=list(r.senders),
        shares=[_share_pb(s) for s in r.shares],
        commitments=[_dealer_pb(c) for c in r.commitments],
    )


def _relay(ctx: SessionContext, m: mpb.ShareRelay) -> ShareRelay:
    return ShareRelay(
        ctx,
        int(m.recipient),
        tuple(int(s) for s in m.senders),
        tuple(_share(s) for s in m.shares),
        tuple(_dealer(c) for c in m.commitments),
    )


def _masking_set_pb(m: MaskingSet) -> mpb.MaskingSet:
    return mpb.MaskingSet(senders=list(m.senders), checks=[_share_check_pb(c) for c in m.checks])


def _masking_set(ctx: SessionContext, m: mpb.MaskingSet) -> MaskingSet:
    return MaskingSet(
        ctx, tuple(int(s) for s in m.senders), tuple(_share_check(ctx, c) for c in m.checks)
    )


def _survivors_pb(s: SurvivorList) -> mpb.SurvivorList:
    return mpb.SurvivorList(
        survivors=list(s.survivors),
        dropped=list(s.dropped),
        commitments=[_commitment_pb(c) for c in s.commitments],
        sum_digest=s.sum_digest,
    )


def _survivors(ctx: SessionContext, m: mpb.SurvivorList) -> SurvivorList:
    return SurvivorList(
        ctx,
        tuple(int(s) for s in m.survivors),
        tuple(int(d) for d in m.dropped),
        tuple(_commitment(ctx, c) for c in m.commitments),
        bytes(m.sum_digest),
    )


def _bundle_pb(b: SignatureBundle) -> mpb.SignatureBundle:
    return mpb.SignatureBundle(
        survivors=list(b.survivors),
        dropped=list(b.dropped),
        signatures=[_consistency_pb(s) for s in b.signatures],
    )


def _bundle(ctx: SessionContext, m: mpb.SignatureBundle) -> SignatureBundle:
    return SignatureBundle(
        ctx,
        tuple(int(s) for s in m.survivors),
        tuple(int(d) for d in m.dropped),
        tuple(_consistency(ctx, c) for c in m.signatures),
    )


def _release_pb(r: ReleaseBundle | ReleaseNotice) -> mpb.ReleaseBundle:
    count = r.total.count if isinstance(r, ReleaseBundle) else r.sum_count
    return mpb.ReleaseBundle(
        self_seeds=[mpb.RevealedSecret(owner=s.owner, secret=s.secret) for s in r.self_seeds],
        mask_keys=[mpb.RevealedSecret(owner=s.owner, secret=s.secret) for s in r.mask_keys],
        sum_count=count,
    )


def _release(ctx: SessionContext, m: mpb.ReleaseBundle) -> ReleaseNotice:
    """A release comes back as its notice: the session fetches ``Y`` for it."""
    return ReleaseNotice(ctx, _secrets(m.self_seeds), _secrets(m.mask_keys), int(m.sum_count))


# --- the stages -------------------------------------------------------------------------

# each stage's silo message: its type, its protobuf, its encoder and decoder
_SILO: dict[str, tuple[type, type[ProtoMessage], Callable[[Any], Any], Callable[..., Any]]] = {
    Stage.ADVERTISE_KEYS.value: (KeyAdvert, mpb.KeyAdvert, _advert_pb, _advert),
    Stage.SHARE_KEYS.value: (ShareUpload, mpb.ShareUpload, _upload_pb, _upload),
    Stage.SHARE_CHECK.value: (ShareCheck, mpb.ShareCheck, _share_check_pb, _share_check),
    Stage.MASKED_INPUT.value: (
        InputCommitment,
        mpb.InputCommitment,
        _commitment_pb,
        _commitment,
    ),
    Stage.CONSISTENCY_CHECK.value: (
        ConsistencySignature,
        mpb.ConsistencySignature,
        _consistency_pb,
        _consistency,
    ),
    Stage.UNMASKING.value: (UnmaskingShares, mpb.UnmaskingShares, _unmasking_pb, _unmasking),
    Stage.RELEASE.value: (Ack, mpb.RoundAck, _ack_pb, _ack),
}
_STAGE_OF_SILO = {entry[0]: stage for stage, entry in _SILO.items()}

# each stage's aggregator message (the one each silo awaits to open the stage)
_AGGREGATOR: dict[
    str, tuple[type, type[ProtoMessage], Callable[[Any], Any], Callable[..., Any]]
] = {
    Stage.SHARE_KEYS.value: (AdvertList, mpb.AdvertList, _advert_list_pb, _advert_list),
    Stage.SHARE_CHECK.value: (ShareRelay, mpb.ShareRelay, _relay_pb, _relay),
    Stage.MASKED_INPUT.value: (MaskingSet, mpb.MaskingSet, _masking_set_pb, _masking_set),
    Stage.CONSISTENCY_CHECK.value: (
        SurvivorList,
        mpb.SurvivorList,
        _survivors_pb,
        _survivors,
    ),
    Stage.UNMASKING.value: (SignatureBundle, mpb.SignatureBundle, _bundle_pb, _bundle),
    Stage.RELEASE.value: (ReleaseBundle, mpb.ReleaseBundle, _release_pb, _release),
}
_STAGE_OF_AGGREGATOR = {entry[0]: stage for stage, entry in _AGGREGATOR.items()}
_STAGE_OF_AGGREGATOR[ReleaseNotice] = Stage.RELEASE.value


class MaskingWire:
    """Masking's :class:`~fedsilo.protocol.scheme.SchemeWire`."""

    def silo_body(self, message: SmallSiloMessage) -> tuple[str, int, bytes]:
        stage = _STAGE_OF_SILO.get(type(message))
        if stage is None:
            raise TypeError(f"masking sends no {type(message).__name__} as a message")
        encoded = _SILO[stage][2](message)
        return stage, message.sender, encoded.SerializeToString(deterministic=True)

    def silo_message(
        self, context: SessionContext, stage: str, sender: int, body: bytes
    ) -> SmallSiloMessage:
        entry = _SILO.get(stage)
        if entry is None:
            raise RemoteProtocolError(f"masking has no silo message for stage {stage!r}")
        _, proto, _, decode = entry
        part = parse_message(proto, body, stage)
        if int(part.sender) != sender:  # type: ignore[attr-defined]
            raise RemoteProtocolError(
                f"a {stage} message of silo {part.sender} sent as silo {sender}"  # type: ignore[attr-defined]
            )
        decoded: SmallSiloMessage = decode(context, part)
        return decoded

    def aggregator_body(self, message: AggregatorMessage | ReleaseNotice) -> tuple[str, bytes]:
        stage = _STAGE_OF_AGGREGATOR[type(message)]
        return stage, _AGGREGATOR[stage][2](message).SerializeToString(deterministic=True)

    def aggregator_message(
        self, context: SessionContext, stage: str, body: bytes
    ) -> AdvertList | ShareRelay | MaskingSet | SurvivorList | SignatureBundle | ReleaseNotice:
        entry = _AGGREGATOR.get(stage)
        if entry is None:
            raise RemoteProtocolError(f"masking has no aggregator message for stage {stage!r}")
        _, proto, _, decode = entry
        decoded: (
            AdvertList | ShareRelay | MaskingSet | SurvivorList | SignatureBundle | ReleaseNotice
        ) = decode(context, parse_message(proto, body, stage))
        return decoded

    def evidence_body(self, evidence: RoundEvidence | EvidenceNotice) -> bytes:
        c = evidence.context
        return mpb.RoundEvidence(
            session=mpb.Session(
                federation=c.federation_id,
                config_digest=c.config_digest,
                session_id=c.session_id,
                round=c.round,
                chain_head=c.chain_head,
            ),
            adverts=_advert_list_pb(evidence.adverts),
            survivors=_survivors_pb(evidence.survivors),
            bundle=_bundle_pb(evidence.bundle),
            release=_release_pb(evidence.release),
            acks=[_ack_pb(a) for a in evidence.acks],
        ).SerializeToString(deterministic=True)

    def evidence(self, body: bytes) -> EvidenceNotice:
        m = parse_message(mpb.RoundEvidence, body, "round evidence")
        s = m.session
        ctx = SessionContext(
            s.federation, bytes(s.config_digest), bytes(s.session_id), int(s.round),
            bytes(s.chain_head),
        )  # fmt: skip
        return EvidenceNotice(
            ctx,
            _advert_list(ctx, m.adverts),
            _survivors(ctx, m.survivors),
            _bundle(ctx, m.bundle),
            _release(ctx, m.release),
            tuple(_ack(ctx, a) for a in m.acks),
        )

    def dispute_evidence(self, context: SessionContext, messages: Mapping[str, Any]) -> Any:
        parts = {
            stage: messages.get(stage)
            for stage in (
                Stage.SHARE_KEYS.value,
                Stage.CONSISTENCY_CHECK.value,
                Stage.UNMASKING.value,
                Stage.RELEASE.value,
            )
        }
        missing = [stage for stage, message in parts.items() if message is None]
        if missing:
            raise RemoteProtocolError(
                f"the dispute holds no {', '.join(missing)} message: it cannot be checked"
            )
        adverts, survivors, bundle, release = parts.values()
        if not (
            isinstance(adverts, AdvertList)
            and isinstance(survivors, SurvivorList)
            and isinstance(bundle, SignatureBundle)
            and isinstance(release, ReleaseNotice)
        ):
            raise RemoteProtocolError("the dispute's messages are not a masking release")
        return EvidenceNotice(context, adverts, survivors, bundle, release, ())
