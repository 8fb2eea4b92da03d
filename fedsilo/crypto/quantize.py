"""Fixed-point quantization of float updates into integers mod 2^k.

``q(x) = floor((clip(x) + c) * (L - 1) / (2c) + U)`` with ``U`` uniform in
[0, 1) (stochastic rounding: unbiased, ``E[q] = `` the exact scaled value),
so ``q`` lies in ``[0, L - 1]``. The noise ``U`` is drawn from a keystream
seeded by the injected entropy. A sum of ``N`` quantized vectors
dequantizes as ``S * 2c / (L - 1) - N * c`` and is off by less than ``N``
steps of ``2c / (L - 1)`` per coordinate.

The sum can never wrap: :func:`check_no_overflow` requires
``n * L < 2^k`` before any round starts. NaN and infinities are refused,
never clipped: a diverged model must fail loudly, not be averaged in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fedsilo.crypto.entropy import Entropy
from fedsilo.crypto.prg import DEFAULT_CHUNK_WORDS, Keystream, UIntArray, word_dtype
from fedsilo.errors import ConfigError, QuantizationError

FloatArray = npt.NDArray[np.floating]


def check_no_overflow(silos: int, levels: int, bits: int) -> None:
    """Refuse parameters under which the sum of ``silos`` inputs could wrap mod 2^bits."""
    if silos * levels >= 1 << bits:
        raise ConfigError(
            f"quantization can overflow: {silos} silos x {levels} levels >= 2^{bits}; "
            f"lower the levels below {(1 << bits) // max(silos, 1)} or use a 64-bit modulus"
        )


@dataclass(frozen=True)
class Quantizer:
    """Stochastic fixed-point quantizer onto ``levels`` integers in [0, levels - 1]."""

    clip: float
    levels: int
    bits: int = 32

    def __post_init__(self) -> None:
        if not (math.isfinite(self.clip) and self.clip > 0):
            raise ConfigError(f"quantization clip must be a positive number, got {self.clip}")
        if self.levels < 2:
            raise ConfigError(f"quantization needs at least 2 levels, got {self.levels}")
        if self.levels > 1 << min(self.bits, 53):
            raise ConfigError(f"{self.levels} levels do not fit a {self.bits}-bit modulus")
        word_dtype(self.bits)

    @property
    def step(self) -> float:
        """The value of one quantization level, ``2c / (L - 1)``."""
        return 2 * self.clip / (self.levels - 1)

    def quantize(
        self,
        values: FloatArray,
        entropy: Entropy,
        chunk: int = DEFAULT_CHUNK_WORDS,
        *,
        weight: float = 1.0,
        out: UIntArray | None = None,
    ) -> UIntArray:
        """Clip ``values`` (1-D) to ``[-clip, clip]``, multiply by ``weight`` (in [0, 1], so
        the result stays in range), and stochastically round to integers, into ``out``
        if given. Weighting here, chunk by chunk, avoids full-size temporaries."""
        values = np.asarray(values)
        if values.ndim != 1 or not np.issubdtype(values.dtype, np.floating):
            raise QuantizationError("quantize takes a 1-D float vector")
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise QuantizationError(
                f"update holds {bad.size} non-finite values (first at index {bad[0]}: "
                f"{values[bad[0]]}); the local model diverged, nothing was sent"
            )
        if not 0.0 <= weight <= 1.0:
            raise QuantizationError(f"a weight of {weight} is outside [0, 1]")
        if out is None:
            out = np.empty(len(values), dtype=word_dtype(self.bits))
        elif out.shape != values.shape or out.dtype != word_dtype(self.bits):
            raise QuantizationError("the output array does not match the input's length and word")
        noise = Keystream(entropy.random_bytes(32), 32)
        scale = (self.levels - 1) / (2 * self.clip)
        work = np.empty(min(chunk, max(len(values), 1)), dtype=np.float64)
        draws = np.empty(len(work), dtype=np.uint32)
        for start in range(0, len(values), chunk):
            part = values[start : start + chunk]
            buf, u = work[: len(part)], draws[: len(part)]
            np.clip(part, -self.clip, self.clip, out=buf)
            if weight != 1.0:
                buf *= weight
            buf += self.clip
            buf *= scale
            noise.fill(u)
            buf += u * (1.0 / (1 << 32))
            np.floor(buf, out=buf)
            np.minimum(buf, self.levels - 1, out=buf)
            out[start : start + len(part)] = buf
        return out

    def dequantize_sum(self, total: UIntArray, count: int) -> npt.NDArray[np.float64]:
        """Turn the integer sum of ``count`` quantized vectors back into floats."""
        return total.astype(np.float64) * self.step - count * self.clip
