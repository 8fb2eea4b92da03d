"""Checkpoints are safetensors (or weights-only torch files); a pickle is never run."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from fedsilo.errors import CheckpointError
from fedsilo.runtime.state import AggregatorState
from fedsilo.training.checkpoint import checkpoint_bytes, load_checkpoint


class RunsCode:
    """Unpickling this object runs a command: what a hostile 'checkpoint' would carry."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


def hostile_pickle(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps({"0.weight": RunsCode(marker)}))
    return path


def test_a_safetensors_checkpoint_round_trips_with_its_names(tmp_path: Path) -> None:
    state = {"layer.weight": torch.arange(6.0).reshape(2, 3), "layer.bias": torch.ones(2)}
    path = tmp_path / "model.safetensors"
    path.write_bytes(checkpoint_bytes(state, {"round": "3"}))
    loaded = load_checkpoint(path)
    assert set(loaded) == set(state)
    assert all(torch.equal(loaded[k], state[k]) for k in state)


def test_a_pickle_where_a_safetensors_checkpoint_is_expected_is_refused_unrun(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "pwned"
    path = hostile_pickle(tmp_path / "model.safetensors", marker)
    with pytest.raises(CheckpointError, match="not a valid safetensors checkpoint"):
        load_checkpoint(path)
    assert not marker.exists()


def test_a_pickle_in_a_torch_checkpoint_is_refused_by_weights_only_loading(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "pwned"
    path = hostile_pickle(tmp_path / "model.pt", marker)
    with pytest.raises(CheckpointError, match="weights-only"):
        load_checkpoint(path)
    assert not marker.exists()


def test_a_weights_only_torch_checkpoint_loads(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(3)}, path)
    assert torch.equal(load_checkpoint(path)["w"], torch.ones(3))


def test_the_aggregator_refuses_to_resume_from_a_pickled_round_model(tmp_path: Path) -> None:
    state = AggregatorState(tmp_path)
    marker = tmp_path / "pwned"
    hostile_pickle(tmp_path / "rounds" / "model-000001.safetensors", marker)
    with pytest.raises(CheckpointError):
        state.model(1)
    assert not marker.exists()
