"""Server optimizers: how the aggregator moves the global model by the averaged delta.

``fedavg`` adds ``lr * mean_delta``. ``fedadam`` treats ``-mean_delta`` as a
pseudo-gradient and applies Adam with the defaults of Reddi et al. 2021,
"Adaptive Federated Optimization" (beta1 0.9, beta2 0.99, tau 1e-3).
Optimizer state is named float arrays, so it checkpoints with the model.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from fedsilo.config.model import TrainingPlan
from fedsilo.errors import ConfigError

FloatVector = npt.NDArray[np.float32]


class ServerOptimizer(Protocol):
    def step(self, model: FloatVector, mean_delta: npt.NDArray[np.float64]) -> FloatVector:
        """The next global model."""
        ...

    def state(self) -> dict[str, FloatVector]:
        """What must be saved to resume."""
        ...

    def restore(self, state: dict[str, FloatVector]) -> None: ...


class FedAvg:
    def __init__(self, lr: float = 1.0) -> None:
        self.lr = lr

    def step(self, model: FloatVector, mean_delta: npt.NDArray[np.float64]) -> FloatVector:
        return (model + self.lr * mean_delta).astype(np.float32)

    def state(self) -> dict[str, FloatVector]:
        return {}

    def restore(self, state: dict[str, FloatVector]) -> None:
        pass


class FedAdam:
    def __init__(
        self, lr: float, beta1: float = 0.9, beta2: float = 0.99, tau: float = 1e-3
    ) -> None:
        self.lr, self.beta1, self.beta2, self.tau = lr, beta1, beta2, tau
        self.m: npt.NDArray[np.float64] | None = None
        self.v: npt.NDArray[np.float64] | None = None

    def step(self, model: FloatVector, mean_delta: npt.NDArray[np.float64]) -> FloatVector:
        if self.m is None or self.v is None:
            self.m = np.zeros(len(model))
            self.v = np.zeros(len(model))
        self.m = self.beta1 * self.m + (1 - self.beta1) * mean_delta
        self.v = self.beta2 * self.v + (1 - self.beta2) * np.square(mean_delta)
        return (model + self.lr * self.m / (np.sqrt(self.v) + self.tau)).astype(np.float32)

    def state(self) -> dict[str, FloatVector]:
        if self.m is None or self.v is None:
            return {}
        return {"m": self.m.astype(np.float32), "v": self.v.astype(np.float32)}

    def restore(self, state: dict[str, FloatVector]) -> None:
        if state:
            self.m, self.v = state["m"].astype(np.float64), state["v"].astype(np.float64)


def server_optimizer(plan: TrainingPlan) -> ServerOptimizer:
    if plan.server_optimizer == "fedavg":
        return FedAvg(plan.server_lr)
    if plan.server_optimizer == "fedadam":
        return FedAdam(plan.server_lr)
    raise ConfigError(f"unknown server optimizer {plan.server_optimizer!r} (fedavg, fedadam)")
