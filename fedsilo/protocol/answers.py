"""What an aggregator session took from each silo, for the whole session (every scheme).

A silo retries a call whose reply it lost, so the same message can arrive twice, even
after the stage it answered has closed: that is one answer, taken once. A *different*
message of the same kind from the same silo in the same session is equivocation (it
would let a silo show the aggregator two inputs, or the aggregator claim it saw either),
and is refused whatever the stage. Keyed by the message's kind and sender, both of which
every scheme's silo messages carry; the session's own checks decide what is accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fedsilo.errors import EquivocationError


class AnswerBook:
    """The first accepted message of each (kind, sender) of one session."""

    def __init__(self, name: Callable[[int], str]) -> None:
        self._name = name
        self._taken: dict[tuple[type, int], Any] = {}

    def is_resend(self, message: Any) -> bool:
        """True for an identical copy of an accepted message, False for a new one;
        raises :class:`EquivocationError` for a different one of the same kind."""
        previous = self._taken.get((type(message), message.sender))
        if previous is None:
            return False
        if previous == message:
            return True
        raise EquivocationError(
            f"{self._name(message.sender)} sent a different {type(message).__name__} "
            "in the same session"
        )

    def take(self, message: Any) -> None:
        """Record ``message`` once the session has accepted it."""
        self._taken.setdefault((type(message), message.sender), message)
