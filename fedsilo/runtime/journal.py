"""The aggregator's journal of a session that reached unmasking: finished, never re-run.

Once the aggregator sends the consistency signatures, any silo may reveal its
unmasking shares, and the round must then be finished by *this* session:
re-running it would let the aggregator subtract two sums. So, before the
signature bundle is published, the session is written to
``STATE_DIR/journal/``:

* ``session.json``: the round, the signed announcement, the sans-I/O core as
  it enters unmasking (:meth:`MaskingAggregator.unmasking_snapshot`), every
  signed message published so far and every silo message accepted so far;
* ``sum.bin``: the non-wrapped sum ``Y`` of the survivors' masked inputs (the
  scheme's ``Persist.data``);
* ``download-K.bin``: each download the session served before it became durable (a
  scheme may serve one before it reveals, as threshold Paillier serves the signed
  contributions every silo checks), named in order in ``session.json``: the resumed
  session serves them again, since it never re-runs the outputs that served them;
* ``events.log``: one JSON line per later event, each fsynced *before* the
  silo's call is acknowledged: an accepted unmasking response or ack (its
  exact protobuf bytes), a refused one that excluded its sender or ended the
  session (a false share, say), or a stage closed at its deadline.

After a crash the node rebuilds the same session from these files and
replays the events through the same core, so it reaches the same state and
publishes byte-identical messages (signatures are deterministic). A torn last
line (a crash mid-append, never acknowledged) is ignored. The journal is
removed once the round's results are saved.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fedsilo.errors import ConfigError, DurabilityError
from fedsilo.runtime.durable import fsync_directory
from fedsilo.runtime.state import write_atomically


@dataclass(frozen=True)
class JournalEvent:
    """A silo message accepted (``body``, the SiloMessage bytes) or a stage closed."""

    kind: str  # "submit", "refused" (it excluded its sender or ended the session) or "close"
    body: bytes = b""
    stage: str = ""


@dataclass(frozen=True)
class JournaledSession:
    """What a restarted aggregator resumes from."""

    round: int
    header: dict[str, Any]
    total: bytes
    events: tuple[JournalEvent, ...]
    downloads: dict[str, bytes] = field(default_factory=dict)  # served before it was durable


class SessionJournal:
    """The journal directory of the aggregator's one open session."""

    def __init__(self, state_dir: Path) -> None:
        self._dir = state_dir / "journal"

    @property
    def exists(self) -> bool:
        return (self._dir / "session.json").is_file()

    def begin(
        self,
        round_number: int,
        header: dict[str, Any],
        total: bytes,
        downloads: Mapping[str, bytes] | None = None,
    ) -> None:
        """Make the session durable as it enters unmasking (before anything is revealed),
        with what it has served so far (``downloads``)."""
        served = dict(downloads or {})
        try:
            if self._dir.exists():
                shutil.rmtree(self._dir)
            self._dir.mkdir(parents=True)
            write_atomically(self._dir / "sum.bin", total)
            for k, data in enumerate(served.values()):
                write_atomically(self._dir / f"download-{k}.bin", data)
            (self._dir / "events.log").touch()
            document = {
                "version": "fedsilo/journal/v1",
                "round": round_number,
                **header,
                "served": list(served),
            }
            write_atomically(self._dir / "session.json", json.dumps(document).encode())
            fsync_directory(self._dir)
        except OSError as exc:
            raise DurabilityError(
                f"could not journal the session in {self._dir} ({exc}); nothing was revealed"
            ) from exc

    def append(self, event: JournalEvent) -> None:
        """Append one event, durable before the caller acknowledges anything."""
        line = json.dumps({"kind": event.kind, "body": event.body.hex(), "stage": event.stage})
        try:
            with open(self._dir / "events.log", "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise DurabilityError(f"could not journal to {self._dir} ({exc})") from exc

    def load(self) -> JournaledSession:
        """The journaled session; refuses a damaged journal with one line."""
        try:
            header = json.loads((self._dir / "session.json").read_text())
            if header.pop("version") != "fedsilo/journal/v1":
                raise ValueError("unknown journal version")
            round_number = int(header.pop("round"))
            # a journal written before downloads were journaled names none
            names = [str(name) for name in header.pop("served", [])]
            downloads = {
                name: (self._dir / f"download-{k}.bin").read_bytes() for k, name in enumerate(names)
            }
            total = (self._dir / "sum.bin").read_bytes()
            lines = (self._dir / "events.log").read_text().splitlines()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"the session journal in {self._dir} is unreadable ({exc}); restore the state "
                "directory from a backup, never delete the journal of a revealed session"
            ) from exc
        return JournaledSession(round_number, header, total, tuple(_events(lines)), downloads)

    def clear(self) -> None:
        """The round is saved: the journal is no longer needed."""
        if self._dir.exists():
            shutil.rmtree(self._dir)
            fsync_directory(self._dir.parent)


def _events(lines: list[str]) -> list[JournalEvent]:
    events = []
    for number, line in enumerate(lines, 1):
        try:
            item = json.loads(line)
            events.append(JournalEvent(item["kind"], bytes.fromhex(item["body"]), item["stage"]))
        except (ValueError, KeyError, TypeError) as exc:
            if number == len(lines):
                break  # torn by a crash mid-append: never acknowledged
            raise ConfigError(f"the session journal is damaged at event {number}") from exc
    return events
