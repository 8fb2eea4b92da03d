"""Server optimizers: the step every party takes from ``model_r`` to ``model_{r+1}``.

``fedavg`` adds ``lr * mean_delta``. ``fedadam`` treats ``-mean_delta`` as a
pseudo-gradient and applies Adam with the defaults of Reddi et al. 2021,
"Adaptive Federated Optimization" (beta1 0.9, beta2 0.99, tau 1e-3, no bias
correction)::

    m'     = beta1 * m + (1 - beta1) * d
    v'     = beta2 * v + (1 - beta2) * (d * d)
    model' = float32(model + (lr * m') / (sqrt(v') + tau))

Theory of operation
-------------------
Every silo computes ``model_{r+1} = step(model_r, state_r, decode(A_r))``
itself and the aggregator computes the same; ``H_r`` (:mod:`fedsilo.protocol.
chain`) commits to the SHA-256 of the result and of the new state. So the step
must give the same bits in every process, whatever its thread count, BLAS or
CPU. It does because:

* every value is an IEEE-754 binary64 array (the float32 model is widened
  exactly first) and each statement of a step is **one** basic operation (``+``,
  ``*``, ``/``, ``sqrt``) applied elementwise by a numpy ufunc. IEEE-754 requires
  these to be correctly rounded, so each element's result is fixed by its
  inputs: SIMD width, alignment and chunking cannot change it, and separate
  ufunc calls are never fused into an FMA;
* there is no reduction (no sum, dot, matmul or BLAS call, whose order of
  accumulation depends on threads and vector width), no transcendental
  function (``exp``, ``pow``: libm and SVML differ between machines) and no
  torch (its kernels pick algorithms at run time);
* the order of operations is written out with explicit ``out=`` targets, so
  a refactoring cannot silently turn ``(lr * m) / den`` into ``lr * (m / den)``;
  scalar constants such as ``1 - beta1`` are computed once in Python (binary64);
* the single rounding to float32 (the model dtype) is ``astype``:
  round-to-nearest-even;
* a process that flushes subnormals to zero (FTZ/DAZ, set by a library
  built with ``-ffast-math``) or rounds otherwise than to nearest-even
  computes other bits: each step checks for both and refuses
  (:class:`~fedsilo.errors.ConfigError`).

Steps are pure: ``step(model, state, mean_delta)`` returns a new model and a new
state and never writes to its inputs. The state is named float64 arrays, kept
exactly (never truncated to float32), so a restart from a saved state
(:mod:`fedsilo.training.global_state`) continues bit for bit.

The state before the first step is :meth:`ServerOptimizer.initial_state`:
``{}`` for FedAvg, and for FedAdam ``m`` and ``v`` of zeros (never ``{}``), so
one FedAdam state has one representation and every state ``H`` covers has
the same two arrays. These formulas and constants are server step
``SERVER_STEP_VERSION``, which the config names (``training.server_step``, in
the config digest): changing any of them is a new version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from fedsilo.config.model import TrainingPlan
from fedsilo.errors import CheckpointError, ConfigError

SERVER_STEP_VERSION = "fedsilo/server-step/v1"
FloatVector = npt.NDArray[np.float32]
OptimizerState = dict[str, npt.NDArray[np.float64]]

_SMALLEST_SUBNORMAL = np.array([np.finfo(np.float64).smallest_subnormal])
_ONE = np.array([1.0])


class ServerOptimizer(Protocol):
    def step(
        self, model: FloatVector, state: OptimizerState, mean_delta: npt.NDArray[np.float64]
    ) -> tuple[FloatVector, OptimizerState]:
        """The next global model and optimizer state (pure: the inputs are not modified)."""
        ...

    def initial_state(self, parameters: int) -> OptimizerState:
        """The state before the first step, for a model of ``parameters`` values."""
        ...


def _require_ieee_arithmetic() -> None:
    """Refuse to step in a process whose float environment gives other bits: subnormals
    flushed to zero (FTZ/DAZ) or a rounding mode other than round-to-nearest-even."""
    if not np.multiply(_SMALLEST_SUBNORMAL, 1.0)[0] > 0.0:
        raise ConfigError(
            "this process flushes subnormal floats to zero (FTZ/DAZ, e.g. a library built "
            "with -ffast-math), so its server step would differ from the other parties'"
        )
    tie, above_half = np.add(_ONE, 2.0**-53)[0], np.add(_ONE, 3 * 2.0**-54)[0]
    if tie != 1.0 or above_half != 1.0 + 2.0**-52:
        raise ConfigError(
            "this process does not round floats to nearest-even, so its server step "
            "would differ from the other parties'"
        )


def _widen(model: FloatVector, mean_delta: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Check the inputs and return the model widened (exactly) to float64."""
    if model.ndim != 1 or model.dtype != np.float32:
        raise ConfigError(f"the server step takes a 1-D float32 model, got {model.dtype}")
    if mean_delta.dtype != np.float64 or mean_delta.shape != model.shape:
        raise ConfigError(
            f"a mean delta of {mean_delta.shape} {mean_delta.dtype} does not fit a model of "
            f"{len(model)} values (a float64 vector of the same length)"
        )
    _require_ieee_arithmetic()
    return model.astype(np.float64)


def _state_vector(state: OptimizerState, name: str, parameters: int) -> npt.NDArray[np.float64]:
    value = state.get(name)
    if value is None or value.dtype != np.float64 or value.shape != (parameters,):
        raise CheckpointError(
            f"the server optimizer state has no float64 {name!r} of {parameters} values"
        )
    return value


@dataclass(frozen=True)
class FedAvg:
    """``model' = float32(model + lr * mean_delta)``; no state."""

    lr: float = 1.0

    def initial_state(self, parameters: int) -> OptimizerState:
        return {}

    def step(
        self, model: FloatVector, state: OptimizerState, mean_delta: npt.NDArray[np.float64]
    ) -> tuple[FloatVector, OptimizerState]:
        if state:
            raise CheckpointError(f"FedAvg keeps no state, got {', '.join(sorted(state))}")
        out = _widen(model, mean_delta)
        update = np.multiply(self.lr, mean_delta)  # lr * d
        np.add(out, update, out=out)  # model + (lr * d)
        return out.astype(np.float32), {}


@dataclass(frozen=True)
class FedAdam:
    """Adam on the pseudo-gradient ``-mean_delta`` (Reddi et al. 2021); state ``m``, ``v``."""

    lr: float
    beta1: float = 0.9
    beta2: float = 0.99
    tau: float = 1e-3

    def initial_state(self, parameters: int) -> OptimizerState:
        return {"m": np.zeros(parameters), "v": np.zeros(parameters)}

    def step(
        self, model: FloatVector, state: OptimizerState, mean_delta: npt.NDArray[np.float64]
    ) -> tuple[FloatVector, OptimizerState]:
        out = _widen(model, mean_delta)
        if set(state) != {"m", "v"}:
            raise CheckpointError(f"FedAdam state holds m and v, got {sorted(state)}")
        m0 = _state_vector(state, "m", len(model))
        v0 = _state_vector(state, "v", len(model))
        d = mean_delta
        m = np.multiply(self.beta1, m0)  # beta1 * m
        t = np.multiply(1.0 - self.beta1, d)  # (1 - beta1) * d
        np.add(m, t, out=m)  # m' = (beta1 * m) + ((1 - beta1) * d)
        v = np.multiply(self.beta2, v0)  # beta2 * v
        np.multiply(d, d, out=t)  # d * d
        np.multiply(1.0 - self.beta2, t, out=t)  # (1 - beta2) * (d * d)
        np.add(v, t, out=v)  # v' = (beta2 * v) + ((1 - beta2) * (d * d))
        np.sqrt(v, out=t)  # sqrt(v')
        np.add(t, self.tau, out=t)  # den = sqrt(v') + tau
        update = np.multiply(self.lr, m)  # lr * m'
        np.divide(update, t, out=update)  # (lr * m') / den
        np.add(out, update, out=out)  # model + ((lr * m') / den)
        return out.astype(np.float32), {"m": m, "v": v}


def server_optimizer(plan: TrainingPlan) -> ServerOptimizer:
    """The server optimizer the config names, for server step ``SERVER_STEP_VERSION``."""
    if f"fedsilo/server-step/{plan.server_step}" != SERVER_STEP_VERSION:
        raise ConfigError(
            f"server step {plan.server_step!r} is not implemented here "
            f"(this fedsilo implements {SERVER_STEP_VERSION})"
        )
    if plan.server_optimizer == "fedavg":
        return FedAvg(plan.server_lr)
    if plan.server_optimizer == "fedadam":
        return FedAdam(plan.server_lr)
    raise ConfigError(f"unknown server optimizer {plan.server_optimizer!r} (fedavg, fedadam)")
