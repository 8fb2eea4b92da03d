"""`synthetic-vector`: a task with no data, for node tests and benchmarks.

The model is one flat parameter of ``params`` values (option, default 1000).
Each silo's "training" adds a reproducible pseudo-random vector in
``[-0.5, 0.5)`` seeded by (``seed``, silo, round), and it reports
``max_samples`` samples, so every silo weighs 1 and the sum of any set of
silos can be computed independently: that is what integration tests and
``fedsilo bench --transport grpc`` compare against.

Option ``grid`` (default 0: off) rounds every value to a multiple of it. With
a grid of ``2c / (levels - 1)`` that is a power of two (clip 1, 65537
levels: 2^-15) the first round's deltas lie on the quantizer's grid, so
stochastic rounding is exact and round 1's aggregate and model are the same
bits in every run, whatever the sessions' randomness: crash-recovery tests
compare an interrupted run with an uninterrupted one that way.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch import nn

from fedsilo.config.model import TrainingPlan
from fedsilo.training.task import Evaluation, SiloContext


class _Vector(nn.Module):
    def __init__(self, params: int) -> None:
        super().__init__()
        self.values = nn.Parameter(torch.zeros(params))


class SyntheticVectorTask:
    def __init__(self, plan: TrainingPlan) -> None:
        self.params = plan.option("params", 1000)
        self.seed = plan.option("seed", 0)
        self.samples = plan.max_samples
        self.grid = plan.option("grid", 0.0)

    def update(self, silo: str, round_number: int) -> np.ndarray:
        """The vector ``silo`` adds in ``round_number``."""
        digest = hashlib.sha256(f"{self.seed}/{silo}/{round_number}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
        values = rng.uniform(-0.5, 0.5, self.params)
        if self.grid:
            values = np.round(values / self.grid) * self.grid
        return values.astype(np.float32)

    def build_model(self) -> nn.Module:
        return _Vector(self.params)

    def load_data(self, silo: SiloContext) -> str:
        return silo.name

    def train(self, model: nn.Module, data: str, round_number: int) -> int:
        assert isinstance(model, _Vector)
        with torch.no_grad():
            model.values.add_(torch.from_numpy(self.update(data, round_number)))
        return self.samples

    def evaluate(self, model: nn.Module, data: str) -> Evaluation:
        return Evaluation(0, 0)
