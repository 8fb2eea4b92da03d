"""Secure weighted FedAvg: what a silo puts into the masked vector, and how the sum decodes.

A silo's vector is ``[q(w' * clip(delta)), w, correct, examples]``:

* ``delta`` is clipped per coordinate to the declared range ``[-c, c]``
  (``scheme.quantization.clip``);
* ``w = min(samples, max_samples)`` is its declared weight, and
  ``w' = w / max_samples`` lies in ``[0, 1]``, so the weighted delta stays
  within the same declared range and is quantized there;
* ``w`` and the evaluation counts of the global model on the silo's
  held-out split are exact integer slots.

The aggregator unmasks only the sum. ``sum(w' * delta) / sum(w')`` equals
``sum(w * delta) / sum(w)``, the weighted mean, off by less than
``count * step / sum(w')`` per coordinate (see :meth:`SecureFedAvg.error_bound`).
Both parts are counted in the overflow check: ``n * levels`` and
``n * max_samples`` must each stay below ``2^bits``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fedsilo.crypto.entropy import Entropy
from fedsilo.crypto.prg import UIntArray, word_dtype
from fedsilo.crypto.quantize import Quantizer, check_no_overflow
from fedsilo.errors import ConfigError, ImplausibleSumError, QuantizationError
from fedsilo.training.task import Evaluation

SLOTS = ("samples", "eval_correct", "eval_examples")
FloatVector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class LocalResult:
    """What local training produced: the delta, the samples it used, and the evaluation of
    the global model it started from."""

    delta: FloatVector
    samples: int
    evaluation: Evaluation


@dataclass(frozen=True)
class WeightedAverage:
    """The decoded aggregate of one round."""

    mean_delta: npt.NDArray[np.float64]
    total_weight: int
    evaluation: Evaluation
    contributors: int


@dataclass(frozen=True)
class SecureFedAvg:
    """Encodes local results into integer vectors and decodes their sum."""

    quantizer: Quantizer
    max_samples: int

    def check_capacity(self, silos: int) -> None:
        """Refuse parameters under which any part of the sum could wrap."""
        check_no_overflow(silos, self.quantizer.levels, self.quantizer.bits)
        if silos * self.max_samples >= 1 << self.quantizer.bits:
            raise ConfigError(
                f"max_samples can overflow: {silos} silos x {self.max_samples} >= "
                f"2^{self.quantizer.bits}; lower training.max_samples or use a 64-bit modulus"
            )

    @staticmethod
    def vector_length(parameters: int) -> int:
        return parameters + len(SLOTS)

    @staticmethod
    def parameters(vector_length: int) -> int:
        return vector_length - len(SLOTS)

    def weight(self, samples: int) -> int:
        if samples < 1:
            raise QuantizationError(
                f"a silo trains on at least one sample to contribute, got {samples}"
            )
        return min(samples, self.max_samples)

    def _slots(self, result: LocalResult) -> list[int]:
        e = result.evaluation
        examples = min(e.examples, self.max_samples)
        correct = e.correct if examples == e.examples else round(e.correct * examples / e.examples)
        if not 0 <= correct <= examples:
            raise QuantizationError(f"evaluation counts out of range ({e.correct}/{e.examples})")
        return [self.weight(result.samples), correct, examples]

    def weighted_delta(self, result: LocalResult) -> npt.NDArray[np.float64]:
        """``w' * clip(delta)``: the float vector the quantized part encodes."""
        clip = self.quantizer.clip
        clipped = np.clip(result.delta.astype(np.float64), -clip, clip)
        return clipped * (self.weight(result.samples) / self.max_samples)

    def encode(self, result: LocalResult, entropy: Entropy) -> UIntArray:
        """The silo's integer vector (quantized with entropy, never leaves unmasked)."""
        n = len(result.delta)
        out = np.empty(n + len(SLOTS), dtype=word_dtype(self.quantizer.bits))
        weight = self.weight(result.samples) / self.max_samples
        self.quantizer.quantize(result.delta, entropy, weight=weight, out=out[:n])
        out[n:] = self._slots(result)
        return out

    def decode(self, total: UIntArray, count: int) -> WeightedAverage:
        """Decode the released sum of ``count`` silos' vectors.

        Elementwise float64 in a fixed order (per coordinate: ``S * step``, ``- count * c``,
        ``* (max_samples / weight)``, the scalars computed once), with no reduction over the
        vector: every party that decodes the same sum gets the same bits, which the server
        step and ``H_r`` rely on.

        First :meth:`check_sum`: a sum outside the bounds of honest encodings is refused."""
        weighted = self._plausible_weighted_sum(total, count)
        weight, correct, examples = (int(v) for v in total[-len(SLOTS) :])
        mean = weighted * (self.max_samples / weight)
        return WeightedAverage(mean, weight, Evaluation(correct, examples), count)

    def check_sum(self, total: UIntArray, count: int) -> None:
        """Refuse (:class:`~fedsilo.errors.ImplausibleSumError`) a sum of ``count`` vectors that
        ``count`` honest encodings cannot add up to: every weight is in ``[1, max_samples]``,
        every silo's ``correct <= examples <= max_samples``, and every value word is below
        ``levels``. A modified silo can still move the sum anywhere *within* these bounds:
        masking does not prove one input valid (``docs/threat-model.md``).

        And jointly with the weight: each silo's dequantized value is ``w'·Δ`` within a
        rounding step, ``|w'·Δ| <= c·w'``, so ``|Σ| <= c·W / max_samples + 3·count·step`` per
        coordinate (three steps of slack per silo). Without that, a silo wrapping its weight
        slot to make ``W`` small could scale the decoded mean far beyond the clip; with it the
        mean stays within ``c·(1 + 6·max_samples / (levels - 1))``."""
        self._plausible_weighted_sum(total, count)

    def _plausible_weighted_sum(self, total: UIntArray, count: int) -> npt.NDArray[np.float64]:
        """The dequantized value sum, once every check of :meth:`check_sum` has passed."""
        if count < 1 or len(total) <= len(SLOTS):
            raise ImplausibleSumError(
                f"a sum of {count} vectors of {len(total)} words has no values to decode"
            )
        weight, correct, examples = (int(v) for v in total[-len(SLOTS) :])
        most = count * self.max_samples
        if not count <= weight <= most:
            raise ImplausibleSumError(
                f"the sum's weight {weight} is outside [{count}, {most}] for {count} silos "
                f"of at most {self.max_samples} samples: a silo sent a forged weight; the "
                "round is not applied"
            )
        if not correct <= examples <= most:
            raise ImplausibleSumError(
                f"the sum's evaluation counts ({correct} correct of {examples}) are impossible "
                f"for {count} silos of at most {self.max_samples} examples: a silo sent forged "
                "counts; the round is not applied"
            )
        values = total[: -len(SLOTS)]
        bound = count * (self.quantizer.levels - 1)
        top = int(values.max())
        if top > bound:
            word = int(np.argmax(values))
            raise ImplausibleSumError(
                f"value word {word} of the sum is {top}, above {bound} = {count} silos x "
                f"(levels - 1): a silo sent values outside its quantization range; the round "
                "is not applied"
            )
        # An honest silo's dequantized value is w'·Δ within its rounding, |w'·Δ| <= c·w', so
        # |Σ| <= c·W/max_samples + slack per coordinate; the slack allows three steps per
        # silo (a stochastic rounding step, and float64 rounding near 2^53 levels).
        q = self.quantizer
        weighted = q.dequantize_sum(values, count)
        limit = (q.clip * weight / self.max_samples + 3.0 * count * q.step) * (1 + 1e-12)
        magnitude = np.abs(weighted)
        largest = float(magnitude.max())
        if largest > limit:
            coordinate = int(np.argmax(magnitude))
            raise ImplausibleSumError(
                f"coordinate {coordinate} of the sum is {largest:.6g}, beyond the {limit:.6g} "
                f"that {count} silos of summed weight {weight} can reach within the clip "
                f"{q.clip}: a silo sent a weight that does not match its values; the round is "
                "not applied"
            )
        return weighted

    def error_bound(self, count: int, total_weight: int) -> float:
        """A per-coordinate bound on the decoded mean's quantization error."""
        return count * self.quantizer.step * self.max_samples / max(total_weight, 1)

    def plain_average(self, results: list[LocalResult]) -> WeightedAverage:
        """The same weighted average computed in the clear (a reference for tests and demos)."""
        weights = [self.weight(r.samples) for r in results]
        total = sum(weights)
        weighted = np.sum([self.weighted_delta(r) for r in results], axis=0)
        mean = weighted * (self.max_samples / total) if total else np.zeros_like(weighted)
        slots = np.array([self._slots(r) for r in results]).sum(axis=0)
        return WeightedAverage(mean, total, Evaluation(int(slots[1]), int(slots[2])), len(results))
