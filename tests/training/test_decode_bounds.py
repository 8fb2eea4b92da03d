"""Decoding checks the sum: a verified sum that honest encodings cannot add up to (a
forged weight, impossible evaluation counts, a value word above its range) is refused,
so a modified silo cannot wrap the weight or blow up the average."""

from __future__ import annotations

import numpy as np
import pytest

from fedsilo.crypto.quantize import Quantizer
from fedsilo.errors import ImplausibleSumError, QuantizationError
from fedsilo.testing.entropy import SeededEntropy
from fedsilo.training.task import Evaluation
from fedsilo.training.weighted import SLOTS, LocalResult, SecureFedAvg

LEVELS, MAX_SAMPLES, SILOS, PARAMS = 1 << 16, 1000, 4, 32
CODEC = SecureFedAvg(Quantizer(1.0, LEVELS, 32), MAX_SAMPLES)


def honest(i: int) -> np.ndarray:
    delta = np.full(PARAMS, 0.1 * i, dtype=np.float32)
    return CODEC.encode(LocalResult(delta, 100 + i, Evaluation(3, 5)), SeededEntropy("q", i))


def released_sum(inputs: list[np.ndarray]) -> np.ndarray:
    """What a session releases for these vectors: their sum mod 2^32. (A modified silo
    skips the input checks our silo makes, so the sum is formed here directly; that
    masking releases exactly this sum is tested in tests/protocol.)"""
    total = np.zeros_like(inputs[0])
    for vector in inputs:
        total += vector  # uint32: wraps mod 2^32
    return total


def with_slot(vector: np.ndarray, slot: str, value: int) -> np.ndarray:
    forged = vector.copy()
    forged[len(forged) - len(SLOTS) + SLOTS.index(slot)] = np.uint32(value % 2**32)
    return forged


def test_an_honest_sum_decodes() -> None:
    total = released_sum([honest(i) for i in range(1, SILOS + 1)])
    average = CODEC.decode(total, SILOS)
    assert average.total_weight == sum(min(100 + i, MAX_SAMPLES) for i in range(1, SILOS + 1))
    assert average.evaluation == Evaluation(3 * SILOS, 5 * SILOS)


def test_a_weight_slot_a_modified_silo_made_wrap_is_refused() -> None:
    # the demo's attack: weight 2^32 - (sum of the others) + 1 wraps the summed weight to 1
    inputs = [honest(i) for i in range(1, SILOS + 1)]
    others = sum(100 + i for i in range(2, SILOS + 1))
    inputs[0] = with_slot(inputs[0], "samples", 2**32 - others + 1)
    total = released_sum(inputs)
    assert int(total[-len(SLOTS)]) == 1  # the wrapped weight the silos would divide by
    with pytest.raises(ImplausibleSumError, match=r"weight 1 is outside \[4, 4000\]"):
        CODEC.decode(total, SILOS)


def test_a_weight_above_the_survivors_max_samples_is_refused() -> None:
    inputs = [honest(i) for i in range(1, SILOS + 1)]
    inputs[0] = with_slot(inputs[0], "samples", 10 * MAX_SAMPLES)
    with pytest.raises(ImplausibleSumError, match="forged weight"):
        CODEC.decode(released_sum(inputs), SILOS)


def test_a_sum_of_weight_zero_is_refused() -> None:
    zero = np.zeros(PARAMS + len(SLOTS), dtype=np.uint32)
    with pytest.raises(ImplausibleSumError, match="weight 0"):
        CODEC.decode(zero, 3)


def test_more_correct_than_examples_is_refused() -> None:
    inputs = [honest(i) for i in range(1, SILOS + 1)]
    inputs[0] = with_slot(inputs[0], "eval_correct", 1000)
    with pytest.raises(ImplausibleSumError, match="evaluation counts"):
        CODEC.decode(released_sum(inputs), SILOS)


def test_more_examples_than_the_survivors_can_hold_is_refused() -> None:
    inputs = [honest(i) for i in range(1, SILOS + 1)]
    inputs[0] = with_slot(inputs[0], "eval_examples", 2**31)
    with pytest.raises(ImplausibleSumError, match="evaluation counts"):
        CODEC.decode(released_sum(inputs), SILOS)


def test_a_value_word_above_the_bound_is_refused_naming_it() -> None:
    inputs = [honest(i) for i in range(1, SILOS + 1)]
    inputs[0][7] = np.uint32(2**31)  # far outside [0, levels)
    with pytest.raises(ImplausibleSumError, match=r"value word 7 .* above 262140"):
        CODEC.decode(released_sum(inputs), SILOS)


def full_weight(i: int) -> np.ndarray:
    delta = np.full(PARAMS, 0.1 * i, dtype=np.float32)
    result = LocalResult(delta, MAX_SAMPLES, Evaluation(3, 5))
    return CODEC.encode(result, SeededEntropy("q", i))


def test_a_value_word_at_the_bound_decodes() -> None:
    inputs = [full_weight(i) for i in range(1, SILOS + 1)]
    for vector in inputs:
        vector[0] = LEVELS - 1  # every silo at the top of its range, at full weight
    average = CODEC.decode(released_sum(inputs), SILOS)
    assert average.mean_delta[0] > 0


def test_a_weight_slot_wrapped_to_shrink_the_weight_under_its_values_is_refused() -> None:
    # one modified silo makes the summed weight exactly one per silo and its own values the
    # largest words: every bound on words and slots holds, but the decoded mean would be
    # ~clip x max_samples per coordinate; the joint bound refuses it
    inputs = [honest(i) for i in range(1, SILOS + 1)]
    others = sum(100 + i for i in range(2, SILOS + 1))
    inputs[0] = with_slot(inputs[0], "samples", SILOS - others)
    inputs[0][:PARAMS] = LEVELS - 1
    total = released_sum(inputs)
    assert int(total[-len(SLOTS)]) == SILOS
    with pytest.raises(ImplausibleSumError, match="does not match its values"):
        CODEC.decode(total, SILOS)


def test_a_silo_with_no_training_samples_cannot_encode_a_contribution() -> None:
    result = LocalResult(np.zeros(PARAMS, np.float32), 0, Evaluation(0, 0))
    with pytest.raises(QuantizationError, match="at least one sample"):
        CODEC.encode(result, SeededEntropy("q", 0))
