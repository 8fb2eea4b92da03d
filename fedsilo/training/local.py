"""A task seen as flat vectors: what the nodes train and aggregate.

:class:`LocalTrainer` builds the task's model, pins its layout, and runs
one local round: load the global model, evaluate it on the held-out split,
train with a seed fixed by (task seed, silo, round), and return the delta.
Training is deterministic for a given seed, which is what lets a masked run
be compared with the same run in the clear.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from fedsilo.config.model import TrainingPlan
from fedsilo.errors import ConfigError, RemoteProtocolError
from fedsilo.tensors import FloatVector, Layout, flatten, unflatten
from fedsilo.training.global_state import model_sha256_text
from fedsilo.training.task import SiloContext, Task, load_task
from fedsilo.training.weighted import LocalResult

UNPINNED = (
    "the config does not pin the model layout (model.layout_sha256); "
    "run `fedsilo config pin-layout`"
)
INITIAL_UNPINNED = (
    "the config does not pin the initial model (model.initial_sha256); "
    "run `fedsilo config pin-layout`"
)


def check_served_layout(served: bytes, pinned: str | None, own: Layout) -> None:
    """At a silo: refuse to train unless the layout the aggregator serves is the pinned one
    and ours matches it, naming the first tensor that differs."""
    if pinned is None:
        raise ConfigError(UNPINNED)
    expected = Layout.from_document(served)
    if expected.sha256() != pinned:
        raise RemoteProtocolError(
            f"the aggregator serves model layout {expected.sha256()}, the config pins {pinned}"
        )
    own.require_same(expected)


def round_seed(seed: int, silo: str, round_number: int) -> int:
    digest = hashlib.sha256(f"fedsilo/train/{seed}/{silo}/{round_number}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


class LocalTrainer:
    """One party's view of the task: the model's layout, and local rounds on its data."""

    def __init__(self, task: Task, plan: TrainingPlan, silo: SiloContext | None = None) -> None:
        # One thread per process: a federation on one machine runs many of them, and a
        # fixed thread count keeps float reductions (and so the run) reproducible.
        torch.set_num_threads(1)
        self.task, self.plan, self.silo = task, plan, silo
        self.model = task.build_model()
        self.layout = Layout.of(self.model.state_dict())
        self._loaded = False  # until then, self.model holds the initial weights
        self.data = task.load_data(silo) if silo is not None else None

    @classmethod
    def for_plan(cls, plan: TrainingPlan, silo: SiloContext | None = None) -> LocalTrainer:
        return cls(load_task(plan), plan, silo)

    def check_layout(self, pinned: str | None) -> None:
        """Refuse to run a model whose layout differs from the config's pin (the aggregator
        has no served layout to name the differing tensor against)."""
        if pinned is None:
            raise ConfigError(UNPINNED)
        if self.layout.sha256() != pinned:
            raise ConfigError(
                f"this {self.plan.task!r} model has layout {self.layout.sha256()}, "
                f"the config pins {pinned}: a different architecture or task version"
            )

    def check_initial(self, pinned: str | None) -> None:
        """Refuse to start the chain from an initial model other than the config's pin
        (``model.initial_sha256``): every party derives every later model from it."""
        if pinned is None:
            raise ConfigError(INITIAL_UNPINNED)
        own = model_sha256_text(self.layout, self.initial_model())
        if own != pinned:
            raise ConfigError(
                f"this {self.plan.task!r} task builds initial model {own}, the config pins "
                f"{pinned}: a different task version, seed or options"
            )

    def initial_model(self) -> FloatVector:
        """The model the task builds (deterministic: its layout and weights are pinned)."""
        model = self.task.build_model() if self._loaded else self.model
        return flatten(model.state_dict(), self.layout)

    def state_dict(self, vector: FloatVector) -> dict[str, torch.Tensor]:
        return unflatten(vector, self.model.state_dict())

    def load(self, vector: FloatVector) -> torch.nn.Module:
        self.model.load_state_dict(self.state_dict(vector))
        self._loaded = True
        return self.model

    def local_round(self, round_number: int, model: FloatVector) -> LocalResult:
        """Evaluate the global ``model`` here, train from it, and return the delta."""
        if self.silo is None or self.data is None:
            raise ConfigError("local training needs a silo's data")
        self.load(model)
        evaluation = self.task.evaluate(self.model, self.data)
        torch.manual_seed(round_seed(self.plan.option("seed", 0), self.silo.name, round_number))
        samples = self.task.train(self.model, self.data, round_number)
        trained = flatten(self.model.state_dict(), self.layout)
        delta = (trained.astype(np.float64) - model).astype(np.float32)
        return LocalResult(delta, int(samples), evaluation)
