"""Server optimizers: FedAvg adds the mean delta; FedAdam follows Reddi et al. 2021."""

from __future__ import annotations

import numpy as np

from fedsilo.config.model import TrainingPlan
from fedsilo.training.server_optimizers import FedAdam, FedAvg, server_optimizer


def test_fedavg_moves_the_model_by_the_mean_delta() -> None:
    model = np.ones(3, dtype=np.float32)
    assert np.allclose(FedAvg(1.0).step(model, np.array([0.5, -0.5, 0.0])), [1.5, 0.5, 1.0])


def test_fedadam_applies_adam_to_the_mean_delta() -> None:
    opt = FedAdam(lr=0.1, beta1=0.9, beta2=0.99, tau=1e-3)
    delta = np.array([0.2, -0.4])
    out = opt.step(np.zeros(2, dtype=np.float32), delta)
    m, v = 0.1 * delta, 0.01 * delta**2
    assert np.allclose(out, 0.1 * m / (np.sqrt(v) + 1e-3), rtol=1e-6)


def test_fedadam_resumes_from_its_saved_state_exactly() -> None:
    deltas = [np.array([0.2, -0.4]), np.array([0.1, 0.3]), np.array([-0.2, 0.1])]
    straight = FedAdam(0.05)
    model = np.zeros(2, dtype=np.float32)
    for d in deltas:
        model = straight.step(model, d)
    first = FedAdam(0.05)
    resumed_model = first.step(np.zeros(2, dtype=np.float32), deltas[0])
    second = FedAdam(0.05)
    second.restore(first.state())
    for d in deltas[1:]:
        resumed_model = second.step(resumed_model, d)
    assert np.allclose(resumed_model, model, atol=1e-6)


def test_the_config_chooses_the_server_optimizer() -> None:
    plan = TrainingPlan(rounds=1, task="t", server_optimizer="fedadam", server_lr=0.01)
    assert isinstance(server_optimizer(plan), FedAdam)
    assert isinstance(server_optimizer(TrainingPlan(rounds=1, task="t")), FedAvg)
