"""Model checkpoints: safetensors (a JSON header and raw buffers), never pickle.

The aggregator writes each round's global model as a safetensors file whose
tensors carry the model's state-dict names, so any party can load it into
the task's model. Loading accepts safetensors, or a torch file read with
``torch.load(weights_only=True)``; anything else, a pickle that would run
code in particular, is refused with :class:`CheckpointError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save

from fedsilo.errors import CheckpointError

SAFETENSORS_SUFFIX = ".safetensors"


def checkpoint_bytes(state: Mapping[str, torch.Tensor], metadata: Mapping[str, str]) -> bytes:
    """The safetensors encoding of ``state`` with string ``metadata`` in its header."""
    tensors = {name: t.detach().contiguous().cpu() for name, t in state.items()}
    return safetensors_save(tensors, metadata=dict(metadata))


def load_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from ``path`` (safetensors, or a weights-only torch file)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror}") from exc
    if Path(path).suffix == SAFETENSORS_SUFFIX:
        try:
            return dict(safetensors_load(data))
        except (SafetensorError, ValueError, RuntimeError) as exc:
            raise CheckpointError(
                f"{path} is not a valid safetensors checkpoint; refusing to load it"
            ) from exc
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # untrusted bytes: the unpickler may raise anything
        raise CheckpointError(
            f"{path} is not a weights-only torch checkpoint (it may hold code); refusing to load it"
        ) from exc
    if not isinstance(loaded, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in loaded.items()
    ):
        raise CheckpointError(f"{path} does not hold a state dict of named tensors")
    return loaded
