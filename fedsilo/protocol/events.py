"""Typed audit events: what happened in a round, as the aggregator records it.

Every scheme produces the same events; the runtime writes them through one
writer (:meth:`fedsilo.runtime.events.EventLog.emit`) and everything that
follows a federation (the demo's progress display, the tests, later the
transcript) reads them through one reader (:mod:`fedsilo.audit.events`),
never by matching text in log lines. An event names silos by their roster
names; it never carries a key, a share or a vector, only digests.

Each event has a stable wire name (``EVENT_NAMES``) and a flat JSON record:
``{"event": <name>, <field>: <value>, ...}`` with tuples as lists.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fedsilo.errors import RemoteProtocolError


@dataclass(frozen=True)
class RoundOpened:
    """A session of ``round`` was announced (a round may run several sessions)."""

    round: int
    session: str  # the session id's first 16 bytes, hex


@dataclass(frozen=True)
class InputAccepted:
    """The aggregator accepted ``silo``'s protected input, committed to by ``digest``
    (the digest the silo signed over its own input)."""

    round: int
    silo: str
    digest: str


@dataclass(frozen=True)
class StageAnswered:
    """The aggregator accepted ``silo``'s message (or whole stream) for ``stage``."""

    round: int
    silo: str
    stage: str


@dataclass(frozen=True)
class SiloDropped:
    """``silo`` did not answer ``stage`` before its deadline and is left out."""

    round: int
    silo: str
    stage: str


@dataclass(frozen=True)
class AggregateReleased:
    """The aggregate of ``round`` was released: its digest and who contributed to it."""

    round: int
    digest: str
    contributors: tuple[str, ...]
    dropped: tuple[str, ...]


@dataclass(frozen=True)
class RoundCompleted:
    """The aggregator derived the next model from the released aggregate of ``round``,
    stored it with the round's record, and holds at least a quorum of acks of ``head``."""

    round: int
    head: str
    acked_by: tuple[str, ...]


@dataclass(frozen=True)
class RoundFinalized:
    """A silo verified the release of ``round``, derived the next model itself and made
    ``head`` its chain head (written by the silo)."""

    round: int
    silo: str
    head: str


@dataclass(frozen=True)
class DealerAccused:
    """Silos ``by`` accused dealer ``silo`` in a signed share check: ``silo`` is left out
    of the masking set of ``round``'s session."""

    round: int
    silo: str
    by: tuple[str, ...]


@dataclass(frozen=True)
class AccuserOverruled:
    """``silo`` accused so many dealers that too few would remain: it is left out."""

    round: int
    silo: str


@dataclass(frozen=True)
class RoundAborted:
    """The session ended without a release, for ``reason``; ``missing`` did not answer."""

    round: int
    reason: str
    missing: tuple[str, ...]


AuditEvent = (
    RoundOpened
    | StageAnswered
    | InputAccepted
    | SiloDropped
    | DealerAccused
    | AccuserOverruled
    | AggregateReleased
    | RoundCompleted
    | RoundFinalized
    | RoundAborted
)

EVENT_NAMES: Mapping[type[Any], str] = {
    RoundOpened: "round-opened",
    StageAnswered: "stage-answered",
    InputAccepted: "input-accepted",
    SiloDropped: "silo-dropped",
    DealerAccused: "dealer-accused",
    AccuserOverruled: "accuser-overruled",
    AggregateReleased: "aggregate-released",
    RoundCompleted: "round-completed",
    RoundFinalized: "round-final",
    RoundAborted: "round-aborted",
}
_BY_NAME = {name: kind for kind, name in EVENT_NAMES.items()}


def event_name(event: AuditEvent) -> str:
    return EVENT_NAMES[type(event)]


def record_of(event: AuditEvent) -> dict[str, Any]:
    """The event's fields as JSON values (tuples as lists), without its name."""
    return {
        f.name: list(v) if isinstance(v := getattr(event, f.name), tuple) else v
        for f in dataclasses.fields(event)
    }


def is_audit_record(record: Mapping[str, Any]) -> bool:
    name = record.get("event")
    return isinstance(name, str) and name in _BY_NAME


def event_of(record: Mapping[str, Any]) -> AuditEvent:
    """The typed event of one record (extra keys, such as a timestamp, are ignored);
    :class:`RemoteProtocolError` if it is no audit event or a field is missing or mistyped."""
    name = record.get("event")
    kind = _BY_NAME.get(name) if isinstance(name, str) else None
    if kind is None:
        raise RemoteProtocolError(f"not an audit event: {record.get('event')!r}")
    values = {}
    for f in dataclasses.fields(kind):
        if f.name not in record:
            raise RemoteProtocolError(f"a {EVENT_NAMES[kind]} event without {f.name!r}")
        expected = f.type if isinstance(f.type, str) else f.type.__name__
        value = _typed(record[f.name], expected)
        if value is None:
            raise RemoteProtocolError(
                f"a {EVENT_NAMES[kind]} event whose {f.name!r} is not a {expected}: "
                f"{record[f.name]!r}"
            )
        values[f.name] = value
    event: AuditEvent = kind(**values)
    return event


def _typed(value: object, expected: str) -> object | None:
    """``value`` as the field type named ``expected`` (``int``, ``str`` or a tuple of
    strings), or None if it is not one."""
    if expected.startswith("tuple"):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return tuple(value) if ok and isinstance(value, list) else None
    if expected == "int":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    return value if expected == "str" and isinstance(value, str) else None
