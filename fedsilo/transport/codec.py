"""Protocol dataclasses <-> protobuf messages, and the aggregator's signed envelope.

Decoding never trusts a field: lengths, indices and dtypes are checked and a
bad message raises :class:`~fedsilo.errors.RemoteProtocolError` naming what
is wrong. The aggregator signs the exact body bytes of what it sends::

    encode("fedsilo/v1/aggregator-message", body)

with its certificate key; the silo verifies before it parses the body.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable
from typing import Any

from google.protobuf.message import DecodeError

from fedsilo.crypto.encoding import encode
from fedsilo.crypto.signatures import IdentityKey, VerifyingKey
from fedsilo.errors import ContextMismatchError, RemoteProtocolError, SignatureError
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
from fedsilo.protocol.messages import Ack, SessionContext
from fedsilo.protocol.words import bytes_to_words, words_to_bytes
from fedsilo.transport.proto import fedsilo_pb2 as pb

SIGNED_LABEL = "fedsilo/v1/aggregator-envelope"
# the message types an aggregator envelope carries (bound into its signature)
ANNOUNCEMENT_KIND = "session-announcement"
MESSAGE_KIND = "aggregator-message"
OUTCOME_STAGE = "outcome"
ANNOUNCE_STAGE = "announce"


# --- context --------------------------------------------------------------------------


def context_pb(ctx: SessionContext, stage: str, sender: int) -> pb.Context:
    return pb.Context(
        federation=ctx.federation_id,
        config_digest=ctx.config_digest,
        session_id=ctx.session_id,
        round=ctx.round,
        stage=stage,
        sender=sender,
        chain_head=ctx.chain_head,
    )


def session_of(c: pb.Context) -> SessionContext:
    return SessionContext(
        c.federation,
        bytes(c.config_digest),
        bytes(c.session_id),
        int(c.round),
        bytes(c.chain_head),
    )


SmallSiloMessage = (
    KeyAdvert
    | ShareUpload
    | ShareCheck
    | InputCommitment
    | ConsistencySignature
    | UnmaskingShares
    | Ack
)


def announce(
    federation: str,
    config_digest: bytes,
    round_number: int,
    chain_head: bytes,
    vector_length: int,
    bits: int,
    nonce: bytes,
) -> pb.SessionAnnouncement:
    """A session announcement whose id is ``SHA-256(announcement ‖ nonce)``."""
    a = pb.SessionAnnouncement(
        context=pb.Context(
            federation=federation,
            config_digest=config_digest,
            round=round_number,
            stage=ANNOUNCE_STAGE,
            chain_head=chain_head,
        ),
        vector_length=vector_length,
        modulus_bits=bits,
        nonce=nonce,
    )
    a.context.session_id = announced_session_id(a)
    return a


def announced_session_id(a: pb.SessionAnnouncement) -> bytes:
    """The session id an announcement must carry: the hash of the rest of it and its nonce."""
    body = pb.SessionAnnouncement()
    body.CopyFrom(a)
    body.context.session_id = b""
    return hashlib.sha256(
        encode("fedsilo/v1/session-id", body.SerializeToString(deterministic=True), a.nonce)
    ).digest()


# --- silo -> aggregator ---------------------------------------------------------------


def _advert_pb(a: KeyAdvert) -> pb.KeyAdvert:
    return pb.KeyAdvert(
        context=context_pb(a.context, Stage.ADVERTISE_KEYS.value, a.sender),
        cipher_public_key=a.cipher_public_key,
        mask_public_key=a.mask_public_key,
        seed_commitment=a.seed_commitment,
        signature=a.signature,
    )


def _advert(m: pb.KeyAdvert) -> KeyAdvert:
    return KeyAdvert(
        session_of(m.context),
        int(m.context.sender),
        bytes(m.cipher_public_key),
        bytes(m.mask_public_key),
        bytes(m.seed_commitment),
        bytes(m.signature),
    )


def _share_pb(s: EncryptedShare) -> pb.EncryptedShare:
    return pb.EncryptedShare(sender=s.sender, recipient=s.recipient, sealed=s.sealed)


def _share(m: pb.EncryptedShare) -> EncryptedShare:
    return EncryptedShare(int(m.sender), int(m.recipient), bytes(m.sealed))


def _share_check_pb(c: ShareCheck) -> pb.ShareCheck:
    return pb.ShareCheck(
        context=context_pb(c.context, Stage.SHARE_CHECK.value, c.sender),
        accused=list(c.accused),
        signature=c.signature,
    )


def _share_check(m: pb.ShareCheck) -> ShareCheck:
    return ShareCheck(
        session_of(m.context),
        int(m.context.sender),
        tuple(int(a) for a in m.accused),
        bytes(m.signature),
    )


def _dealer_pb(c: DealerCommitments) -> pb.DealerCommitments:
    return pb.DealerCommitments(
        sender=c.sender, self_seed=c.self_seed, mask_seed=c.mask_seed, signature=c.signature
    )


def _dealer(m: pb.DealerCommitments) -> DealerCommitments:
    return DealerCommitments(
        int(m.sender), bytes(m.self_seed), bytes(m.mask_seed), bytes(m.signature)
    )


def _revealed(items: Iterable[pb.RevealedShare]) -> tuple[RevealedShare, ...]:
    return tuple(RevealedShare(int(r.owner), bytes(r.share)) for r in items)


def _commitment_pb(c: InputCommitment) -> pb.InputCommitment:
    return pb.InputCommitment(
        context=context_pb(c.context, Stage.MASKED_INPUT.value, c.sender),
        total_length=c.total_length,
        digest=c.digest,
        root=c.root,
        signature=c.signature,
    )


def _commitment(m: pb.InputCommitment) -> InputCommitment:
    return InputCommitment(
        session_of(m.context),
        int(m.context.sender),
        int(m.total_length),
        bytes(m.digest),
        bytes(m.root),
        bytes(m.signature),
    )


def _consistency_pb(c: ConsistencySignature) -> pb.ConsistencySignature:
    return pb.ConsistencySignature(
        context=context_pb(c.context, Stage.CONSISTENCY_CHECK.value, c.sender),
        signature=c.signature,
        sketch=list(c.sketch),
        spot_leaves=[
            pb.SpotLeaf(leaf=s.leaf, data=words_to_bytes(s.words), proof=list(s.proof))
            for s in c.spot_leaves
        ],
    )


def _consistency(m: pb.ConsistencySignature) -> ConsistencySignature:
    """Spot-check leaves are 32-bit limbs whatever the modulus (masking's release checks)."""
    return ConsistencySignature(
        session_of(m.context),
        int(m.context.sender),
        tuple(int(z) for z in m.sketch),
        tuple(
            SpotLeaf(
                int(s.leaf), bytes_to_words(bytes(s.data), 32), tuple(bytes(h) for h in s.proof)
            )
            for s in m.spot_leaves
        ),
        bytes(m.signature),
    )


def _ack_pb(a: Ack) -> pb.RoundAck:
    ctx = context_pb(a.context, Stage.RELEASE.value, a.sender)
    return pb.RoundAck(context=ctx, head=a.head, signature=a.signature)


def _ack(m: pb.RoundAck) -> Ack:
    c = m.context
    return Ack(session_of(c), int(c.sender), bytes(m.head), bytes(m.signature))


def _upload_pb(u: ShareUpload) -> pb.ShareUpload:
    return pb.ShareUpload(
        context=context_pb(u.context, Stage.SHARE_KEYS.value, u.sender),
        shares=[_share_pb(s) for s in u.shares],
        commitments=_dealer_pb(u.commitments),
    )


def _upload(m: pb.ShareUpload) -> ShareUpload:
    c = m.context
    return ShareUpload(
        session_of(c), int(c.sender), tuple(_share(s) for s in m.shares), _dealer(m.commitments)
    )


def _unmasking_pb(u: UnmaskingShares) -> pb.UnmaskingShares:
    return pb.UnmaskingShares(
        context=context_pb(u.context, Stage.UNMASKING.value, u.sender),
        self_mask_shares=[
            pb.RevealedShare(owner=r.owner, share=r.share) for r in u.self_mask_shares
        ],
        mask_key_shares=[pb.RevealedShare(owner=r.owner, share=r.share) for r in u.mask_key_shares],
        signature=u.signature,
    )


def _unmasking(m: pb.UnmaskingShares) -> UnmaskingShares:
    c = m.context
    return UnmaskingShares(
        session_of(c),
        int(c.sender),
        _revealed(m.self_mask_shares),
        _revealed(m.mask_key_shares),
        bytes(m.signature),
    )


# each small silo message: its field in the SiloMessage oneof, its encoder and decoder
_SILO_FIELDS: dict[type, tuple[str, Callable[[Any], Any]]] = {
    KeyAdvert: ("advert", _advert_pb),
    ShareUpload: ("shares", _upload_pb),
    ShareCheck: ("check", _share_check_pb),
    InputCommitment: ("commitment", _commitment_pb),
    ConsistencySignature: ("consistency", _consistency_pb),
    UnmaskingShares: ("unmasking", _unmasking_pb),
    Ack: ("ack", _ack_pb),
}
_SILO_DECODERS: dict[str, Callable[[Any], SmallSiloMessage]] = {
    "advert": _advert,
    "shares": _upload,
    "check": _share_check,
    "commitment": _commitment,
    "consistency": _consistency,
    "unmasking": _unmasking,
    "ack": _ack,
}


def silo_message_pb(message: SmallSiloMessage) -> pb.SiloMessage:
    """The protobuf form of a silo's small (non-vector) message."""
    name, encode_part = _SILO_FIELDS[type(message)]
    return pb.SiloMessage(**{name: encode_part(message)})


# the stage each kind of message answers: its context's stage label must say so
SILO_MESSAGE_STAGE = {
    "advert": Stage.ADVERTISE_KEYS.value,
    "shares": Stage.SHARE_KEYS.value,
    "check": Stage.SHARE_CHECK.value,
    "commitment": Stage.MASKED_INPUT.value,
    "consistency": Stage.CONSISTENCY_CHECK.value,
    "unmasking": Stage.UNMASKING.value,
    "ack": Stage.RELEASE.value,
}


def input_chunk(m: pb.InputChunk) -> tuple[SessionContext, str, int, int, bytes]:
    """Decode one chunk of a streamed vector: its session context, the stage it is labelled
    with (the session checks it), its offset, the declared length of the whole vector and
    its raw bytes."""
    c = m.context
    return session_of(c), str(c.stage), int(m.offset), int(m.total_length), bytes(m.data)


# the stage of each aggregator message (its outbox key and the label it is signed under)
STAGE_OF_REPLY = {
    AdvertList: Stage.SHARE_KEYS.value,
    ShareRelay: Stage.SHARE_CHECK.value,
    MaskingSet: Stage.MASKED_INPUT.value,
    SurvivorList: Stage.CONSISTENCY_CHECK.value,
    SignatureBundle: Stage.UNMASKING.value,
    ReleaseBundle: Stage.RELEASE.value,
}


def silo_message(m: pb.SiloMessage) -> tuple[pb.Context, str, SmallSiloMessage]:
    """Decode a silo message: its wire context (sender, session), the stage it answers
    and the message. Refused if its stage label is not that stage's."""
    kind = m.WhichOneof("kind")
    if kind is None or kind not in _SILO_DECODERS:
        raise RemoteProtocolError("an empty silo message")
    part = getattr(m, kind)
    stage = SILO_MESSAGE_STAGE[kind]
    if part.context.stage != stage:
        raise ContextMismatchError(
            f"the message is labelled stage {part.context.stage!r}, not {stage!r}"
        )
    return part.context, stage, _SILO_DECODERS[kind](part)


# --- aggregator -> silo ---------------------------------------------------------------


def aggregator_message_pb(recipient: int, message: AggregatorMessage) -> pb.AggregatorMessage:
    if isinstance(message, AdvertList):
        ctx = context_pb(message.context, Stage.SHARE_KEYS.value, 0)
        return pb.AggregatorMessage(
            recipient=recipient,
            adverts=pb.AdvertList(context=ctx, adverts=[_advert_pb(a) for a in message.adverts]),
        )
    if isinstance(message, MaskingSet):
        ctx = context_pb(message.context, Stage.MASKED_INPUT.value, 0)
        return pb.AggregatorMessage(
            recipient=recipient,
            masking=pb.MaskingSet(
                context=ctx,
                senders=list(message.senders),
                checks=[_share_check_pb(c) for c in message.checks],
            ),
        )
    if isinstance(message, ShareRelay):
        ctx = context_pb(message.context, Stage.SHARE_CHECK.value, 0)
        return pb.AggregatorMessage(
            recipient=recipient,
            relay=pb.ShareRelay(
                context=ctx,
                recipient=message.recipient,
                senders=list(message.senders),
                shares=[_share_pb(s) for s in message.shares],
                commitments=[_dealer_pb(c) for c in message.commitments],
            ),
        )
    if isinstance(message, SurvivorList):
        ctx = context_pb(message.context, Stage.CONSISTENCY_CHECK.value, 0)
        return pb.AggregatorMessage(
            recipient=recipient,
            survivors=pb.SurvivorList(
                context=ctx,
                survivors=list(message.survivors),
                dropped=list(message.dropped),
                commitments=[_commitment_pb(c) for c in message.commitments],
                sum_digest=message.sum_digest,
            ),
        )
    if isinstance(message, ReleaseBundle):
        ctx = context_pb(message.context, Stage.RELEASE.value, 0)
        return pb.AggregatorMessage(
            recipient=recipient,
            release=pb.ReleaseBundle(
                context=ctx,
                self_seeds=[
                    pb.RevealedSecret(owner=r.owner, secret=r.secret) for r in message.self_seeds
                ],
                mask_keys=[
                    pb.RevealedSecret(owner=r.owner, secret=r.secret) for r in message.mask_keys
                ],
                sum_count=message.total.count,
            ),
        )
    ctx = context_pb(message.context, Stage.UNMASKING.value, 0)
    return pb.AggregatorMessage(
        recipient=recipient,
        bundle=pb.SignatureBundle(
            context=ctx,
            survivors=list(message.survivors),
            dropped=list(message.dropped),
            signatures=[_consistency_pb(s) for s in message.signatures],
        ),
    )


def aggregator_message(
    m: pb.AggregatorMessage,
) -> AggregatorMessage | ReleaseNotice | pb.RoundOutcome:
    """Decode what the aggregator sent; a release comes back as its notice (the session
    fetches ``Y`` for it), a session's outcome as its protobuf (see :func:`outcome_of`)."""
    kind = m.WhichOneof("kind")
    if kind == "adverts":
        return AdvertList(
            session_of(m.adverts.context), tuple(_advert(a) for a in m.adverts.adverts)
        )
    if kind in ("masking", "relay"):
        return _sharing_message(m)
    if kind == "survivors":
        s = m.survivors
        return SurvivorList(
            session_of(s.context),
            tuple(s.survivors),
            tuple(s.dropped),
            tuple(_commitment(c) for c in s.commitments),
            bytes(s.sum_digest),
        )
    if kind == "bundle":
        b = m.bundle
        sigs = tuple(_consistency(c) for c in b.signatures)
        return SignatureBundle(session_of(b.context), tuple(b.survivors), tuple(b.dropped), sigs)
    if kind == "release":
        r = m.release
        return ReleaseNotice(
            session_of(r.context), _secrets(r.self_seeds), _secrets(r.mask_keys), int(r.sum_count)
        )
    if kind == "outcome":
        return m.outcome
    raise RemoteProtocolError("an empty aggregator message")


def _sharing_message(m: pb.AggregatorMessage) -> MaskingSet | ShareRelay:
    if m.WhichOneof("kind") == "masking":
        ms = m.masking
        return MaskingSet(
            session_of(ms.context),
            tuple(int(s) for s in ms.senders),
            tuple(_share_check(c) for c in ms.checks),
        )
    r = m.relay
    return ShareRelay(
        session_of(r.context),
        int(r.recipient),
        tuple(int(s) for s in r.senders),
        tuple(_share(s) for s in r.shares),
        tuple(_dealer(c) for c in r.commitments),
    )


def _secrets(items: Iterable[pb.RevealedSecret]) -> tuple[RevealedSecret, ...]:
    return tuple(RevealedSecret(int(r.owner), bytes(r.secret)) for r in items)


def outcome_of(ctx: SessionContext, outcome: pb.RoundOutcome) -> pb.RoundOutcome:
    """``outcome`` if it is the outcome of session ``ctx``; an outcome of any other session
    (replayed from an earlier one, say) would end this one on the aggregator's word."""
    c = outcome.context
    if c.stage != OUTCOME_STAGE or session_of(c) != ctx:
        raise RemoteProtocolError(
            f"the aggregator sent the outcome of another session (round {c.round}, session "
            f"{bytes(c.session_id).hex()[:16]}…) in session {ctx.session_id.hex()[:16]}… of "
            f"round {ctx.round}"
        )
    return outcome


EVIDENCE_STAGE = "evidence"


def evidence_pb(e: RoundEvidence) -> pb.RoundEvidence:
    """A final round's evidence on the wire (``Y`` travels separately)."""
    part = aggregator_message_pb
    return pb.RoundEvidence(
        context=context_pb(e.context, EVIDENCE_STAGE, 0),
        adverts=part(0, e.adverts).adverts,
        survivors=part(0, e.survivors).survivors,
        bundle=part(0, e.bundle).bundle,
        release=part(0, e.release).release,
        acks=[
            pb.RoundAck(
                context=context_pb(a.context, Stage.RELEASE.value, a.sender),
                head=a.head,
                signature=a.signature,
            )
            for a in e.acks
        ],
    )


def evidence(m: pb.RoundEvidence) -> EvidenceNotice:
    """Decode a round's evidence (what its session served is fetched apart, sized by it)."""
    adverts = aggregator_message(pb.AggregatorMessage(adverts=m.adverts))
    survivors = aggregator_message(pb.AggregatorMessage(survivors=m.survivors))
    bundle = aggregator_message(pb.AggregatorMessage(bundle=m.bundle))
    release = aggregator_message(pb.AggregatorMessage(release=m.release))
    if not (
        isinstance(adverts, AdvertList)
        and isinstance(survivors, SurvivorList)
        and isinstance(bundle, SignatureBundle)
        and isinstance(release, ReleaseNotice)
    ):
        raise RemoteProtocolError("malformed round evidence")
    acks = tuple(
        Ack(session_of(a.context), int(a.context.sender), bytes(a.head), bytes(a.signature))
        for a in m.acks
    )
    return EvidenceNotice(session_of(m.context), adverts, survivors, bundle, release, acks)


# --- the aggregator's signature ---------------------------------------------------------


def sign(identity: IdentityKey, body: bytes, kind: str, stage: str) -> pb.Signed:
    """The aggregator's envelope of ``body``: a ``kind`` of message for ``stage``, signed
    together, so no signed message can be served as another type or at another stage."""
    return pb.Signed(
        body=body, signature=identity.sign(SIGNED_LABEL, kind, stage, body), kind=kind, stage=stage
    )


def open_signed(
    aggregator_key: VerifyingKey,
    signed: pb.Signed,
    kind: str,
    stages: Collection[str] | None = None,
) -> bytes:
    """The body of ``signed`` if the pinned aggregator signed it as a ``kind`` message for one
    of ``stages`` (any stage when ``None``); raises otherwise."""
    try:
        aggregator_key.verify(
            bytes(signed.signature), SIGNED_LABEL, signed.kind, signed.stage, bytes(signed.body)
        )
    except SignatureError as exc:
        raise SignatureError(
            "a message claiming to come from the aggregator is not signed by its pinned key"
        ) from exc
    if signed.kind != kind:
        raise RemoteProtocolError(
            f"the aggregator sent a {signed.kind or 'untyped'} envelope where a {kind} belongs"
        )
    if stages is not None and signed.stage not in stages:
        raise RemoteProtocolError(
            f"the aggregator sent a message signed for stage {signed.stage!r} where one for "
            f"{' or '.join(repr(s) for s in stages)} belongs"
        )
    return bytes(signed.body)


def parse(message_type: type[pb.AggregatorMessage] | type[pb.SessionAnnouncement], body: bytes):  # type: ignore[no-untyped-def]
    """Parse ``body`` as ``message_type``; malformed bytes are a RemoteProtocolError."""
    message = message_type()
    try:
        message.ParseFromString(body)
    except DecodeError as exc:
        raise RemoteProtocolError(f"malformed {message_type.__name__}") from exc
    return message
