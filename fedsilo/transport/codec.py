"""The aggregator's signed envelope: the one module that writes, signs, verifies and opens
what the aggregator says to a silo, for every transport alike (so the in-memory transport
carries the same signed bytes as gRPC, and tests over it still test authentication).

A scheme's messages travel as bodies its own wire encodes
(:class:`~fedsilo.protocol.scheme.SchemeWire`); this module frames them: the context
(federation, config digest, session, round, stage, speaker), the announcement, the
outcome of a session and the aggregator's signature. Everything it hands out is a
fedsilo type; the protobuf stays inside. Decoding never trusts a field and a
bad message raises :class:`~fedsilo.errors.RemoteProtocolError` naming what is wrong. The
aggregator signs the exact body bytes of what it sends::

    encode("fedsilo/v1/aggregator-envelope", kind, stage, body)

with its certificate key; the silo verifies before it parses the body.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass

from fedsilo.crypto.encoding import encode
from fedsilo.crypto.signatures import IdentityKey, VerifyingKey
from fedsilo.errors import RemoteProtocolError, SignatureError
from fedsilo.protocol.messages import SessionContext
from fedsilo.protocol.proto_bytes import parse_message
from fedsilo.transport.calls import CallContext, SignedEnvelope
from fedsilo.transport.frames import call_context, context_pb
from fedsilo.transport.proto import fedsilo_pb2 as pb

SIGNED_LABEL = "fedsilo/v1/aggregator-envelope"
# the message types an aggregator envelope carries (bound into its signature)
ANNOUNCEMENT_KIND = "session-announcement"
MESSAGE_KIND = "aggregator-message"
OUTCOME_STAGE = "outcome"
ANNOUNCE_STAGE = "announce"
EVIDENCE_STAGE = "evidence"


@dataclass(frozen=True)
class Announcement:
    """A session announcement: the session's context, the length of the vectors it sums,
    the aggregator's nonce and what it states of the scheme's parameters.
    ``hashed_id`` is what the session id must be, ``SHA-256(the rest ‖ nonce)``."""

    context: SessionContext
    vector_length: int
    nonce: bytes
    scheme_params: bytes
    hashed_id: bytes


@dataclass(frozen=True)
class SessionOutcome:
    """How a session ended, as the aggregator says (its context names the session)."""

    context: CallContext
    released: bool
    survivors: tuple[int, ...]
    reason: str


@dataclass(frozen=True)
class AggregatorEnvelope:
    """What a signed aggregator envelope holds: for ``recipient``, in ``context``, exactly
    one of the scheme's message opening ``context.stage`` (``body``), how the session
    ended (``outcome``) or a final round's evidence (``evidence``, which names its
    session itself; the context names only the round)."""

    recipient: int
    context: CallContext
    body: bytes | None = None
    outcome: SessionOutcome | None = None
    evidence: bytes | None = None


# --- the announcement -----------------------------------------------------------------


def announce(
    federation: str,
    config_digest: bytes,
    round_number: int,
    chain_head: bytes,
    vector_length: int,
    scheme_params: bytes,
    nonce: bytes,
) -> bytes:
    """A session announcement whose id is ``SHA-256(announcement ‖ nonce)``, to be signed."""
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
    a.context.session_id = _hashed_id(a)
    return a.SerializeToString()


def _hashed_id(a: pb.SessionAnnouncement) -> bytes:
    body = pb.SessionAnnouncement()
    body.CopyFrom(a)
    body.context.session_id = b""
    return hashlib.sha256(
        encode("fedsilo/v1/session-id", body.SerializeToString(deterministic=True), a.nonce)
    ).digest()


def announcement(body: bytes) -> Announcement:
    """The announcement :func:`announce` wrote (its signature checked by the caller)."""
    a = parse_message(pb.SessionAnnouncement, body)
    return Announcement(
        call_context(a.context).session,
        int(a.vector_length),
        bytes(a.nonce),
        bytes(a.scheme_params),
        _hashed_id(a),
    )


def kept_announcement(signed: SignedEnvelope) -> Announcement:
    """An announcement the aggregator signed and kept in its own journal (its own state,
    so its signature is not checked again here)."""
    return announcement(bytes(parse_message(pb.Signed, signed).body))


def open_announcement(aggregator_key: VerifyingKey, signed: SignedEnvelope) -> Announcement:
    """The pinned aggregator's signed session announcement."""
    return announcement(open_signed(aggregator_key, signed, ANNOUNCEMENT_KIND, (ANNOUNCE_STAGE,)))


# --- aggregator -> silo ---------------------------------------------------------------


def aggregator_message(recipient: int, ctx: SessionContext, stage: str, body: bytes) -> bytes:
    """The scheme's message ``body`` opening ``stage`` of session ``ctx``, for ``recipient``."""
    return pb.AggregatorMessage(
        recipient=recipient, context=context_pb(CallContext.of(ctx, stage, 0)), body=body
    ).SerializeToString()


def outcome_message(
    recipient: int, ctx: SessionContext, released: bool, survivors: list[int], reason: str
) -> bytes:
    """How session ``ctx`` ended, for ``recipient``."""
    context = context_pb(CallContext.of(ctx, OUTCOME_STAGE, 0))
    return pb.AggregatorMessage(
        recipient=recipient,
        context=context,
        outcome=pb.RoundOutcome(
            context=context, released=released, survivors=survivors, reason=reason
        ),
    ).SerializeToString()


def evidence_message(recipient: int, round_number: int, body: bytes) -> bytes:
    """A final round's evidence (the scheme's ``body``, which names its session)."""
    return pb.AggregatorMessage(
        recipient=recipient,
        context=pb.Context(round=round_number, stage=EVIDENCE_STAGE),
        evidence=body,
    ).SerializeToString()


def _envelope(data: bytes) -> AggregatorEnvelope:
    m = parse_message(pb.AggregatorMessage, data)
    context, kind = call_context(m.context), m.WhichOneof("kind")
    if kind == "body":
        return AggregatorEnvelope(int(m.recipient), context, body=bytes(m.body))
    if kind == "evidence":
        return AggregatorEnvelope(int(m.recipient), context, evidence=bytes(m.evidence))
    if kind == "outcome":
        o = m.outcome
        outcome = SessionOutcome(
            call_context(o.context), bool(o.released), tuple(int(i) for i in o.survivors), o.reason
        )
        return AggregatorEnvelope(int(m.recipient), context, outcome=outcome)
    raise RemoteProtocolError("the aggregator sent an empty message")


def outcome_of(ctx: SessionContext, outcome: SessionOutcome) -> SessionOutcome:
    """``outcome`` if it is the outcome of session ``ctx``; an outcome of any other session
    (replayed from an earlier one, say) would end this one on the aggregator's word."""
    c = outcome.context
    if c.stage != OUTCOME_STAGE or c.session != ctx:
        raise RemoteProtocolError(
            f"the aggregator sent the outcome of another session (round {c.round}, session "
            f"{c.session_id.hex()[:16]}…) in session {ctx.session_id.hex()[:16]}… of "
            f"round {ctx.round}"
        )
    return outcome


def session_body(ctx: SessionContext, stage: str, m: AggregatorEnvelope) -> bytes:
    """The body of ``m`` if it is the scheme's message opening ``stage`` of session ``ctx``
    (signed for that stage, checked by the caller); an envelope naming another session or
    stage, or holding no body, is refused."""
    if m.body is None:
        raise RemoteProtocolError(f"the aggregator sent no {stage} message")
    c = m.context
    if c.stage != stage or c.session != ctx:
        raise RemoteProtocolError(
            f"the aggregator sent a message of stage {c.stage!r} of round {c.round}, session "
            f"{c.session_id.hex()[:16]}… where stage {stage!r} of session "
            f"{ctx.session_id.hex()[:16]}… belongs"
        )
    return m.body


# --- the aggregator's signature ---------------------------------------------------------


def sign(identity: IdentityKey, body: bytes, kind: str, stage: str) -> SignedEnvelope:
    """The aggregator's envelope of ``body``: a ``kind`` of message for ``stage``, signed
    together, so no signed message can be served as another type or at another stage."""
    return pb.Signed(
        body=body, signature=identity.sign(SIGNED_LABEL, kind, stage, body), kind=kind, stage=stage
    ).SerializeToString()


def open_signed(
    aggregator_key: VerifyingKey,
    signed: SignedEnvelope,
    kind: str,
    stages: Collection[str] | None = None,
) -> bytes:
    """The body of ``signed`` if the pinned aggregator signed it as a ``kind`` message for one
    of ``stages`` (any stage when ``None``); raises otherwise."""
    envelope = parse_message(pb.Signed, signed)
    try:
        aggregator_key.verify(
            bytes(envelope.signature),
            SIGNED_LABEL,
            envelope.kind,
            envelope.stage,
            bytes(envelope.body),
        )
    except SignatureError as exc:
        raise SignatureError(
            "a message claiming to come from the aggregator is not signed by its pinned key"
        ) from exc
    if envelope.kind != kind:
        raise RemoteProtocolError(
            f"the aggregator sent a {envelope.kind or 'untyped'} envelope where a {kind} belongs"
        )
    if stages is not None and envelope.stage not in stages:
        raise RemoteProtocolError(
            f"the aggregator sent a message signed for stage {envelope.stage!r} where one for "
            f"{' or '.join(repr(s) for s in stages)} belongs"
        )
    return bytes(envelope.body)


def open_message(
    aggregator_key: VerifyingKey, signed: SignedEnvelope, stages: Collection[str]
) -> AggregatorEnvelope:
    """The aggregator's message in ``signed``, signed for one of ``stages`` and by its
    envelope's own context for that very stage: every part of the aggregator's word
    (the label it signed, the stage its context names) says the same, so a message signed
    under another label (a release signed as an outcome, say) is refused before anyone
    keeps it as evidence."""
    envelope = parse_message(pb.Signed, signed)
    message = _envelope(open_signed(aggregator_key, signed, MESSAGE_KIND, stages))
    if message.context.stage != envelope.stage:
        raise RemoteProtocolError(
            f"the aggregator signed a {message.context.stage or 'unlabelled'} message as one "
            f"for stage {envelope.stage!r}: refusing it"
        )
    return message
