"""The global state ``H_r`` commits to: the model and the server optimizer's state, as bytes.

Theory of operation
-------------------
``H_r`` (:mod:`fedsilo.protocol.chain`) covers SHA-256 of ``model_{r+1}`` and of
the optimizer state after round ``r``. Every party hashes the state it derived
itself, so the bytes must be a function of the values alone:

* the model is the safetensors file of the layout's *aggregated* tensors
  (:class:`~fedsilo.tensors.Layout`, floating-point tensors only), each named
  as in the state dict, shaped as in the layout, in float32 (the dtype of the
  aggregated vector, whatever the tensor's own dtype), saved with
  ``safetensors.numpy.save`` with the keys sorted and **no metadata**;
* the optimizer state is the safetensors file of its float64 arrays, keys
  sorted, no metadata. An empty state (FedAvg) is the 16-byte file
  ``08 00 00 00 00 00 00 00 7b 7d 20 20 20 20 20 20`` (an 8-byte header ``{}``
  padded with spaces), whose SHA-256 is :data:`EMPTY_STATE_SHA256`.

safetensors writes the header with its tensors in a fixed order (by dtype
alignment, then name) and little-endian buffers, so the bytes do not depend
on the dict's insertion order, the process or the host's byte order; the
golden chain (``tests/vectors/chain.json``) pins the encoding. Nothing is
ever pickled; a loaded state must be float64 and in exactly this form.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from safetensors import SafetensorError
from safetensors.numpy import load as safetensors_load
from safetensors.numpy import save as safetensors_save

from fedsilo.errors import CheckpointError, ConfigError
from fedsilo.tensors import FloatVector, Layout
from fedsilo.training.server_optimizers import OptimizerState

EMPTY_STATE_SHA256 = bytes.fromhex(
    "9bbcbf73561f6bc5d0a17ea6a2081feed2d1304e87602d8c502d9a5c4bd85576"
)  # SHA-256 of 08 00 00 00 00 00 00 00 "{}      ": the state of FedAvg


def _save_sorted(arrays: Mapping[str, npt.NDArray[np.floating[Any]]]) -> bytes:
    return safetensors_save({name: arrays[name] for name in sorted(arrays)}, metadata=None)


def model_tensors(layout: Layout, model: FloatVector) -> dict[str, npt.NDArray[np.float32]]:
    """The aggregated tensors of ``model`` by name, shaped as in ``layout``, float32."""
    if model.ndim != 1 or model.dtype != np.float32:
        raise ConfigError(f"a global model is a 1-D float32 vector, got {model.dtype}")
    if len(model) != layout.vector_length:
        raise ConfigError(
            f"a model of {len(model)} values does not fit a layout of {layout.vector_length}"
        )
    tensors, offset = {}, 0
    for spec in layout.tensors:
        if spec.aggregated:
            part = model[offset : offset + spec.size].reshape(spec.shape)
            tensors[spec.name] = np.ascontiguousarray(part)
            offset += spec.size
    return tensors


def model_safetensors(layout: Layout, model: FloatVector) -> bytes:
    """The safetensors bytes of the global model that ``H_r`` hashes."""
    return _save_sorted(model_tensors(layout, model))


def model_sha256(layout: Layout, model: FloatVector) -> bytes:
    """SHA-256 of :func:`model_safetensors` (32 bytes)."""
    return hashlib.sha256(model_safetensors(layout, model)).digest()


def model_sha256_text(layout: Layout, model: FloatVector) -> str:
    """:func:`model_sha256` as a config writes it (``model.initial_sha256``): ``sha256:<hex>``."""
    return "sha256:" + model_sha256(layout, model).hex()


def optimizer_safetensors(state: OptimizerState) -> bytes:
    """The safetensors bytes of a server optimizer's state (float64 arrays only)."""
    for name, value in state.items():
        if value.dtype != np.float64:
            raise CheckpointError(f"optimizer state {name!r} is {value.dtype}, not float64")
    return _save_sorted({name: np.ascontiguousarray(value) for name, value in state.items()})


def optimizer_sha256(state: OptimizerState) -> bytes:
    """SHA-256 of :func:`optimizer_safetensors`; :data:`EMPTY_STATE_SHA256` for ``{}``."""
    return hashlib.sha256(optimizer_safetensors(state)).digest()


def load_optimizer_state(data: bytes) -> OptimizerState:
    """The state saved by :func:`optimizer_safetensors`; anything else raises CheckpointError."""
    try:
        loaded = safetensors_load(bytes(data))
    except (SafetensorError, ValueError, TypeError) as exc:
        raise CheckpointError("the server optimizer state is not a safetensors file") from exc
    state: OptimizerState = {}
    for name in sorted(loaded):  # safetensors returns its tensors in no fixed order
        value = loaded[name]
        if value.dtype != np.float64:
            raise CheckpointError(
                f"the server optimizer state holds {name!r} as {value.dtype}; only float64 is kept"
            )
        state[name] = np.array(value, dtype=np.float64, copy=True)
    if optimizer_safetensors(state) != bytes(data):
        raise CheckpointError(
            "the server optimizer state is not in fedsilo's form (sorted float64, no metadata)"
        )
    return state
