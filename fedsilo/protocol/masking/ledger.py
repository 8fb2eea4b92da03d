"""What a silo must remember across sessions: one survivor set and one unmasking
per (round, global-model hash).

If a silo signed two different survivor sets, or unmasked twice, for the same
round and model, the aggregator could run the round once with a victim and
once without it and subtract the two sums. The silo session consults the
ledger and records its decision *before* it returns the message that acts
on it; a durable ledger (``fedsilo.runtime``) must persist that record
before returning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SignedView:
    """The survivor lists a silo signed for one (round, model hash)."""

    survivors: tuple[int, ...]
    dropped: tuple[int, ...]


class UnmaskLedger(Protocol):
    """Storage of a silo's per-(round, model hash) commitments."""

    def signed_view(self, round_number: int, model_hash: bytes) -> SignedView | None:
        """The view signed for this round and model, if any."""
        ...

    def record_signed_view(self, round_number: int, model_hash: bytes, view: SignedView) -> None:
        """Durably record the signed view before the signature is sent."""
        ...

    def has_unmasked(self, round_number: int, model_hash: bytes) -> bool:
        """Whether unmasking shares were already released for this round and model."""
        ...

    def record_unmasked(self, round_number: int, model_hash: bytes) -> None:
        """Durably record the release before the shares are sent."""
        ...


class InMemoryUnmaskLedger:
    """A ledger that lives as long as the process (tests, simulation)."""

    def __init__(self) -> None:
        self._views: dict[tuple[int, bytes], SignedView] = {}
        self._unmasked: set[tuple[int, bytes]] = set()

    def signed_view(self, round_number: int, model_hash: bytes) -> SignedView | None:
        return self._views.get((round_number, model_hash))

    def record_signed_view(self, round_number: int, model_hash: bytes, view: SignedView) -> None:
        self._views[(round_number, model_hash)] = view

    def has_unmasked(self, round_number: int, model_hash: bytes) -> bool:
        return (round_number, model_hash) in self._unmasked

    def record_unmasked(self, round_number: int, model_hash: bytes) -> None:
        self._unmasked.add((round_number, model_hash))
