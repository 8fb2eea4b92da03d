"""Structured logs: one JSON line per event. Never secrets, never vectors."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import TextIO

from fedsilo.protocol.events import AuditEvent, event_name, record_of


class EventLog:
    """Writes ``{"ts": ..., "node": ..., "event": ..., ...}`` lines."""

    def __init__(self, node: str, stream: TextIO | None = None) -> None:
        self._node, self._stream = node, stream or sys.stderr
        self._lock = threading.Lock()

    def __call__(self, event: str, **fields: object) -> None:
        line = json.dumps(
            {"ts": round(time.time(), 3), "node": self._node, "event": event, **fields}
        )
        with self._lock:
            print(line, file=self._stream, flush=True)

    def emit(self, event: AuditEvent) -> None:
        """Write one typed audit event (read back by :mod:`fedsilo.audit.events`)."""
        self(event_name(event), **record_of(event))
