"""The unmasked sum equals the survivors' quantized sum bit for bit."""

from __future__ import annotations

from typing import cast

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fedsilo.crypto.prg import UIntArray
from fedsilo.protocol.masking.messages import Stage
from fedsilo.testing.entropy import SeededEntropy
from fedsilo.testing.harness import make_federation, random_inputs, run_aggregation
from tests.protocol.helpers import plain_sum


@given(
    n=st.integers(3, 8),
    length=st.integers(1, 3000),
    bits=st.sampled_from([32, 64]),
    seed=st.integers(0, 2**32),
    scale=st.sampled_from([1e-6, 0.1, 1.0, 10.0]),
    chunk=st.sampled_from([7, 64, 1 << 16]),
)
def test_unmasked_sum_is_exact_and_dequantizes_within_n_steps(
    n: int, length: int, bits: int, seed: int, scale: float, chunk: int
) -> None:
    fed = make_federation(n, bits=bits, levels=1 << 16, clip=1.0)
    q = fed.params.quantizer
    rng = np.random.default_rng(seed)
    floats = [np.clip(rng.normal(0, scale, length), -1, 1).astype(np.float32) for _ in range(n)]
    inputs = [q.quantize(x, SeededEntropy(seed, i)) for i, x in enumerate(floats)]
    run = run_aggregation(fed, inputs, seed=seed, chunk_words=chunk)
    assert run.result is not None
    members = range(1, n + 1)
    assert np.array_equal(run.result.total, plain_sum(inputs, members, bits))
    float_sum = np.sum(np.array(floats, dtype=np.float64), axis=0)
    assert np.all(np.abs(q.dequantize_sum(run.result.total, n) - float_sum) <= n * q.step)


@given(
    n=st.integers(3, 7),
    extreme=st.sampled_from(["zero", "max"]),
    bits=st.sampled_from([32, 64]),
)
def test_extreme_inputs_sum_exactly_without_wrapping(n: int, extreme: str, bits: int) -> None:
    levels = (1 << 32) // 8 - 1 if bits == 32 else 1 << 40
    fed = make_federation(n, bits=bits, levels=levels)
    dtype = np.uint32 if bits == 32 else np.uint64
    value = 0 if extreme == "zero" else levels - 1
    inputs = [cast(UIntArray, np.full(257, value, dtype=dtype)) for _ in range(n)]
    run = run_aggregation(fed, inputs)
    assert run.result is not None
    assert [int(v) for v in run.result.total] == [n * value] * 257


@given(n=st.integers(4, 7), data=st.data())
def test_survivors_sum_is_exact_under_random_dropouts(n: int, data: st.DataObject) -> None:
    fed = make_federation(n)
    t = fed.params.threshold
    dropped = data.draw(st.sets(st.integers(1, n), max_size=n - t))
    tolerated = [s for s in Stage if s is not Stage.CONSISTENCY_CHECK]  # see test_dropouts
    drop_at = {i: data.draw(st.sampled_from(tolerated)) for i in dropped}
    inputs = random_inputs(fed, 300, seed=n)
    run = run_aggregation(fed, inputs, drop_at=drop_at)
    early = {Stage.ADVERTISE_KEYS, Stage.SHARE_KEYS, Stage.SHARE_CHECK, Stage.MASKED_INPUT}
    survivors = [i for i in range(1, n + 1) if drop_at.get(i) not in early]
    assert run.result is not None
    assert list(run.result.survivors) == survivors
    assert np.array_equal(run.result.total, plain_sum(inputs, survivors, 32))
