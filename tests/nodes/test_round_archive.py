"""The aggregator's archive of final rounds: what it serves to silos that missed one."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedsilo.errors import CheckpointError
from fedsilo.runtime.state import AggregatorState


def test_a_final_round_serves_each_download_of_its_session_by_name(tmp_path: Path) -> None:
    state = AggregatorState(tmp_path)
    state.save_evidence(3, b"evidence", {"result": b"Y", "inputs": b"y1y2"})
    assert state.evidence(3) == b"evidence"
    assert state.download(3, "result") == b"Y"
    assert state.download(3, "inputs") == b"y1y2"
    assert state.download(3, "shares") is None
    assert state.download(2, "result") is None


def test_the_released_sum_keeps_the_file_name_it_had_before_downloads_were_named(
    tmp_path: Path,
) -> None:
    state = AggregatorState(tmp_path)
    state.save_evidence(1, b"evidence", {"result": b"Y"})
    assert (tmp_path / "rounds" / "sum-000001.bin").read_bytes() == b"Y"


@pytest.mark.parametrize("name", ["../round", "Result", "model", "evidence", "a_b", ""])
def test_a_download_name_that_is_not_a_plain_word_or_names_an_archive_file_is_refused(
    tmp_path: Path, name: str
) -> None:
    state = AggregatorState(tmp_path)
    with pytest.raises(CheckpointError, match="download name"):
        state.save_evidence(1, b"evidence", {name: b"x"})
    with pytest.raises(CheckpointError, match="download name"):
        state.download(1, name)
    assert not list((tmp_path / "rounds").iterdir())
