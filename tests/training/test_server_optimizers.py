"""Server optimizers: a pure, bit-reproducible step from ``model_r`` to ``model_{r+1}``.

FedAvg adds ``lr * mean_delta``; FedAdam follows Reddi et al. 2021. Every party runs
the step itself and ``H_r`` hashes the result, so these tests compare bits, not
closeness.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fedsilo.config.model import TrainingPlan
from fedsilo.errors import CheckpointError, ConfigError
from fedsilo.training.global_state import (
    EMPTY_STATE_SHA256,
    load_optimizer_state,
    optimizer_safetensors,
    optimizer_sha256,
)
from fedsilo.training.server_optimizers import (
    SERVER_STEP_VERSION,
    FedAdam,
    FedAvg,
    OptimizerState,
    ServerOptimizer,
    server_optimizer,
)

RNG = np.random.default_rng(7)
MODEL = RNG.normal(0, 0.3, 257).astype(np.float32)
DELTAS = [RNG.normal(0, 0.05, 257) for _ in range(4)]


def bits(array: npt.NDArray[np.floating]) -> bytes:
    return array.tobytes()


def read_only(array: npt.NDArray[np.floating]) -> npt.NDArray[np.floating]:
    out = array.copy()
    out.setflags(write=False)
    return out


def run(
    optimizer: ServerOptimizer,
    deltas: list[npt.NDArray[np.float64]],
    model: npt.NDArray[np.float32] = MODEL,
    state: OptimizerState | None = None,
) -> tuple[npt.NDArray[np.float32], OptimizerState]:
    state = optimizer.initial_state(len(model)) if state is None else state
    for delta in deltas:
        model, state = optimizer.step(model, state, delta)
    return model, state


@pytest.mark.parametrize("optimizer", [FedAvg(1.0), FedAdam(0.05)], ids=["fedavg", "fedadam"])
def test_a_step_never_writes_to_its_inputs(optimizer: ServerOptimizer) -> None:
    _, state = run(optimizer, DELTAS[:1])
    model, delta = read_only(MODEL), read_only(DELTAS[1])  # a write would raise
    frozen = {k: read_only(v) for k, v in state.items()}
    before = (bits(model), bits(delta), {k: bits(v) for k, v in frozen.items()})
    new_model, new_state = optimizer.step(model, frozen, delta)  # type: ignore[arg-type]
    assert (bits(model), bits(delta), {k: bits(v) for k, v in frozen.items()}) == before
    assert new_model is not model and all(new_state[k] is not frozen[k] for k in new_state)


def test_fedavg_is_exactly_float32_of_the_model_plus_lr_times_the_mean_delta() -> None:
    lr = 0.7
    model, state = FedAvg(lr).step(MODEL, {}, DELTAS[0])
    expected = (MODEL.astype(np.float64) + lr * DELTAS[0]).astype(np.float32)
    assert model.dtype == np.float32 and bits(model) == bits(expected)
    assert state == {}


def reference_fedadam(
    model: npt.NDArray[np.float32], deltas: list[npt.NDArray[np.float64]], lr: float
) -> tuple[list[float], list[float], list[float]]:
    """FedAdam written the obvious way, one Python float (IEEE binary64) at a time."""
    beta1, beta2, tau = 0.9, 0.99, 1e-3
    x = [float(v) for v in model]
    m, v = [0.0] * len(x), [0.0] * len(x)
    for delta in deltas:
        for i, d in enumerate(float(e) for e in delta):
            m[i] = beta1 * m[i] + (1 - beta1) * d
            v[i] = beta2 * v[i] + (1 - beta2) * (d * d)
            x[i] = float(np.float32(x[i] + lr * m[i] / (math.sqrt(v[i]) + tau)))
    return x, m, v


def test_fedadam_equals_a_straightforward_float64_reference_bit_for_bit() -> None:
    model, state = run(FedAdam(0.05), DELTAS)
    x, m, v = reference_fedadam(MODEL, DELTAS, 0.05)
    assert bits(model) == bits(np.array(x, dtype=np.float32))
    assert bits(state["m"]) == bits(np.array(m)) and bits(state["v"]) == bits(np.array(v))


def test_fedadam_keeps_its_state_in_float64_not_float32() -> None:
    _, state = run(FedAdam(0.05), DELTAS)
    assert {k: v.dtype for k, v in state.items()} == {"m": np.float64, "v": np.float64}
    assert not np.array_equal(state["v"], state["v"].astype(np.float32).astype(np.float64))


def test_the_state_before_the_first_step_is_empty_for_fedavg_and_zeros_for_fedadam() -> None:
    assert FedAvg().initial_state(5) == {}
    state = FedAdam(0.1).initial_state(5)
    assert set(state) == {"m", "v"}
    assert all(v.dtype == np.float64 and bits(v) == bytes(40) for v in state.values())


def test_the_empty_state_hashes_the_documented_fixed_value() -> None:
    assert optimizer_safetensors({}) == bytes.fromhex("0800000000000000") + b"{}      "
    assert optimizer_sha256({}) == EMPTY_STATE_SHA256
    assert load_optimizer_state(optimizer_safetensors({})) == {}


def test_fedadam_resumed_from_its_saved_state_continues_bit_for_bit() -> None:
    straight, straight_state = run(FedAdam(0.05), DELTAS)
    half, state = run(FedAdam(0.05), DELTAS[:2])
    restored = load_optimizer_state(optimizer_safetensors(state))
    resumed, resumed_state = run(FedAdam(0.05), DELTAS[2:], model=half, state=restored)
    assert bits(resumed) == bits(straight)
    assert optimizer_sha256(resumed_state) == optimizer_sha256(straight_state)


@given(
    hnp.arrays(np.float64, st.integers(0, 40), elements=st.floats(allow_nan=True, width=64)),
    hnp.arrays(np.float64, st.integers(0, 40), elements=st.floats(allow_nan=True, width=64)),
)
def test_any_float64_state_round_trips_bit_for_bit(
    m: npt.NDArray[np.float64], v: npt.NDArray[np.float64]
) -> None:
    state = {"v": v, "m": m}
    data = optimizer_safetensors(state)
    loaded = load_optimizer_state(data)
    assert list(loaded) == ["m", "v"]
    assert bits(loaded["m"]) == bits(m) and bits(loaded["v"]) == bits(v)
    assert optimizer_safetensors(loaded) == data
    assert optimizer_safetensors(dict(reversed(list(state.items())))) == data


def test_a_float32_state_is_refused_on_load_in_one_line() -> None:
    from safetensors.numpy import save

    data = save({"m": np.zeros(3, np.float32), "v": np.zeros(3, np.float32)})
    with pytest.raises(CheckpointError, match="only float64") as caught:
        load_optimizer_state(data)
    assert "\n" not in str(caught.value)
    with pytest.raises(CheckpointError, match="float64"):
        optimizer_safetensors({"m": np.zeros(3, np.float32)})


def test_a_state_with_metadata_or_garbage_is_refused_on_load() -> None:
    from safetensors.numpy import save

    with pytest.raises(CheckpointError, match="not in fedsilo's form"):
        load_optimizer_state(save({"m": np.zeros(3)}, metadata={"round": "3"}))
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_optimizer_state(b"\x80\x04K\x01.")  # a pickle


def test_a_zero_delta_leaves_the_fedavg_model_bit_identical() -> None:
    # A released aggregate that decodes to no movement freezes the global model: this
    # is why silos derive models only from an aggregate they verified (a fake "release"
    # of a zero delta would otherwise stall training and let rounds be replayed).
    # (A sum of weight 0, which once decoded to that, is now refused at decode:
    # tests/training/test_decode_bounds.py.)
    mean = np.zeros(len(MODEL), dtype=np.float64)
    model, state = FedAvg(1.0).step(MODEL, {}, mean)
    assert bits(model) == bits(MODEL) and state == {}


def test_the_step_refuses_a_mean_delta_of_another_length_or_dtype() -> None:
    with pytest.raises(ConfigError, match="does not fit a model of 257"):
        FedAvg().step(MODEL, {}, DELTAS[0][:-1])
    with pytest.raises(ConfigError, match="float64"):
        FedAvg().step(MODEL, {}, DELTAS[0].astype(np.float32))


def test_fedadam_refuses_a_state_that_is_not_its_own() -> None:
    with pytest.raises(CheckpointError, match="m and v"):
        FedAdam(0.1).step(MODEL, {}, DELTAS[0])
    with pytest.raises(CheckpointError, match="'m' of 257"):
        FedAdam(0.1).step(MODEL, {"m": np.zeros(3), "v": np.zeros(257)}, DELTAS[0])
    with pytest.raises(CheckpointError, match="keeps no state"):
        FedAvg().step(MODEL, FedAdam(0.1).initial_state(257), DELTAS[0])


def test_the_config_chooses_the_server_optimizer_and_its_step_version() -> None:
    plan = TrainingPlan(rounds=1, task="t", server_optimizer="fedadam", server_lr=0.01)
    assert server_optimizer(plan) == FedAdam(0.01)
    assert server_optimizer(TrainingPlan(rounds=1, task="t")) == FedAvg(1.0)
    assert SERVER_STEP_VERSION == "fedsilo/server-step/v1"
    with pytest.raises(ConfigError, match="server step 'v2'"):
        server_optimizer(TrainingPlan(rounds=1, task="t", server_step="v2"))
