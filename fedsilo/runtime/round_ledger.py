"""The silo ledger on disk: one JSON file, replaced atomically and fsynced before anything leaves.

:class:`FileLedgerStore` is the durable :class:`~fedsilo.protocol.ledger.LedgerStore`
behind :class:`~fedsilo.protocol.ledger.RoundLedger`. A save writes the whole
record to a private (0600) temporary file in the same directory, flushes and
fsyncs it, renames it over the ledger and fsyncs the directory, so a crash at
any point leaves either the old record or the new one, never half of either.
Only when all of that succeeded does ``save`` return; any failure raises
:class:`~fedsilo.errors.DurabilityError` and the caller sends nothing.

A ledger file that exists but cannot be read or parsed stops the silo: the
file is the only thing that keeps it from unmasking twice, so it must be
restored, never deleted. Temporary files a crash left behind are never read.
"""

from __future__ import annotations

import threading
from pathlib import Path

from fedsilo.errors import ConfigError, DurabilityError
from fedsilo.protocol.ledger import LedgerRecord
from fedsilo.runtime.durable import replace_durably


class FileLedgerStore:
    """A :class:`~fedsilo.protocol.ledger.LedgerStore` over one JSON file (thread-safe)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self._path

    def load(self) -> LedgerRecord | None:
        """The saved record, None if the file does not exist; refuses a corrupt file."""
        with self._lock:
            try:
                text = self._path.read_text(encoding="utf-8")
            except FileNotFoundError:
                return None
            except (OSError, UnicodeDecodeError) as exc:
                raise self._unreadable(str(exc)) from exc
            try:
                return LedgerRecord.from_json(text)
            except ConfigError as exc:
                raise self._unreadable(str(exc)) from exc

    def save(self, record: LedgerRecord) -> None:
        """Durably replace the file with ``record``, or raise DurabilityError."""
        text = record.to_json() + "\n"
        with self._lock:
            try:
                replace_durably(self._path, text.encode("utf-8"))
            except OSError as exc:
                raise DurabilityError(
                    f"could not make the silo ledger {self._path} durable ({exc}); nothing was sent"
                ) from exc

    def _unreadable(self, reason: str) -> ConfigError:
        return ConfigError(
            f"the silo ledger {self._path} is unreadable: {reason}; "
            "refusing to start (restore it, never delete it)"
        )
