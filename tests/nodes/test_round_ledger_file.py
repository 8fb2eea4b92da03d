"""The silo ledger file: atomic, fsynced, private, and refused when corrupt."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from pathlib import Path

import pytest

from fedsilo.errors import AlreadyRevealedError, ConfigError, DurabilityError
from fedsilo.protocol.ledger import LedgerRecord, RoundLedger, SessionRecord
from fedsilo.runtime.round_ledger import FileLedgerStore


def digest(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


GENESIS = digest("config digest")
A, B = digest("session A"), digest("session B")
VIEW, RESPONSE = digest("U3 = {1, 2, 3}"), b"b-shares of 1, 2, 3"
RECORD = LedgerRecord(
    final_round=0, head=GENESIS, seen=frozenset({A}), sessions=(SessionRecord(A),)
)
LATER = LedgerRecord(final_round=1, head=digest("H_1"), seen=frozenset({A}))


def store_in(tmp_path: Path) -> FileLedgerStore:
    return FileLedgerStore(tmp_path / "silo-ledger.json")


def test_a_missing_ledger_file_loads_as_nothing(tmp_path: Path) -> None:
    assert store_in(tmp_path).load() is None


def test_a_saved_record_loads_back(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    store.save(RECORD)
    assert FileLedgerStore(store.path).load() == RECORD


def test_a_save_replaces_the_whole_record(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    store.save(RECORD)
    store.save(LATER)
    assert store.load() == LATER


def test_the_ledger_file_is_private(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    store.save(RECORD)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_a_save_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    store.save(RECORD)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["silo-ledger.json"]


def fail_file_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", refuse)


def test_fsync_failing_raises_durability_error_and_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_in(tmp_path)
    store.save(RECORD)
    before = store.path.read_bytes()
    fail_file_fsync(monkeypatch)
    with pytest.raises(DurabilityError, match="nothing was sent") as error:
        store.save(LATER)
    assert str(store.path) in str(error.value)
    assert "\n" not in str(error.value)
    assert store.path.read_bytes() == before


def test_a_failed_save_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_in(tmp_path)
    store.save(RECORD)
    fail_file_fsync(monkeypatch)
    with pytest.raises(DurabilityError):
        store.save(LATER)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["silo-ledger.json"]


def test_a_failed_directory_fsync_raises_durability_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_in(tmp_path)
    real_fsync = os.fsync
    calls: list[int] = []

    def file_only(fd: int) -> None:
        calls.append(fd)
        if len(calls) > 1:
            raise OSError(5, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", file_only)
    with pytest.raises(DurabilityError):
        store.save(RECORD)
    assert len(calls) == 2


def test_a_missing_directory_raises_durability_error(tmp_path: Path) -> None:
    store = FileLedgerStore(tmp_path / "absent" / "silo-ledger.json")
    with pytest.raises(DurabilityError, match="could not make the silo ledger"):
        store.save(RECORD)


def test_a_corrupt_ledger_file_is_refused_with_one_line(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    store.path.write_text('{"version": "fedsilo/silo-ledger/v1", "final_ro')
    with pytest.raises(ConfigError) as error:
        store.load()
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"the silo ledger {store.path} is unreadable: not JSON")
    assert message.endswith("refusing to start (restore it, never delete it)")


def test_an_empty_ledger_file_is_refused(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    store.path.write_bytes(b"")
    with pytest.raises(ConfigError, match="never delete it"):
        store.load()


def test_a_ledger_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    store.path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(ConfigError, match="is unreadable"):
        store.load()


def test_an_unreadable_ledger_path_is_refused(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    store.path.mkdir()
    with pytest.raises(ConfigError, match="is unreadable"):
        store.load()


def test_leftover_temporary_files_are_ignored(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    store.save(RECORD)
    (tmp_path / ".silo-ledger.json.crashed.tmp").write_text('{"half": ')
    assert store.load() == RECORD


def test_a_restarted_silo_keeps_every_decision(tmp_path: Path) -> None:
    path = tmp_path / "silo-ledger.json"
    ledger = RoundLedger(FileLedgerStore(path), GENESIS)
    ledger.admit(1, A, GENESIS)
    ledger.record_view(A, VIEW)
    ledger.record_reveal(A, RESPONSE)
    restarted = RoundLedger(FileLedgerStore(path), GENESIS)
    assert restarted.record == ledger.record
    assert restarted.admit(1, A, GENESIS).response == RESPONSE
    with pytest.raises(AlreadyRevealedError):
        restarted.admit(1, B, GENESIS)


def test_a_failed_save_leaves_the_round_ledger_and_the_file_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_in(tmp_path)
    ledger = RoundLedger(store, GENESIS)
    ledger.admit(1, A, GENESIS)
    ledger.record_view(A, VIEW)
    before = ledger.record
    fail_file_fsync(monkeypatch)
    with pytest.raises(DurabilityError):
        ledger.record_reveal(A, RESPONSE)
    assert ledger.record == before
    assert store.load() == before
    assert ledger.revealed(A) is None


def test_concurrent_saves_leave_one_whole_record(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    records = [
        LedgerRecord(final_round=n, head=digest(f"H_{n}"), seen=frozenset({A})) for n in range(16)
    ]
    threads = [threading.Thread(target=store.save, args=(record,)) for record in records]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.load() in records
    assert sorted(p.name for p in tmp_path.iterdir()) == ["silo-ledger.json"]
