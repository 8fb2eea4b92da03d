"""What the aggregator sees of one silo is indistinguishable from uniform noise.

Fixed thresholds over many seeds: per-bit z-scores below 6, a 256-bin
chi-square (df 255) below 377 (p ~ 1e-6), and a two-sample chi-square
between the all-zero and the all-maximum input below the same bound. The
same tests must fail on unmasked input and on a mask reduced with modulo
bias, which shows that they have the power to detect a broken mask.
"""

from __future__ import annotations

import numpy as np
import pytest

from fedsilo.crypto.prg import UIntArray, keystream_words
from fedsilo.protocol.masking.messages import MaskedInput
from fedsilo.testing.adversary import Adversary
from fedsilo.testing.harness import make_federation, run_aggregation

WORDS = 1 << 16
SEEDS = range(8)
Z_LIMIT = 6.0
CHI2_LIMIT = 377.0  # chi-square, 255 degrees of freedom, p ~ 1e-6
FED = make_federation(3)
MAX = FED.params.quantizer.levels - 1


def bit_failures(y: UIntArray) -> list[int]:
    ones = ((y[:, None] >> np.arange(32, dtype=np.uint32)) & 1).sum(axis=0)
    z = (ones - len(y) / 2) / np.sqrt(len(y) / 4)
    return [int(b) for b in np.flatnonzero(np.abs(z) >= Z_LIMIT)]


def byte_histogram(y: UIntArray, shift: int) -> np.ndarray:
    return np.bincount(((y >> shift) & 0xFF).astype(np.int64), minlength=256).astype(float)


def chi2_uniform(y: UIntArray) -> float:
    """The larger of the chi-squares of the top and the bottom byte against uniform."""
    expected = len(y) / 256
    return max(float(((byte_histogram(y, s) - expected) ** 2 / expected).sum()) for s in (0, 24))


def chi2_two_sample(a: UIntArray, b: UIntArray) -> float:
    """The larger two-sample chi-square (top or bottom byte) between ``a`` and ``b``."""
    worst = 0.0
    for shift in (0, 24):
        ca, cb = byte_histogram(a, shift), byte_histogram(b, shift)
        keep = (ca + cb) > 0
        worst = max(worst, float(((ca[keep] - cb[keep]) ** 2 / (ca + cb)[keep]).sum()))
    return worst


def masked_view(value: int, seed: int) -> UIntArray:
    """The masked vector of silo 1 exactly as the aggregator receives it."""
    inputs = [np.full(WORDS, value, dtype=np.uint32) for _ in range(3)]
    adversary = Adversary()
    run_aggregation(FED, inputs, adversary=adversary, seed=seed)
    (y,) = [m.values for m in adversary.seen if isinstance(m, MaskedInput) and m.sender == 1]
    return y


@pytest.mark.parametrize("seed", SEEDS)
def test_masked_zero_and_max_inputs_look_uniform_and_alike(seed: int) -> None:
    zero, top = masked_view(0, seed), masked_view(MAX, seed + 1000)
    for y in (zero, top):
        assert bit_failures(y) == []
        assert chi2_uniform(y) < CHI2_LIMIT
    assert chi2_two_sample(zero, top) < CHI2_LIMIT


def test_the_uniformity_tests_fail_without_masking() -> None:
    zero = np.zeros(WORDS, dtype=np.uint32)
    top = np.full(WORDS, MAX, dtype=np.uint32)
    assert bit_failures(zero) != []
    assert chi2_uniform(top) > CHI2_LIMIT
    assert chi2_two_sample(zero, top) > CHI2_LIMIT


def test_the_uniformity_tests_fail_on_a_mask_with_modulo_bias() -> None:
    # A tempting mistake: drawing the mask from a 32-bit word reduced mod a non-power of two.
    for seed in SEEDS:
        words = keystream_words(seed.to_bytes(32, "big"), 32, WORDS)
        biased = (words % np.uint32(3 << 30)).astype(np.uint32)
        assert chi2_uniform(biased) > CHI2_LIMIT
        assert chi2_two_sample(biased, keystream_words(bytes(32), 32, WORDS)) > CHI2_LIMIT
