"""The aggregator's state directory: completed rounds, the global model, resumable.

Layout: ``model.f32`` (the current global model, raw little-endian float32),
``rounds/round-NNNNNN.json`` (how each round ended) and
``rounds/aggregate-NNNNNN.bin`` (the released integer sum, raw little-endian).
Every file is written to a temporary name, fsynced and renamed, so a crash
leaves the previous round intact; an interrupted round is re-run as a new
session on restart.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from fedsilo.errors import ConfigError


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

    def model(self, expected_length: int) -> npt.NDArray[np.float32] | None:
        path = self.directory / "model.f32"
        if not path.exists():
            return None
        model = np.frombuffer(path.read_bytes(), dtype="<f4").astype(np.float32)
        if len(model) != expected_length:
            raise ConfigError(
                f"{path} holds {len(model)} parameters, the task has {expected_length}"
            )
        return model

    def save_round(
        self,
        round_number: int,
        record: dict[str, object],
        aggregate: bytes,
        model: npt.NDArray[np.float32],
    ) -> None:
        rounds = self.directory / "rounds"
        write_atomically(rounds / f"aggregate-{round_number:06d}.bin", aggregate)
        write_atomically(self.directory / "model.f32", model.astype("<f4").tobytes())
        write_atomically(
            rounds / f"round-{round_number:06d}.json", json.dumps(record, indent=2).encode()
        )
