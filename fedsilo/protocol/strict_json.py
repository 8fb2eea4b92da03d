"""Strict reading of the versioned JSON records the protocol keeps (ledger, epoch resets).

A durable record that parses "mostly" is worse than one that does not parse:
it may silently drop what keeps a silo from revealing twice. So every reader
here refuses repeated keys, ``NaN`` and infinities, missing and unknown keys,
booleans posing as integers and hex that is not lowercase, each with a
one-line :class:`~fedsilo.errors.ConfigError` naming the key.
"""

from __future__ import annotations

import json
import re

from fedsilo.errors import ConfigError

_HEX = re.compile(r"(?:[0-9a-f]{2})*")


def load_object(text: str) -> dict[str, object]:
    """``text`` as one JSON object, refusing repeated keys and non-JSON constants."""
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"expected a JSON object, got {type(data).__name__}")
    return data


def require_version(data: dict[str, object], key: str, *accepted: str) -> str:
    """The version marker under ``key``, which must be one of ``accepted``."""
    version = data.get(key)
    if not isinstance(version, str) or version not in accepted:
        expected = " or ".join(repr(v) for v in accepted)
        raise ConfigError(f"{key} is {version!r}, expected {expected}")
    return version


def exact_keys(data: dict[str, object], expected: frozenset[str], where: str) -> None:
    """Refuse a missing or an unknown key in ``data``."""
    missing, unknown = sorted(expected - data.keys()), sorted(data.keys() - expected)
    if missing:
        raise ConfigError(f"{where}: missing {', '.join(missing)}")
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")


def hex_bytes(value: object, where: str) -> bytes:
    """Bytes written as lowercase hex."""
    if not isinstance(value, str) or _HEX.fullmatch(value) is None:
        raise ConfigError(f"{where}: expected lowercase hex bytes, got {type(value).__name__}")
    return bytes.fromhex(value)


def natural(value: object, where: str) -> int:
    """A non-negative integer (never a boolean or a float)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where}: expected a non-negative integer, got {value!r}")
    return value


def json_list(value: object, where: str, what: str) -> list[object]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list of {what}")
    return value


def json_object(value: object, where: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise ConfigError(f"key {key!r} appears twice")
        result[key] = value
    return result


def _no_constant(name: str) -> object:
    raise ConfigError(f"{name} is not a JSON value")
