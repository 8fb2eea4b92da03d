"""Typed audit events: one writer, one reader, no secrets, no silent misreads."""

from __future__ import annotations

import dataclasses
import io
import json
import typing
from pathlib import Path

import pytest

from fedsilo.audit.events import EventTail, parse_events, read_events
from fedsilo.errors import RemoteProtocolError
from fedsilo.protocol.events import (
    EVENT_NAMES,
    AccuserOverruled,
    AggregateReleased,
    AuditEvent,
    DealerAccused,
    InputAccepted,
    RoundAborted,
    RoundCompleted,
    RoundFinalized,
    RoundOpened,
    SiloDropped,
    StageAnswered,
    event_of,
)
from fedsilo.runtime.events import EventLog

ONE_OF_EACH: list[AuditEvent] = [
    RoundOpened(1, "ab" * 16),
    StageAnswered(1, "s1", "advertise-keys"),
    InputAccepted(1, "s1", "sha256:" + "0" * 64),
    SiloDropped(1, "s3", "masked-input"),
    DealerAccused(1, "s2", ("s1", "s4")),
    AccuserOverruled(1, "s5"),
    AggregateReleased(1, "sha256:" + "1" * 64, ("s1", "s2", "s4"), ("s3",)),
    RoundCompleted(1, "2" * 64, ("s1", "s2", "s4")),
    RoundFinalized(1, "s1", "2" * 64),
    RoundAborted(2, "only 2 silos remain but the threshold is 3", ("s2", "s4")),
]


def written(events: list[AuditEvent]) -> list[str]:
    stream = io.StringIO()
    log = EventLog("aggregator", stream)
    for event in events:
        log.emit(event)
    return stream.getvalue().splitlines()


def test_every_event_kind_reads_back_as_the_event_written() -> None:
    assert {type(e) for e in ONE_OF_EACH} == set(EVENT_NAMES)
    assert parse_events(written(ONE_OF_EACH)) == ONE_OF_EACH


def test_operational_lines_and_non_json_lines_are_skipped() -> None:
    lines = ['{"event": "deadline", "stage": "unmasking"}', "Traceback (most recent", "[1, 2]"]
    assert parse_events([*lines, *written(ONE_OF_EACH[:1])]) == ONE_OF_EACH[:1]


def test_an_audit_event_missing_a_field_is_an_error_not_silence() -> None:
    with pytest.raises(RemoteProtocolError, match="without 'digest'"):
        event_of({"event": "input-accepted", "round": 1, "silo": "s1"})


def test_an_audit_event_with_a_mistyped_field_is_an_error() -> None:
    with pytest.raises(RemoteProtocolError, match="'round' is not a int"):
        event_of({"event": "round-opened", "round": True, "session": "x"})
    with pytest.raises(RemoteProtocolError, match="'contributors'"):
        event_of(
            {
                "event": "aggregate-released",
                "round": 1,
                "digest": "d",
                "contributors": [1],
                "dropped": [],
            }
        )


def test_audit_events_carry_only_numbers_names_and_digests() -> None:
    """No field can hold a vector, a key or a share: ints, strings, tuples of names."""
    for kind in EVENT_NAMES:
        for f in dataclasses.fields(kind):
            hint = typing.get_type_hints(kind)[f.name]
            assert hint in (int, str, tuple[str, ...]), (kind.__name__, f.name, hint)


def test_the_tail_returns_each_event_once_and_waits_for_a_whole_line(tmp_path: Path) -> None:
    path = tmp_path / "aggregator.log"
    tail = EventTail(path)
    assert tail.events() == []
    first, second = written(ONE_OF_EACH[:2])
    path.write_text(first + "\n" + second[:10])
    assert tail.events() == ONE_OF_EACH[:1]
    with path.open("a") as handle:
        handle.write(second[10:] + "\n")
    assert tail.events() == ONE_OF_EACH[1:2]
    assert tail.events() == []
    assert read_events(path) == ONE_OF_EACH[:2]


def test_each_line_names_its_node_and_time() -> None:
    record = json.loads(written(ONE_OF_EACH[:1])[0])
    assert record["node"] == "aggregator" and isinstance(record["ts"], float)
    assert record["event"] == "round-opened"


def test_a_line_whose_event_is_not_a_name_or_is_nested_too_deep_is_skipped() -> None:
    lines = ['{"event": []}', '{"event": {}}', "[" * 100_000 + "]" * 100_000]
    assert parse_events([*lines, *written(ONE_OF_EACH[:1])]) == ONE_OF_EACH[:1]
