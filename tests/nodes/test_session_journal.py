"""The aggregator's session journal keeps what a resumed session needs: its durable form,
every later event, and every download it served before it became durable."""

from __future__ import annotations

import json
from pathlib import Path

from fedsilo.runtime.journal import JournalEvent, SessionJournal


def test_the_downloads_served_before_the_session_became_durable_come_back_with_it(
    tmp_path: Path,
) -> None:
    journal = SessionJournal(tmp_path)
    served = {"contributions": b"\x01" * 40, "result": b"\x02" * 8}
    journal.begin(3, {"chain_head": "00"}, b"sum", served)
    journal.append(JournalEvent("close", stage="decrypt"))
    back = journal.load()
    assert back.downloads == served
    assert list(back.downloads) == list(served)  # in the order they were served
    assert (back.round, back.total, back.header) == (3, b"sum", {"chain_head": "00"})
    assert back.events == (JournalEvent("close", stage="decrypt"),)


def test_a_journal_written_before_downloads_were_journaled_loads_with_none(
    tmp_path: Path,
) -> None:
    journal = SessionJournal(tmp_path)
    journal.begin(1, {"chain_head": "00"}, b"sum")
    document = tmp_path / "journal" / "session.json"
    older = json.loads(document.read_text())
    del older["served"]
    document.write_text(json.dumps(older))
    assert journal.load().downloads == {}
