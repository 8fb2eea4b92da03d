"""Decoding a released sum is elementwise float64: every party gets the same bits."""

from __future__ import annotations

import numpy as np
import pytest

from fedsilo.crypto.quantize import Quantizer
from fedsilo.training.weighted import SecureFedAvg

MAX_SAMPLES = 1000


@pytest.mark.parametrize("bits", [32, 64])
def test_decoding_is_elementwise_float64_so_every_party_gets_the_same_bits(bits: int) -> None:
    # Each coordinate of the mean delta depends on that coordinate of the sum and the
    # slots only (no reduction over the vector), through a fixed sequence of float64
    # operations: the bits cannot depend on the vector's length, chunking or SIMD width.
    quantizer = Quantizer(1.0, 1 << 16, bits)
    codec = SecureFedAvg(quantizer, max_samples=MAX_SAMPLES)
    rng = np.random.default_rng(3)
    words = rng.integers(0, 5 * (quantizer.levels - 1) + 1, 1001).astype(
        np.uint32 if bits == 32 else np.uint64
    )
    weight = 5 * MAX_SAMPLES  # five silos at full weight: any value words are plausible
    slots = np.array([weight, 10, 20], dtype=words.dtype)
    mean = codec.decode(np.concatenate([words, slots]), 5).mean_delta
    assert mean.dtype == np.float64
    one_by_one = [
        codec.decode(np.concatenate([words[i : i + 1], slots]), 5).mean_delta[0]
        for i in range(0, len(words), 97)
    ]
    assert np.array(one_by_one).tobytes() == mean[::97].tobytes()
    expected = (words.astype(np.float64) * quantizer.step - 5 * quantizer.clip) * (
        MAX_SAMPLES / weight
    )
    assert expected.tobytes() == mean.tobytes()
