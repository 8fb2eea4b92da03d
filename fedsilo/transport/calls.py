"""What the transport's calls carry, in fedsilo types.

The transport interface (:mod:`fedsilo.transport.link`, :mod:`fedsilo.transport.handlers`)
speaks these frozen dataclasses; only the gRPC adapter and the in-memory transport's
wire copy turn them into protobuf (:mod:`fedsilo.transport.frames`). What the aggregator
says to a silo travels as its signed envelope, opaque bytes here, opened by
:mod:`fedsilo.transport.codec`.
"""

from __future__ import annotations

from dataclasses import dataclass

from fedsilo.protocol.messages import SessionContext

# The aggregator's signed envelope (a serialized ``Signed``), as the silo receives it and
# keeps it as evidence: the exact bytes its signature covers travel unchanged.
SignedEnvelope = bytes


@dataclass(frozen=True)
class CallContext:
    """What every call names: the federation and its config, the session (empty when the
    call is about a round, not a session), the round, the stage, and the silo speaking
    (0: the aggregator)."""

    federation: str
    config_digest: bytes
    session_id: bytes
    round: int
    stage: str
    sender: int
    chain_head: bytes = b""

    @classmethod
    def of(cls, session: SessionContext, stage: str, sender: int) -> CallContext:
        return cls(
            session.federation_id,
            session.config_digest,
            session.session_id,
            session.round,
            stage,
            sender,
            session.chain_head,
        )

    @property
    def session(self) -> SessionContext:
        """The session this context names (the stage and speaker left out)."""
        return SessionContext(
            self.federation, self.config_digest, self.session_id, self.round, self.chain_head
        )


@dataclass(frozen=True)
class JoinRequest:
    federation: str
    config_digest: bytes
    name: str


@dataclass(frozen=True)
class JoinReply:
    """The aggregator's certificate and the roster's (DER, roster order; each pinned in the
    config), the model layout (pinned by digest), its last final round (a silo behind it
    catches up) and every installed epoch reset (each silo verifies them itself)."""

    aggregator_certificate: bytes
    silo_certificates: tuple[bytes, ...]
    model_layout: bytes
    chain_round: int
    resets: tuple[str, ...]


@dataclass(frozen=True)
class StageMessage:
    """A silo's small message: the scheme's body for the stage its context names."""

    context: CallContext
    body: bytes


@dataclass(frozen=True)
class InputChunk:
    """One chunk of a streamed vector: ``data`` holds elements ``offset ..`` of a vector
    declared ``total_length`` elements long, laid out as the scheme lays them out."""

    context: CallContext
    offset: int
    total_length: int
    data: bytes


@dataclass(frozen=True)
class ResultChunk:
    """One chunk of a download of ``total_length`` elements, from element ``offset``."""

    offset: int
    total_length: int
    data: bytes
