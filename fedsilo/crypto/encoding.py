"""One unambiguous encoding for everything that is signed, hashed, or used as
key-derivation info or AEAD associated data.

Bare concatenation is ambiguous (``"ab" + "c" == "a" + "bc"``), so every
field is written as a one-byte type tag, a big-endian 64-bit length and
the payload; sequences carry their element count and nest. The whole
encoding starts with a version marker so that a future format can never be
confused with this one. Known-answer vectors in ``tests/vectors/`` pin it.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

VERSION_MARKER = b"FSE1"

Field = bytes | str | int | Sequence["Field"]

_U64 = struct.Struct(">Q")


def _encode_field(field: Field, out: bytearray) -> None:
    if isinstance(field, bool):
        raise TypeError("booleans are not encodable: use 0 or 1 explicitly")
    if isinstance(field, bytes | bytearray | memoryview):
        data = bytes(field)
        out += b"B" + _U64.pack(len(data)) + data
    elif isinstance(field, str):
        data = field.encode("utf-8")
        out += b"S" + _U64.pack(len(data)) + data
    elif isinstance(field, int):
        data = field.to_bytes((field.bit_length() + 8) // 8, "big", signed=True)
        out += b"I" + _U64.pack(len(data)) + data
    elif isinstance(field, Sequence):
        out += b"L" + _U64.pack(len(field))
        for item in field:
            _encode_field(item, out)
    else:
        raise TypeError(f"cannot encode a {type(field).__name__}")


def encode(*fields: Field) -> bytes:
    """Encode ``fields`` injectively: distinct field lists give distinct bytes."""
    out = bytearray(VERSION_MARKER)
    for field in fields:
        _encode_field(field, out)
    return bytes(out)


def digest(*fields: Field) -> bytes:
    """SHA-256 of :func:`encode` of ``fields``."""
    return hashlib.sha256(encode(*fields)).digest()
