"""Secure weighted FedAvg: each silo gets exactly the weight it declared (capped)."""

from __future__ import annotations

import numpy as np
import pytest

from fedsilo.crypto.quantize import Quantizer
from fedsilo.errors import ConfigError
from fedsilo.protocol.masking.messages import Stage
from fedsilo.testing.entropy import SeededEntropy
from fedsilo.testing.harness import make_federation, run_aggregation
from fedsilo.training.task import Evaluation
from fedsilo.training.weighted import LocalResult, SecureFedAvg, WeightedAverage

LEVELS = 1 << 20
MAX_SAMPLES = 1000
DELTAS = [np.full(64, v, dtype=np.float32) for v in (0.4, -0.2, 0.1, 0.3)]


def secure_average(
    results: list[LocalResult], drop: int | None = None, max_samples: int = MAX_SAMPLES
) -> tuple[SecureFedAvg, WeightedAverage]:
    """Encode each silo's result, run the whole masking protocol in memory, decode the sum."""
    fed = make_federation(len(results), levels=LEVELS)
    codec = SecureFedAvg(fed.params.quantizer, max_samples)
    inputs = [codec.encode(r, SeededEntropy("quantize", i)) for i, r in enumerate(results)]
    drop_at = {drop: Stage.MASKED_INPUT} if drop else {}
    run = run_aggregation(fed, inputs, drop_at=drop_at)
    assert run.result is not None
    return codec, codec.decode(np.asarray(run.result.total), len(run.result.survivors))


def test_silos_with_different_sample_counts_get_the_weights_they_declared() -> None:
    samples = [500, 100, 50, 350]
    results = [LocalResult(d, n, Evaluation(0, 0)) for d, n in zip(DELTAS, samples, strict=True)]
    codec, average = secure_average(results)
    expected = sum(n * d.astype(np.float64) for n, d in zip(samples, DELTAS, strict=True)) / sum(
        samples
    )
    assert average.total_weight == sum(samples)
    bound = codec.error_bound(len(results), average.total_weight)
    assert np.abs(average.mean_delta - expected).max() <= bound
    unweighted = np.mean(DELTAS, axis=0)
    assert np.abs(expected - unweighted).max() > 100 * bound  # the weights made a difference


def test_a_sample_count_above_max_samples_counts_as_max_samples() -> None:
    results = [
        LocalResult(DELTAS[0], 10 * MAX_SAMPLES, Evaluation(0, 0)),
        LocalResult(DELTAS[1], MAX_SAMPLES, Evaluation(0, 0)),
        LocalResult(DELTAS[2], MAX_SAMPLES, Evaluation(0, 0)),
    ]
    codec, average = secure_average(results)
    assert average.total_weight == 3 * MAX_SAMPLES
    expected = np.mean([d.astype(np.float64) for d in DELTAS[:3]], axis=0)
    assert np.abs(average.mean_delta - expected).max() <= codec.error_bound(3, 3 * MAX_SAMPLES)


def test_a_dropped_silos_weight_leaves_the_average() -> None:
    samples = [100, 300, 50, 550]
    results = [LocalResult(d, n, Evaluation(0, 0)) for d, n in zip(DELTAS, samples, strict=True)]
    codec, average = secure_average(results, drop=2)
    kept = [0, 2, 3]
    expected = sum(samples[i] * DELTAS[i].astype(np.float64) for i in kept) / sum(
        samples[i] for i in kept
    )
    assert average.total_weight == sum(samples[i] for i in kept)
    assert np.abs(average.mean_delta - expected).max() <= codec.error_bound(3, 900)


def test_deltas_are_clipped_to_the_declared_range_before_weighting() -> None:
    huge = np.full(64, 50.0, dtype=np.float32)
    results = [LocalResult(huge, 100, Evaluation(0, 0)) for _ in range(3)]
    _, average = secure_average(results)
    assert np.allclose(average.mean_delta, 1.0, atol=1e-3)  # clip is 1.0


def test_evaluation_counts_are_summed_exactly() -> None:
    evaluations = [Evaluation(40, 50), Evaluation(9, 10), Evaluation(70, 100)]
    results = [LocalResult(DELTAS[i], 10, e) for i, e in enumerate(evaluations)]
    _, average = secure_average(results)
    assert average.evaluation == Evaluation(119, 160)


def test_the_weight_slot_is_counted_in_the_overflow_check() -> None:
    codec = SecureFedAvg(Quantizer(1.0, 1 << 16, 32), max_samples=1 << 30)
    with pytest.raises(ConfigError, match="max_samples can overflow"):
        codec.check_capacity(4)
    with pytest.raises(ConfigError, match="quantization can overflow"):
        SecureFedAvg(Quantizer(1.0, 1 << 31, 32), 10).check_capacity(4)


def test_the_plain_reference_computes_the_same_average() -> None:
    samples = [100, 300, 50, 550]
    results = [LocalResult(d, n, Evaluation(1, 2)) for d, n in zip(DELTAS, samples, strict=True)]
    codec, secure = secure_average(results)
    plain = codec.plain_average(results)
    assert plain.total_weight == secure.total_weight
    assert plain.evaluation == secure.evaluation
    bound = codec.error_bound(4, secure.total_weight)
    assert np.abs(plain.mean_delta - secure.mean_delta).max() <= bound
