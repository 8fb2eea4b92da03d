"""The transport's envelopes <-> protobuf, and the aggregator's signed envelope.

A scheme's messages travel as bodies its own wire encodes
(:class:`~fedsilo.protocol.scheme.SchemeWire`); this module frames them: the context
(federation, config digest, session, round, stage, speaker), the announcement, the
outcome of a session and the aggregator's signature. Decoding never trusts a field and a
bad message raises :class:`~fedsilo.errors.RemoteProtocolError` naming what is wrong. The
aggregator signs the exact body bytes of what it sends::

    encode("fedsilo/v1/aggregator-envelope", kind, stage, body)

with its certificate key; the silo verifies before it parses the body.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection

from fedsilo.crypto.encoding import encode
from fedsilo.crypto.signatures import IdentityKey, VerifyingKey
from fedsilo.errors import RemoteProtocolError, SignatureError
from fedsilo.protocol.messages import SessionContext
from fedsilo.protocol.proto_bytes import P, parse_message
from fedsilo.transport.proto import fedsilo_pb2 as pb

SIGNED_LABEL = "fedsilo/v1/aggregator-envelope"
# the message types an aggregator envelope carries (bound into its signature)
ANNOUNCEMENT_KIND = "session-announcement"
MESSAGE_KIND = "aggregator-message"
OUTCOME_STAGE = "outcome"
ANNOUNCE_STAGE = "announce"
EVIDENCE_STAGE = "evidence"


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


def announce(
    federation: str,
    config_digest: bytes,
    round_number: int,
    chain_head: bytes,
    vector_length: int,
    scheme_params: bytes,
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
        scheme_params=scheme_params,
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


def silo_message_pb(ctx: SessionContext, stage: str, sender: int, body: bytes) -> pb.SiloMessage:
    """Silo ``sender``'s message body for ``stage`` of session ``ctx``, framed."""
    return pb.SiloMessage(context=context_pb(ctx, stage, sender), body=body)


def silo_message(m: pb.SiloMessage) -> tuple[pb.Context, str, int, bytes]:
    """A framed silo message: its wire context (checked by the caller against the caller's
    session and the speaker's identity), the stage it answers, its sender and its body."""
    c = m.context
    if not c.stage:
        raise RemoteProtocolError("a silo message that names no stage")
    return c, str(c.stage), int(c.sender), bytes(m.body)


def input_chunk(m: pb.InputChunk) -> tuple[SessionContext, str, int, int, bytes]:
    """Decode one chunk of a streamed vector: its session context, the stage it is labelled
    with (the session checks it), its offset, the declared length of the whole vector and
    its raw bytes."""
    c = m.context
    return session_of(c), str(c.stage), int(m.offset), int(m.total_length), bytes(m.data)


# --- aggregator -> silo ---------------------------------------------------------------


def aggregator_message_pb(
    recipient: int, ctx: SessionContext, stage: str, body: bytes
) -> pb.AggregatorMessage:
    """The scheme's message ``body`` opening ``stage`` of session ``ctx``, for ``recipient``."""
    return pb.AggregatorMessage(recipient=recipient, context=context_pb(ctx, stage, 0), body=body)


def outcome_pb(
    recipient: int, ctx: SessionContext, released: bool, survivors: list[int], reason: str
) -> pb.AggregatorMessage:
    """How session ``ctx`` ended, for ``recipient``."""
    return pb.AggregatorMessage(
        recipient=recipient,
        context=context_pb(ctx, OUTCOME_STAGE, 0),
        outcome=pb.RoundOutcome(
            context=context_pb(ctx, OUTCOME_STAGE, 0),
            released=released,
            survivors=survivors,
            reason=reason,
        ),
    )


def evidence_pb(recipient: int, round_number: int, body: bytes) -> pb.AggregatorMessage:
    """A final round's evidence (the scheme's ``body``, which names its session)."""
    return pb.AggregatorMessage(
        recipient=recipient,
        context=pb.Context(round=round_number, stage=EVIDENCE_STAGE),
        evidence=body,
    )


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


def session_body(ctx: SessionContext, stage: str, m: pb.AggregatorMessage) -> bytes:
    """The body of ``m`` if it is the scheme's message opening ``stage`` of session ``ctx``
    (signed for that stage, checked by the caller); an envelope naming another session or
    stage, or holding no body, is refused."""
    if m.WhichOneof("kind") != "body":
        raise RemoteProtocolError(f"the aggregator sent no {stage} message")
    c = m.context
    if c.stage != stage or session_of(c) != ctx:
        raise RemoteProtocolError(
            f"the aggregator sent a message of stage {c.stage!r} of round {c.round}, session "
            f"{bytes(c.session_id).hex()[:16]}… where stage {stage!r} of session "
            f"{ctx.session_id.hex()[:16]}… belongs"
        )
    return bytes(m.body)


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


def parse(message_type: type[P], body: bytes) -> P:
    """Parse ``body`` as ``message_type``; malformed bytes are a RemoteProtocolError."""
    return parse_message(message_type, body)


def open_message(
    aggregator_key: VerifyingKey, signed: pb.Signed, stages: Collection[str]
) -> pb.AggregatorMessage:
    """The aggregator's message in ``signed``, signed for one of ``stages`` and by its
    envelope's own context for that very stage: every part of the aggregator's word
    (the label it signed, the stage its context names) says the same, so a message signed
    under another label (a release signed as an outcome, say) is refused before anyone
    keeps it as evidence."""
    message = parse(pb.AggregatorMessage, open_signed(aggregator_key, signed, MESSAGE_KIND, stages))
    if message.context.stage != signed.stage:
        raise RemoteProtocolError(
            f"the aggregator signed a {message.context.stage or 'unlabelled'} message as one "
            f"for stage {signed.stage!r}: refusing it"
        )
    return message
