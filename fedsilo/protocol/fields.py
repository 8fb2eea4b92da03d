"""Reading one section of a config document, collecting every problem with its key path.

Pure: the YAML is parsed by :mod:`fedsilo.config.load`; schemes read their own
``scheme:`` section with the same reader, so every problem in a file is reported
at once, each named by where it is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

from fedsilo.errors import ConfigError, FedsiloError

T = TypeVar("T")
MISSING: Any = object()
# a federation id or member name: lowercase DNS-label style, 1..63 characters
NAME_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,61}[a-z0-9])?$")


class Reader:
    """Collects problems while reading; returns placeholders so reading goes on."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def mapping(self, value: Any, path: str, allowed: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.problems.append(f"{path or '<top>'}: must be a mapping")
            return {}
        for key in value:
            if key not in allowed:
                where = f"{path}.{key}" if path else str(key)
                self.problems.append(
                    f"{where}: unknown key (allowed: {', '.join(sorted(allowed))})"
                )
        return value

    def get(
        self,
        m: dict[str, Any],
        key: str,
        path: str,
        convert: Callable[[Any], T],
        default: Any = MISSING,
    ) -> T | None:
        where = f"{path}.{key}" if path else key
        if key not in m or m[key] is None:
            if default is MISSING:
                self.problems.append(f"{where}: required")
                return None
            return default  # type: ignore[no-any-return]
        try:
            return convert(m[key])
        except (FedsiloError, TypeError, ValueError) as exc:
            self.problems.append(f"{where}: {exc}")
            return None


def text(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ConfigError("must be a non-empty string")
    return v


def name(v: Any) -> str:
    if not isinstance(v, str) or not NAME_PATTERN.match(v):
        raise ConfigError(
            f"name {v!r} must be 1-63 lowercase letters, digits, '.' or '-', "
            "starting and ending with a letter or digit"
        )
    return v


def integer(low: int, high: int) -> Callable[[Any], int]:
    def convert(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"must be an integer, got {v!r}")
        if not low <= v <= high:
            raise ConfigError(f"must be between {low} and {high}, got {v}")
        return v

    return convert


def number(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ConfigError(f"must be a finite number, got {v!r}")
    return float(v)


def positive_number(v: Any) -> float:
    value = number(v)
    if value <= 0:
        raise ConfigError(f"must be positive, got {v}")
    return value


def choice(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def convert(v: Any) -> str:
        if v not in choices:
            raise ConfigError(f"must be one of {', '.join(choices)}, got {v!r}")
        return str(v)

    return convert


def one_of(*choices: int) -> Callable[[Any], int]:
    def convert(v: Any) -> int:
        if v not in choices or isinstance(v, bool):
            raise ConfigError(f"must be one of {', '.join(map(str, choices))}, got {v!r}")
        return int(v)

    return convert
