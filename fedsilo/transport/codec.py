"""Protocol dataclasses <-> protobuf messages, and the aggregator's signed envelope.

Decoding never trusts a field: lengths, indices and dtypes are checked and a
bad message raises :class:`~fedsilo.errors.RemoteProtocolError` naming what
is wrong. The aggregator signs the exact body bytes of what it sends::

    encode("fedsilo/v1/aggregator-message", body)

with its certificate key; the silo verifies before it parses the body.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from google.protobuf.message import DecodeError

from fedsilo.crypto.prg import UIntArray, word_dtype
from fedsilo.crypto.signatures import IdentityKey, VerifyingKey
from fedsilo.errors import RemoteProtocolError, SignatureError
from fedsilo.protocol.messages import (
    AdvertList,
    AggregatorMessage,
    ConsistencySignature,
    EncryptedShare,
    KeyAdvert,
    RevealedShare,
    SessionContext,
    ShareRelay,
    ShareUpload,
    SignatureBundle,
    Stage,
    SurvivorList,
    UnmaskingShares,
)
from fedsilo.transport.proto import fedsilo_pb2 as pb

SIGNED_LABEL = "fedsilo/v1/aggregator-message"
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
    )


def session_of(c: pb.Context) -> SessionContext:
    return SessionContext(c.federation, bytes(c.config_digest), bytes(c.session_id), int(c.round))


# --- silo -> aggregator ---------------------------------------------------------------


def _advert_pb(a: KeyAdvert) -> pb.KeyAdvert:
    return pb.KeyAdvert(
        context=context_pb(a.context, Stage.ADVERTISE_KEYS.value, a.sender),
        cipher_public_key=a.cipher_public_key,
        mask_public_key=a.mask_public_key,
        signature=a.signature,
    )


def _advert(m: pb.KeyAdvert) -> KeyAdvert:
    return KeyAdvert(
        session_of(m.context),
        int(m.context.sender),
        bytes(m.cipher_public_key),
        bytes(m.mask_public_key),
        bytes(m.signature),
    )


def _share_pb(s: EncryptedShare) -> pb.EncryptedShare:
    return pb.EncryptedShare(sender=s.sender, recipient=s.recipient, sealed=s.sealed)


def _share(m: pb.EncryptedShare) -> EncryptedShare:
    return EncryptedShare(int(m.sender), int(m.recipient), bytes(m.sealed))


def _revealed(items: Iterable[pb.RevealedShare]) -> tuple[RevealedShare, ...]:
    return tuple(RevealedShare(int(r.owner), bytes(r.share)) for r in items)


def silo_message_pb(
    message: KeyAdvert | ShareUpload | ConsistencySignature | UnmaskingShares,
) -> pb.SiloMessage:
    """The protobuf form of a silo's small (non-vector) message."""
    if isinstance(message, KeyAdvert):
        return pb.SiloMessage(advert=_advert_pb(message))
    if isinstance(message, ShareUpload):
        ctx = context_pb(message.context, Stage.SHARE_KEYS.value, message.sender)
        return pb.SiloMessage(
            shares=pb.ShareUpload(context=ctx, shares=[_share_pb(s) for s in message.shares])
        )
    if isinstance(message, ConsistencySignature):
        ctx = context_pb(message.context, Stage.CONSISTENCY_CHECK.value, message.sender)
        return pb.SiloMessage(
            consistency=pb.ConsistencySignature(context=ctx, signature=message.signature)
        )
    ctx = context_pb(message.context, Stage.UNMASKING.value, message.sender)
    return pb.SiloMessage(
        unmasking=pb.UnmaskingShares(
            context=ctx,
            self_mask_shares=[
                pb.RevealedShare(owner=r.owner, share=r.share) for r in message.self_mask_shares
            ],
            mask_key_shares=[
                pb.RevealedShare(owner=r.owner, share=r.share) for r in message.mask_key_shares
            ],
        )
    )


def silo_message(
    m: pb.SiloMessage,
) -> tuple[pb.Context, KeyAdvert | ShareUpload | ConsistencySignature | UnmaskingShares]:
    """Decode a silo message; returns its wire context (stage and sender) too."""
    kind = m.WhichOneof("kind")
    if kind == "advert":
        return m.advert.context, _advert(m.advert)
    if kind == "shares":
        c = m.shares.context
        return c, ShareUpload(
            session_of(c), int(c.sender), tuple(_share(s) for s in m.shares.shares)
        )
    if kind == "consistency":
        c = m.consistency.context
        return c, ConsistencySignature(session_of(c), int(c.sender), bytes(m.consistency.signature))
    if kind == "unmasking":
        c, u = m.unmasking.context, m.unmasking
        return c, UnmaskingShares(
            session_of(c),
            int(c.sender),
            _revealed(u.self_mask_shares),
            _revealed(u.mask_key_shares),
        )
    raise RemoteProtocolError("an empty silo message")


def words_to_bytes(values: UIntArray) -> bytes:
    """Raw little-endian bytes of a word vector."""
    return values.astype(values.dtype.newbyteorder("<"), copy=False).tobytes()


def bytes_to_words(data: bytes, bits: int) -> UIntArray:
    """Words from raw little-endian bytes; refuses a length that is not whole words."""
    dtype = word_dtype(bits).newbyteorder("<")
    if len(data) % dtype.itemsize:
        raise RemoteProtocolError(
            f"a chunk of {len(data)} bytes is not a whole number of {bits}-bit words"
        )
    return np.frombuffer(data, dtype=dtype).astype(word_dtype(bits), copy=False)


# --- aggregator -> silo ---------------------------------------------------------------


def aggregator_message_pb(recipient: int, message: AggregatorMessage) -> pb.AggregatorMessage:
    if isinstance(message, AdvertList):
        ctx = context_pb(message.context, Stage.SHARE_KEYS.value, 0)
        return pb.AggregatorMessage(
            recipient=recipient,
            adverts=pb.AdvertList(context=ctx, adverts=[_advert_pb(a) for a in message.adverts]),
        )
    if isinstance(message, ShareRelay):
        ctx = context_pb(message.context, Stage.MASKED_INPUT.value, 0)
        return pb.AggregatorMessage(
            recipient=recipient,
            relay=pb.ShareRelay(
                context=ctx,
                recipient=message.recipient,
                senders=list(message.senders),
                shares=[_share_pb(s) for s in message.shares],
            ),
        )
    if isinstance(message, SurvivorList):
        ctx = context_pb(message.context, Stage.CONSISTENCY_CHECK.value, 0)
        return pb.AggregatorMessage(
            recipient=recipient,
            survivors=pb.SurvivorList(
                context=ctx, survivors=list(message.survivors), dropped=list(message.dropped)
            ),
        )
    ctx = context_pb(message.context, Stage.UNMASKING.value, 0)
    return pb.AggregatorMessage(
        recipient=recipient,
        bundle=pb.SignatureBundle(
            context=ctx,
            survivors=list(message.survivors),
            dropped=list(message.dropped),
            signatures=[
                pb.ConsistencySignature(
                    context=context_pb(s.context, Stage.CONSISTENCY_CHECK.value, s.sender),
                    signature=s.signature,
                )
                for s in message.signatures
            ],
        ),
    )


def aggregator_message(m: pb.AggregatorMessage) -> AggregatorMessage | pb.RoundOutcome:
    kind = m.WhichOneof("kind")
    if kind == "adverts":
        return AdvertList(
            session_of(m.adverts.context), tuple(_advert(a) for a in m.adverts.adverts)
        )
    if kind == "relay":
        r = m.relay
        return ShareRelay(
            session_of(r.context),
            int(r.recipient),
            tuple(int(s) for s in r.senders),
            tuple(_share(s) for s in r.shares),
        )
    if kind == "survivors":
        s = m.survivors
        return SurvivorList(session_of(s.context), tuple(s.survivors), tuple(s.dropped))
    if kind == "bundle":
        b = m.bundle
        sigs = tuple(
            ConsistencySignature(session_of(c.context), int(c.context.sender), bytes(c.signature))
            for c in b.signatures
        )
        return SignatureBundle(session_of(b.context), tuple(b.survivors), tuple(b.dropped), sigs)
    if kind == "outcome":
        return m.outcome
    raise RemoteProtocolError("an empty aggregator message")


# --- the aggregator's signature ---------------------------------------------------------


def sign(identity: IdentityKey, body: bytes) -> pb.Signed:
    return pb.Signed(body=body, signature=identity.sign(SIGNED_LABEL, body))


def open_signed(aggregator_key: VerifyingKey, signed: pb.Signed) -> bytes:
    """The body of ``signed`` if the pinned aggregator signed it; raises otherwise."""
    try:
        aggregator_key.verify(bytes(signed.signature), SIGNED_LABEL, bytes(signed.body))
    except SignatureError as exc:
        raise SignatureError(
            "a message claiming to come from the aggregator is not signed by its pinned key"
        ) from exc
    return bytes(signed.body)


def parse(message_type: type[pb.AggregatorMessage] | type[pb.SessionAnnouncement], body: bytes):  # type: ignore[no-untyped-def]
    """Parse ``body`` as ``message_type``; malformed bytes are a RemoteProtocolError."""
    message = message_type()
    try:
        message.ParseFromString(body)
    except DecodeError as exc:
        raise RemoteProtocolError(f"malformed {message_type.__name__}") from exc
    return message
