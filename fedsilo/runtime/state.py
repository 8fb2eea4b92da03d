"""The aggregator's state directory: completed rounds, the global model, resumable.

Layout:

* ``model.safetensors``: the latest global model (state-dict names, so it
  loads into the task's model);
* ``rounds/model-NNNNNN.safetensors``: the global model after each round, and
  ``rounds/optimizer-NNNNNN.safetensors`` when the server optimizer keeps
  state (what a restart resumes from);
* ``rounds/round-NNNNNN.json``: how each round ended (survivors, dropped
  silos, summed weight, federated evaluation, digests);
* ``rounds/aggregate-NNNNNN.bin``: the released integer sum, raw little-endian.

Every file is written to a temporary name, fsynced and renamed, so a crash
leaves the previous round intact; an interrupted round is re-run as a new
session on restart. Nothing is ever unpickled: models are safetensors.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from fedsilo.training.checkpoint import load_arrays, load_checkpoint

if TYPE_CHECKING:
    import torch

MODEL_FILE = "model.safetensors"


def write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


@dataclass
class AggregatorState:
    directory: Path

    def __post_init__(self) -> None:
        (self.directory / "rounds").mkdir(parents=True, exist_ok=True)

    def completed_rounds(self) -> list[int]:
        return sorted(
            int(p.stem.split("-")[1]) for p in (self.directory / "rounds").glob("round-*.json")
        )

    def record(self, round_number: int) -> dict[str, Any]:
        path = self.directory / "rounds" / f"round-{round_number:06d}.json"
        loaded: dict[str, Any] = json.loads(path.read_text())
        return loaded

    def model(self, round_number: int) -> dict[str, torch.Tensor]:
        """The global model after ``round_number`` (refused unless valid safetensors)."""
        return load_checkpoint(self.directory / "rounds" / f"model-{round_number:06d}.safetensors")

    def optimizer_state(self, round_number: int) -> dict[str, npt.NDArray[np.float32]]:
        path = self.directory / "rounds" / f"optimizer-{round_number:06d}.safetensors"
        return load_arrays(path) if path.exists() else {}

    def save_round(
        self,
        round_number: int,
        record: dict[str, object],
        aggregate: bytes,
        model: bytes,
        optimizer: bytes | None,
    ) -> None:
        """Persist a completed round; the JSON record, written last, marks it complete."""
        rounds = self.directory / "rounds"
        write_atomically(rounds / f"aggregate-{round_number:06d}.bin", aggregate)
        write_atomically(rounds / f"model-{round_number:06d}.safetensors", model)
        if optimizer is not None:
            write_atomically(rounds / f"optimizer-{round_number:06d}.safetensors", optimizer)
        write_atomically(self.directory / MODEL_FILE, model)
        write_atomically(
            rounds / f"round-{round_number:06d}.json", json.dumps(record, indent=2).encode()
        )
