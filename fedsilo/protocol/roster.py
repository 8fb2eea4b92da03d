"""The pinned roster: which silos exist, their indices and identity keys."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fedsilo.crypto.signatures import VerifyingKey
from fedsilo.errors import ConfigError, RosterError


@dataclass(frozen=True)
class SiloEntry:
    """One roster member: its index (1..n), its name and its identity key."""

    index: int
    name: str
    verifying_key: VerifyingKey


@dataclass(frozen=True)
class Roster:
    """The silos of a federation, indexed 1..n in roster order."""

    silos: tuple[SiloEntry, ...]

    def __post_init__(self) -> None:
        if [s.index for s in self.silos] != list(range(1, len(self.silos) + 1)):
            raise ConfigError("roster indices must be 1..n in order")
        if len({s.name for s in self.silos}) != len(self.silos):
            raise ConfigError("roster names must be unique")

    @property
    def size(self) -> int:
        return len(self.silos)

    @property
    def indices(self) -> frozenset[int]:
        return frozenset(range(1, len(self.silos) + 1))

    def entry(self, index: int) -> SiloEntry:
        """The entry of ``index``; an unknown index is a :class:`RosterError`."""
        if not isinstance(index, int) or not 1 <= index <= len(self.silos):
            raise RosterError(f"silo id {index!r} is not on the roster")
        return self.silos[index - 1]

    def name(self, index: int) -> str:
        return self.entry(index).name

    def names(self, indices: Iterable[int]) -> tuple[str, ...]:
        return tuple(self.name(i) for i in sorted(indices))

    def check_ids(self, ids: Iterable[int], what: str) -> tuple[int, ...]:
        """Refuse unknown or duplicate ids in a list the aggregator sent."""
        ids = tuple(ids)
        for i in ids:
            self.entry(i)
        if len(set(ids)) != len(ids):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            raise RosterError(f"{what} lists silo(s) {dupes} more than once")
        return ids
