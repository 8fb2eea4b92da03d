"""`synthetic-vector`: a task with no data, for node tests and benchmarks.

Each silo's update is a reproducible pseudo-random vector in ``[-0.5, 0.5)``,
seeded by the silo's name and the round. The expected sum of any set of
silos can therefore be computed independently, which is what integration
tests and ``fedsilo bench --transport grpc`` compare against. Options:
``params`` (vector length, default 1000) and ``seed``.
"""

from __future__ import annotations

import hashlib

import numpy as np

from fedsilo.config.model import TrainingPlan
from fedsilo.training.task import FloatVector


class SyntheticVectorTask:
    def __init__(self, plan: TrainingPlan) -> None:
        self.params = plan.option("params", 1000)
        self.seed = plan.option("seed", 0)

    def initial_model(self) -> FloatVector:
        return np.zeros(self.params, dtype=np.float32)

    def local_update(
        self, silo: str, round_number: int, model: FloatVector
    ) -> tuple[FloatVector, int]:
        digest = hashlib.sha256(f"{self.seed}/{silo}/{round_number}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
        return rng.uniform(-0.5, 0.5, self.params).astype(np.float32), 1
