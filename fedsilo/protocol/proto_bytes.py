"""Protobuf bytes from a peer, parsed without trusting them."""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.message import DecodeError
from google.protobuf.message import Message as ProtoMessage

from fedsilo.errors import RemoteProtocolError

P = TypeVar("P", bound=ProtoMessage)


def parse_message(message_type: type[P], body: bytes, what: str | None = None) -> P:
    """``body`` parsed as ``message_type``; malformed bytes are a
    :class:`~fedsilo.errors.RemoteProtocolError` naming ``what`` (default: the type)."""
    message = message_type()
    try:
        message.ParseFromString(body)
    except DecodeError as exc:
        raise RemoteProtocolError(f"a malformed {what or message_type.__name__} message") from exc
    return message
