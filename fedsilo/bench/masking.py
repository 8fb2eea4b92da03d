"""Benchmark of one masked aggregation round, in memory.

Every figure is measured in the same run as the floor it is compared with:

* ``plain_seconds``: the same round with no protection (the float sum);
* ``mask_floor_seconds``: quantizing one vector plus drawing the keystream
  words one silo needs (its self mask and one pair mask per other silo):
  the physical floor of masking;
* ``unmask_floor_seconds``: drawing the keystreams the aggregator must
  remove (every survivor's self mask, and each dropped silo's pair masks
  with every survivor).

With ``repeat > 1`` the repetitions are interleaved (plain, secure, floors,
plain, ...) and medians are reported, because this machine is shared and
noisy.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from fedsilo.crypto.entropy import SystemEntropy
from fedsilo.crypto.prg import DEFAULT_CHUNK_WORDS, Keystream, UIntArray
from fedsilo.errors import ConfigError
from fedsilo.testing.adversary import KeepsNothing
from fedsilo.testing.harness import Federation, make_federation, run_aggregation

LEVELS = 1 << 16
CLIP = 1.0


@dataclass(frozen=True)
class MaskingBenchResult:
    """One line of benchmark output (the JSON object of ``fedsilo bench --json``)."""

    scheme: str
    transport: str
    silos: int
    params: int
    dropouts: int
    repeat: int
    threshold: int
    round_seconds: float
    plain_seconds: float
    overhead_ratio: float
    silo_mask_seconds: float
    mask_floor_seconds: float
    mask_ratio: float
    aggregator_seconds: float
    unmask_floor_seconds: float
    aggregator_ratio: float
    exact: bool
    max_abs_error: float
    peak_rss_mb: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _timed(step: Callable[[], object]) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def _draw_keystreams(count: int, length: int) -> None:
    """Draw ``count`` keystreams of ``length`` words into one reused chunk buffer."""
    scratch = np.empty(min(DEFAULT_CHUNK_WORDS, length), dtype=np.uint32)
    streams = [Keystream(bytes([i % 256]) * 32, 32) for i in range(count)]
    for start in range(0, length, DEFAULT_CHUNK_WORDS):
        pad = scratch[: min(DEFAULT_CHUNK_WORDS, length - start)]
        for stream in streams:
            stream.fill(pad)


def _plain_round(floats: list[npt.NDArray[np.float32]]) -> npt.NDArray[np.float32]:
    total = np.zeros_like(floats[0])
    for vector in floats:
        np.add(total, vector, out=total)
    return total


@dataclass
class _Sample:
    round: float
    plain: float
    silo_mask: float
    mask_floor: float
    aggregator: float
    unmask_floor: float
    exact: bool
    max_abs_error: float


def _one_repetition(
    fed: Federation, floats: list[npt.NDArray[np.float32]], dropouts: int, seed: int
) -> _Sample:
    n, length = fed.roster.size, len(floats[0])
    quantizer = fed.params.quantizer
    dropped = set(range(n - dropouts + 1, n + 1))
    survivors = [i for i in range(1, n + 1) if i not in dropped]
    plain = _timed(lambda: _plain_round(floats))
    entropy = SystemEntropy()
    start = time.perf_counter()
    quantize_times, inputs = [], []
    for vector in floats:
        t0 = time.perf_counter()
        inputs.append(quantizer.quantize(vector, entropy))
        quantize_times.append(time.perf_counter() - t0)
    run = run_aggregation(
        fed,
        inputs,
        drop_at=dict.fromkeys(dropped, "masked-input"),
        adversary=KeepsNothing(),
        seed=seed,
        clock=time.perf_counter,
    )
    round_seconds = time.perf_counter() - start
    if run.result is None:
        raise ConfigError(f"the benchmark round aborted: {run.aggregator_error}")
    mask_steps = [
        relay + mask
        for relay, mask in zip(
            run.timings["silo:ShareRelay"], run.timings["silo:mask"], strict=False
        )
    ]
    silo_mask = statistics.median(q + m for q, m in zip(quantize_times, mask_steps, strict=False))
    mask_floor = _timed(lambda: quantizer.quantize(floats[0], entropy)) + _timed(
        lambda: _draw_keystreams(n, length)
    )
    unmask_floor = _timed(lambda: _draw_keystreams(len(survivors) * (1 + len(dropped)), length))
    expected = _exact_sum(inputs, survivors)
    float_sum = np.zeros(length, dtype=np.float64)
    for i in survivors:
        float_sum += floats[i - 1]
    error = np.abs(quantizer.dequantize_sum(run.result.total, len(survivors)) - float_sum)
    return _Sample(
        round=round_seconds,
        plain=plain,
        silo_mask=silo_mask,
        mask_floor=mask_floor,
        aggregator=sum(run.timings["aggregator"]),
        unmask_floor=unmask_floor,
        exact=bool(np.array_equal(run.result.total, expected)),
        max_abs_error=float(error.max()),
    )


def _exact_sum(inputs: list[UIntArray], members: list[int]) -> UIntArray:
    total = np.zeros(len(inputs[0]), dtype=np.uint64)
    for i in members:
        total += inputs[i - 1]
    return (total % (1 << 32)).astype(np.uint32)


def run_masking_bench(
    silos: int, params: int, dropouts: int = 0, repeat: int = 1, seed: int = 0
) -> MaskingBenchResult:
    """Run the in-memory masking benchmark and return its figures."""
    if params < 1:
        raise ConfigError(f"--params must be positive, got {params}")
    if repeat < 1:
        raise ConfigError(f"--repeat must be positive, got {repeat}")
    fed = make_federation(silos, colluders=0, levels=LEVELS, clip=CLIP)
    t = fed.params.threshold
    if not 0 <= dropouts <= silos - t:
        raise ConfigError(
            f"--dropouts must be between 0 and n - t = {silos - t} for {silos} silos (t = {t})"
        )
    rng = np.random.default_rng(seed)
    # inside the clip range, so max_abs_error measures quantization, not clipping
    floats = [rng.uniform(-CLIP, CLIP, params).astype(np.float32) for _ in range(silos)]
    samples = [_one_repetition(fed, floats, dropouts, seed + r) for r in range(repeat)]

    def med(attr: str) -> float:
        return float(statistics.median(getattr(s, attr) for s in samples))

    return MaskingBenchResult(
        scheme="masking",
        transport="memory",
        silos=silos,
        params=params,
        dropouts=dropouts,
        repeat=repeat,
        threshold=t,
        round_seconds=med("round"),
        plain_seconds=med("plain"),
        overhead_ratio=med("round") / med("plain"),
        silo_mask_seconds=med("silo_mask"),
        mask_floor_seconds=med("mask_floor"),
        mask_ratio=med("silo_mask") / med("mask_floor"),
        aggregator_seconds=med("aggregator"),
        unmask_floor_seconds=med("unmask_floor"),
        aggregator_ratio=med("aggregator") / (2 * med("unmask_floor") + med("plain")),
        exact=all(s.exact for s in samples),
        max_abs_error=max(s.max_abs_error for s in samples),
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
