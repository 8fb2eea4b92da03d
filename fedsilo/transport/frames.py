"""The transport's calls <-> their protobuf frames (``proto/fedsilo.proto``).

Only the wire-shaped code uses this module: the gRPC adapter (client and servicer), the
in-memory transport's wire copy and the aggregator's journal of accepted messages.
Decoding never trusts a field: a frame that cannot be what it claims raises
:class:`~fedsilo.errors.RemoteProtocolError` naming what is wrong.
"""

from __future__ import annotations

from fedsilo.errors import RemoteProtocolError
from fedsilo.protocol.proto_bytes import parse_message
from fedsilo.transport.calls import (
    CallContext,
    InputChunk,
    JoinReply,
    JoinRequest,
    ResultChunk,
    StageMessage,
)
from fedsilo.transport.proto import fedsilo_pb2 as pb

# a chunk of a streamed vector holds at most this much (its frame adds the envelope)
MAX_CHUNK_BYTES = 2 << 20


def context_pb(c: CallContext) -> pb.Context:
    return pb.Context(
        federation=c.federation,
        config_digest=c.config_digest,
        session_id=c.session_id,
        round=c.round,
        stage=c.stage,
        sender=c.sender,
        chain_head=c.chain_head,
    )


def call_context(c: pb.Context) -> CallContext:
    return CallContext(
        str(c.federation),
        bytes(c.config_digest),
        bytes(c.session_id),
        int(c.round),
        str(c.stage),
        int(c.sender),
        bytes(c.chain_head),
    )


def join_request_pb(r: JoinRequest) -> pb.JoinRequest:
    return pb.JoinRequest(federation=r.federation, config_digest=r.config_digest, name=r.name)


def join_request(r: pb.JoinRequest) -> JoinRequest:
    return JoinRequest(str(r.federation), bytes(r.config_digest), str(r.name))


def join_reply_pb(r: JoinReply) -> pb.JoinReply:
    return pb.JoinReply(
        aggregator_certificate=r.aggregator_certificate,
        silo_certificates=r.silo_certificates,
        model_layout=r.model_layout,
        chain_round=r.chain_round,
        resets=r.resets,
    )


def join_reply(r: pb.JoinReply) -> JoinReply:
    return JoinReply(
        bytes(r.aggregator_certificate),
        tuple(bytes(der) for der in r.silo_certificates),
        bytes(r.model_layout),
        int(r.chain_round),
        tuple(str(text) for text in r.resets),
    )


def stage_message_pb(m: StageMessage) -> pb.SiloMessage:
    return pb.SiloMessage(context=context_pb(m.context), body=m.body)


def stage_message(m: pb.SiloMessage) -> StageMessage:
    if not m.context.stage:
        raise RemoteProtocolError("a silo message that names no stage")
    return StageMessage(call_context(m.context), bytes(m.body))


def stage_message_bytes(m: StageMessage) -> bytes:
    """``m`` as the journal keeps it (deterministic: a resend compares equal)."""
    return stage_message_pb(m).SerializeToString(deterministic=True)


def stage_message_of(data: bytes) -> StageMessage:
    """The message :func:`stage_message_bytes` wrote."""
    return stage_message(parse_message(pb.SiloMessage, data))


def input_chunk_pb(c: InputChunk) -> pb.InputChunk:
    return pb.InputChunk(
        context=context_pb(c.context), offset=c.offset, total_length=c.total_length, data=c.data
    )


def input_chunk(c: pb.InputChunk) -> InputChunk:
    """A chunk of a streamed vector, refused above :data:`MAX_CHUNK_BYTES` before its bytes
    are copied."""
    if len(c.data) > MAX_CHUNK_BYTES:
        raise RemoteProtocolError(f"a chunk of {len(c.data)} bytes exceeds {MAX_CHUNK_BYTES}")
    return InputChunk(call_context(c.context), int(c.offset), int(c.total_length), bytes(c.data))


def result_chunk_pb(c: ResultChunk) -> pb.ResultChunk:
    return pb.ResultChunk(offset=c.offset, total_length=c.total_length, data=c.data)


def result_chunk(c: pb.ResultChunk) -> ResultChunk:
    # the protobuf field is already an immutable bytes object: no copy is made here
    return ResultChunk(int(c.offset), int(c.total_length), c.data)
