"""The one reader of the typed audit events a node writes (one JSON object per line).

Lines that are not audit events (operational logs, a traceback a crashed process
left) are skipped; a line that claims to be an audit event but is malformed is an
error, not silence.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fedsilo.protocol.events import AuditEvent, event_of, is_audit_record


def _record(line: str | bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):  # not JSON, or nested past any event's depth
        return None
    return record if isinstance(record, dict) else None


def parse_events(lines: Iterable[str | bytes]) -> list[AuditEvent]:
    """The audit events among ``lines``, in order."""
    out = []
    for line in lines:
        record = _record(line)
        if record is not None and is_audit_record(record):
            out.append(event_of(record))
    return out


def read_events(path: Path) -> list[AuditEvent]:
    """Every audit event in the log file at ``path`` (none if it does not exist yet)."""
    if not path.exists():
        return []
    return parse_events(path.read_text(errors="replace").splitlines())


class EventTail:
    """The audit events appended to a log file since the last call (a growing file, read
    in whole lines: a line still being written waits for the next call)."""

    def __init__(self, path: Path) -> None:
        self.path, self._offset, self._partial = path, 0, b""

    def events(self) -> list[AuditEvent]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        return parse_events(lines)
