from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fedsilo.crypto.quantize import Quantizer, check_no_overflow
from fedsilo.errors import ConfigError, QuantizationError
from fedsilo.testing.entropy import SeededEntropy

Q = Quantizer(clip=1.0, levels=1 << 16)


@given(arrays(np.float32, st.integers(1, 500), elements=st.floats(-4, 4, width=32)))
def test_quantized_values_lie_in_range_and_round_trip_within_one_step(x: np.ndarray) -> None:
    q = Q.quantize(x, SeededEntropy(1))
    assert q.dtype == np.uint32 and int(q.max()) < Q.levels
    back = Q.dequantize_sum(q, 1)
    assert np.all(np.abs(back - np.clip(x, -1, 1)) < Q.step)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_refused_with_their_index(bad: float) -> None:
    x = np.zeros(10, dtype=np.float32)
    x[7] = bad
    with pytest.raises(QuantizationError, match="index 7"):
        Q.quantize(x, SeededEntropy(1))


def test_stochastic_rounding_is_unbiased() -> None:
    x = np.full(200_000, 0.3, dtype=np.float32)
    mean = Q.dequantize_sum(Q.quantize(x, SeededEntropy(2)), 1).mean()
    assert abs(mean - 0.3) < Q.step / 50


def test_rounding_noise_comes_from_the_injected_entropy() -> None:
    x = np.linspace(-1, 1, 1000, dtype=np.float32)
    assert np.array_equal(Q.quantize(x, SeededEntropy(3)), Q.quantize(x, SeededEntropy(3)))
    assert not np.array_equal(Q.quantize(x, SeededEntropy(3)), Q.quantize(x, SeededEntropy(4)))


def test_overflow_bound_is_checked() -> None:
    check_no_overflow(silos=10, levels=(1 << 32) // 10 - 1, bits=32)
    with pytest.raises(ConfigError, match="overflow"):
        check_no_overflow(silos=10, levels=(1 << 32) // 10 + 1, bits=32)


@pytest.mark.parametrize(
    "kwargs",
    [{"clip": 0.0, "levels": 4}, {"clip": float("nan"), "levels": 4}, {"clip": 1.0, "levels": 1}],
)
def test_unusable_quantizer_parameters_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        Quantizer(**kwargs)  # type: ignore[arg-type]
