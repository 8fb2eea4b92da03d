"""RFC 8785 JSON Canonicalization Scheme (JCS) for the values a config holds.

Objects: members sorted by the UTF-16 code units of their names. Strings:
only ``"``, ``\\`` and control characters escaped (short forms where JSON
has them). Numbers: the ECMAScript ``Number.prototype.toString`` form of
the IEEE-754 double; integers beyond 2^53 are refused (I-JSON), as are NaN
and infinities. No whitespace.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from fedsilo.errors import ConfigError

_MAX_SAFE_INTEGER = 2**53 - 1
_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def _string(value: str) -> str:
    out = ['"']
    for ch in value:
        if ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _number(value: float) -> str:
    if not math.isfinite(value):
        raise ConfigError("NaN and infinities have no canonical JSON form")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # repr gives the shortest digits that round-trip, as ECMAScript requires
    _, digit_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    k, n = len(digits), int(exponent) + len(digits)
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        body = f"{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
    return sign + body


def canonical_json(value: Any) -> str:
    """The JCS serialization of ``value`` (dicts, lists, str, int, float, bool, None)."""
    literals = {None: "null", True: "true", False: "false"}
    if value is None or isinstance(value, bool):
        return literals[value]
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            raise ConfigError(f"integer {value} is too large for canonical JSON (max 2^53 - 1)")
        return str(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(canonical_json(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: kv[0].encode("utf-16-be"))
        return "{" + ",".join(f"{_string(k)}:{canonical_json(v)}" for k, v in items) + "}"
    raise ConfigError(f"{type(value).__name__} has no canonical JSON form")
