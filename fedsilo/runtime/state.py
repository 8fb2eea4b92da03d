"""The aggregator's state directory: completed rounds, the global model, resumable.

Layout:

* ``model.safetensors``: the latest global model (state-dict names, so it
  loads into the task's model);
* ``rounds/model-NNNNNN.safetensors``: the global model after each round, and
  ``rounds/optimizer-NNNNNN.safetensors``: the server optimizer's exact float64
  state (what a restart resumes from, and what ``H_r`` covers);
* ``rounds/round-NNNNNN.json``: how each round ended (survivors, dropped
  silos, summed weight, federated evaluation, digests, the chain head ``H_r``
  and who acknowledged it);
* ``rounds/aggregate-NNNNNN.bin``: the released integer sum, raw little-endian;
* ``rounds/evidence-NNNNNN.pb``: the round's silo-signed evidence, and
  ``rounds/<download>-NNNNNN.bin`` for each download the session served (its
  scheme's ``downloads``; for masking ``sum-`` for the non-wrapped sum ``Y``
  under the name ``result``, and with full release verification ``inputs-``,
  every survivor's masked vector): served to silos that missed the round so
  they can verify it and catch up.

Every file is written to a temporary name, fsynced and renamed, so a crash
leaves the previous round intact; an interrupted round is re-run as a new
session on restart. Nothing is ever unpickled: models are safetensors.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from fedsilo.errors import CheckpointError
from fedsilo.protocol.outputs import RESULT_DOWNLOAD
from fedsilo.training.checkpoint import load_checkpoint
from fedsilo.training.global_state import load_optimizer_state
from fedsilo.training.server_optimizers import OptimizerState

if TYPE_CHECKING:
    import torch

MODEL_FILE = "model.safetensors"


def write_atomically(path: Path, data: bytes | bytearray) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class RoundArchive(Protocol):
    """What the aggregator serves of its final rounds."""

    def final_round(self) -> int: ...

    def evidence(self, round_number: int) -> bytes | None: ...

    def download(self, round_number: int, name: str) -> bytes | None: ...


def _download_file(name: str, round_number: int) -> str:
    """The archive file of a session's download ``name`` (the released sum keeps the file
    name it had before downloads were named by their scheme)."""
    if not name.replace("-", "").isalpha() or not name.islower():
        raise CheckpointError(f"a download name must be lowercase letters and dashes: {name!r}")
    stem = "sum" if name == RESULT_DOWNLOAD else name
    if stem in ("round", "model", "optimizer", "aggregate", "evidence"):
        raise CheckpointError(f"the download name {name!r} is an archive file of its own")
    return f"{stem}-{round_number:06d}.bin"


@dataclass
class AggregatorState:
    directory: Path

    def __post_init__(self) -> None:
        (self.directory / "rounds").mkdir(parents=True, exist_ok=True)

    def completed_rounds(self) -> list[int]:
        return sorted(
            int(p.stem.split("-")[1]) for p in (self.directory / "rounds").glob("round-*.json")
        )

    def final_round(self) -> int:
        done = self.completed_rounds()
        return done[-1] if done else 0

    def _read(self, name: str) -> bytes | None:
        path = self.directory / "rounds" / name
        return path.read_bytes() if path.is_file() else None

    def evidence(self, round_number: int) -> bytes | None:
        return self._read(f"evidence-{round_number:06d}.pb")

    def download(self, round_number: int, name: str) -> bytes | None:
        """What the round's session served as ``name`` (None if it served none)."""
        return self._read(_download_file(name, round_number))

    def save_evidence(
        self, round_number: int, evidence: bytes, downloads: Mapping[str, bytes]
    ) -> None:
        """Before the round's record: what silos that missed it verify it from (the
        evidence, written last, makes the round's downloads servable)."""
        rounds = self.directory / "rounds"
        for name, data in downloads.items():
            write_atomically(rounds / _download_file(name, round_number), data)
        write_atomically(rounds / f"evidence-{round_number:06d}.pb", evidence)

    def record(self, round_number: int) -> dict[str, Any]:
        path = self.directory / "rounds" / f"round-{round_number:06d}.json"
        loaded: dict[str, Any] = json.loads(path.read_text())
        return loaded

    def model(self, round_number: int) -> dict[str, torch.Tensor]:
        """The global model after ``round_number`` (refused unless valid safetensors)."""
        return load_checkpoint(self.directory / "rounds" / f"model-{round_number:06d}.safetensors")

    def optimizer_state(self, round_number: int) -> OptimizerState:
        """The server optimizer's exact float64 state after ``round_number``."""
        path = self.directory / "rounds" / f"optimizer-{round_number:06d}.safetensors"
        try:
            return load_optimizer_state(path.read_bytes())
        except OSError as exc:
            raise CheckpointError(f"cannot read {path}: {exc}") from exc

    def save_round(
        self,
        round_number: int,
        record: dict[str, object],
        aggregate: bytes,
        model: bytes,
        optimizer: bytes,
    ) -> None:
        """Persist a completed round; the JSON record, written last, marks it complete."""
        rounds = self.directory / "rounds"
        write_atomically(rounds / f"aggregate-{round_number:06d}.bin", aggregate)
        write_atomically(rounds / f"model-{round_number:06d}.safetensors", model)
        write_atomically(rounds / f"optimizer-{round_number:06d}.safetensors", optimizer)
        write_atomically(self.directory / MODEL_FILE, model)
        write_atomically(
            rounds / f"round-{round_number:06d}.json", json.dumps(record, indent=2).encode()
        )
