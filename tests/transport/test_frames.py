"""The transport's calls survive their protobuf frames unchanged, and a frame that cannot
be what it claims is refused."""

from __future__ import annotations

import pytest

from fedsilo.errors import RemoteProtocolError
from fedsilo.transport import frames
from fedsilo.transport.calls import (
    CallContext,
    InputChunk,
    JoinReply,
    JoinRequest,
    ResultChunk,
    StageMessage,
)
from fedsilo.transport.proto import fedsilo_pb2 as pb

CONTEXT = CallContext("fed", b"\x01" * 32, b"\x02" * 16, 7, "advertise", 3, b"\x03" * 32)


def test_a_stage_message_survives_its_frame() -> None:
    message = StageMessage(CONTEXT, b"body")
    assert frames.stage_message(frames.stage_message_pb(message)) == message


def test_a_journalled_stage_message_reads_back_as_written() -> None:
    message = StageMessage(CONTEXT, b"\x00" * 5)
    data = frames.stage_message_bytes(message)
    assert frames.stage_message_of(data) == message
    assert frames.stage_message_bytes(frames.stage_message_of(data)) == data


def test_a_stage_message_that_names_no_stage_is_refused() -> None:
    frame = pb.SiloMessage(context=frames.context_pb(CONTEXT), body=b"x")
    frame.context.stage = ""
    with pytest.raises(RemoteProtocolError, match="names no stage"):
        frames.stage_message(frame)


def test_join_calls_survive_their_frames() -> None:
    request = JoinRequest("fed", b"\x04" * 32, "silo-a")
    reply = JoinReply(b"agg", (b"one", b"two"), b"layout", 5, ("reset",))
    assert frames.join_request(frames.join_request_pb(request)) == request
    assert frames.join_reply(frames.join_reply_pb(reply)) == reply


def test_vector_chunks_survive_their_frames() -> None:
    chunk = InputChunk(CONTEXT, 64, 128, b"\x05" * 64)
    result = ResultChunk(0, 10, b"\x06" * 10)
    assert frames.input_chunk(frames.input_chunk_pb(chunk)) == chunk
    assert frames.result_chunk(frames.result_chunk_pb(result)) == result


def test_an_input_chunk_above_the_chunk_limit_is_refused() -> None:
    frame = frames.input_chunk_pb(
        InputChunk(CONTEXT, 0, frames.MAX_CHUNK_BYTES + 1, b"\x00" * (frames.MAX_CHUNK_BYTES + 1))
    )
    with pytest.raises(RemoteProtocolError, match="exceeds"):
        frames.input_chunk(frame)
