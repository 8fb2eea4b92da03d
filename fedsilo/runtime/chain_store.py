"""A silo's derived chain on disk: the model and optimizer state of each final round.

Layout under the silo's state directory (``chain/``): for each round ``r`` the
silo finalized, ``round-NNNNNN.json`` (the :class:`~fedsilo.protocol.chain.ChainLink`
fields), ``model-NNNNNN.safetensors`` and ``optimizer-NNNNNN.safetensors``. They
are written (temp file, fsync, rename) *before* the ledger finalizes the round,
so after a crash the state of the ledger's head is always on disk. On start
the silo loads the state whose recomputed ``H_r`` is its ledger's head and
whose model and optimizer digests match; anything else is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as safetensors_load

from fedsilo.errors import ConfigError
from fedsilo.protocol.chain import ChainLink
from fedsilo.runtime.state import write_atomically
from fedsilo.tensors import Layout
from fedsilo.training.chain_step import GlobalState
from fedsilo.training.global_state import (
    load_optimizer_state,
    model_safetensors,
    model_sha256,
    optimizer_safetensors,
    optimizer_sha256,
)


class ChainStore:
    """The derived global states of one silo."""

    def __init__(self, directory: Path, layout: Layout) -> None:
        self._dir, self._layout = directory / "chain", layout
        self._dir.mkdir(parents=True, exist_ok=True)

    def save(self, link: ChainLink, state: GlobalState) -> None:
        """Make round ``link.round``'s derived state durable (before it is finalized)."""
        r = link.round
        write_atomically(
            self._dir / f"model-{r:06d}.safetensors", model_safetensors(self._layout, state.model)
        )
        write_atomically(
            self._dir / f"optimizer-{r:06d}.safetensors", optimizer_safetensors(state.optimizer)
        )
        record = {
            "round": r,
            "previous": link.previous.hex(),
            "session_id": link.session_id.hex(),
            "survivors": list(link.survivors),
            "aggregate_sha256": link.aggregate_sha256.hex(),
            "model_sha256": link.model_sha256.hex(),
            "optimizer_sha256": link.optimizer_sha256.hex(),
            "head": link.head.hex(),
        }
        write_atomically(self._dir / f"round-{r:06d}.json", json.dumps(record).encode())

    def load(self, round_number: int, head: bytes) -> GlobalState:
        """The derived state of final round ``round_number`` whose ``H`` is ``head``."""
        path = self._dir / f"round-{round_number:06d}.json"
        try:
            doc = json.loads(path.read_text())
            link = ChainLink(
                int(doc["round"]),
                bytes.fromhex(doc["previous"]),
                bytes.fromhex(doc["session_id"]),
                tuple(int(i) for i in doc["survivors"]),
                bytes.fromhex(doc["aggregate_sha256"]),
                bytes.fromhex(doc["model_sha256"]),
                bytes.fromhex(doc["optimizer_sha256"]),
            )
            tensors = safetensors_load(
                (self._dir / f"model-{round_number:06d}.safetensors").read_bytes()
            )
            optimizer = load_optimizer_state(
                (self._dir / f"optimizer-{round_number:06d}.safetensors").read_bytes()
            )
        except (OSError, ValueError, KeyError, TypeError, SafetensorError) as exc:
            raise ConfigError(
                f"the silo's derived state of round {round_number} in {self._dir} is missing or "
                f"unreadable ({exc}); restore the state directory from the same backup as its "
                "ledger"
            ) from exc
        names = [t.name for t in self._layout.tensors if t.aggregated]
        model = np.concatenate([tensors[n].reshape(-1) for n in names]).astype(np.float32)
        if (
            link.head != head
            or model_sha256(self._layout, model) != link.model_sha256
            or optimizer_sha256(optimizer) != link.optimizer_sha256
        ):
            raise ConfigError(
                f"the silo's derived state of round {round_number} does not match its ledger's "
                "chain head: the state directory was restored from mismatched backups; refusing "
                "to run"
            )
        return GlobalState(round_number, head, model, optimizer)
