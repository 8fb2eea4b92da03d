"""A model's state dict <-> one flat float32 vector, with a layout that pins the architecture.

The layout lists every tensor of the state dict in order (name, shape, dtype).
Its SHA-256 goes into the federation config (``model.layout_sha256``), so
every party provably trains the same architecture. Only floating-point
tensors are aggregated. Integer buffers (such as a batch-norm counter) are
in the layout but not in the vector.

torch is imported only here and in ``fedsilo.training``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from fedsilo.config.jcs import canonical_json
from fedsilo.errors import ConfigError

FloatVector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def aggregated(self) -> bool:
        return self.dtype in {"float16", "bfloat16", "float32", "float64"}

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@dataclass(frozen=True)
class Layout:
    """The ordered tensors of a state dict."""

    tensors: tuple[TensorSpec, ...]

    @classmethod
    def of(cls, state: Mapping[str, torch.Tensor]) -> Layout:
        return cls(
            tuple(
                TensorSpec(
                    name, tuple(int(d) for d in t.shape), str(t.dtype).removeprefix("torch.")
                )
                for name, t in state.items()
            )
        )

    @property
    def vector_length(self) -> int:
        """How many values the aggregated (floating-point) tensors hold."""
        return sum(t.size for t in self.tensors if t.aggregated)

    def document(self) -> bytes:
        """The RFC 8785 JSON of ``[[name, shape, dtype], ...]``."""
        return canonical_json([[t.name, list(t.shape), t.dtype] for t in self.tensors]).encode()

    @classmethod
    def from_document(cls, data: bytes) -> Layout:
        """Parse :meth:`document` output; raises ConfigError on anything else."""
        try:
            doc = json.loads(data)
            return cls(
                tuple(
                    TensorSpec(str(name), tuple(int(d) for d in shape), str(dtype))
                    for name, shape, dtype in doc
                )
            )
        except (ValueError, TypeError) as exc:
            raise ConfigError("a model layout that is not [[name, shape, dtype], ...]") from exc

    def sha256(self) -> str:
        """``sha256:<hex>`` over :meth:`document`."""
        return "sha256:" + hashlib.sha256(self.document()).hexdigest()

    def require_same(self, expected: Layout) -> None:
        """Refuse a different architecture, naming the first tensor that differs."""
        for ours, theirs in zip(self.tensors, expected.tensors, strict=False):
            if ours != theirs:
                raise ConfigError(
                    f"model layout differs at tensor {theirs.name!r}: expected "
                    f"{list(theirs.shape)} {theirs.dtype}, this model has {ours.name!r} "
                    f"{list(ours.shape)} {ours.dtype}"
                )
        if len(self.tensors) != len(expected.tensors):
            longer = self if len(self.tensors) > len(expected.tensors) else expected
            extra = longer.tensors[min(len(self.tensors), len(expected.tensors))]
            raise ConfigError(
                f"model layout differs at tensor {extra.name!r}: present on one side only"
            )


def flatten(state: Mapping[str, torch.Tensor], layout: Layout) -> FloatVector:
    """The floating-point tensors of ``state``, in layout order, as one float32 vector.

    ``state`` may list its tensors in any order (a safetensors file sorts them by name);
    names, shapes and dtypes must match the layout."""
    names = [t.name for t in layout.tensors]
    if set(state) == set(names):
        state = {name: state[name] for name in names}
    Layout.of(state).require_same(layout)
    parts = [
        state[t.name].detach().to(torch.float32).reshape(-1).cpu().numpy()
        for t in layout.tensors
        if t.aggregated
    ]
    return (
        np.concatenate(parts).astype(np.float32, copy=False) if parts else np.zeros(0, np.float32)
    )


def unflatten(vector: FloatVector, like: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict shaped like ``like`` whose floating-point tensors come from ``vector``."""
    layout = Layout.of(like)
    if len(vector) != layout.vector_length:
        raise ConfigError(
            f"a vector of {len(vector)} values does not fit a layout of {layout.vector_length}"
        )
    out, offset = {}, 0
    for spec in layout.tensors:
        source = like[spec.name]
        if not spec.aggregated:
            out[spec.name] = source.clone()
            continue
        chunk = torch.from_numpy(np.ascontiguousarray(vector[offset : offset + spec.size]))
        out[spec.name] = chunk.reshape(spec.shape).to(source.dtype)
        offset += spec.size
    return out
