"""Parameters of a masking session and the rules that make them safe.

* ``n >= 3``;
* ``2t > n + n_C``: otherwise the aggregator can show two disjoint groups of
  honest silos different survivor lists and collect, for one silo, both its
  self-mask shares and its mask-key shares;
* ``t >= max(3, n_C + 2)``: every silo sees the aggregate and can subtract
  its own update, so at least three survivors must remain, at least two of
  them honest beyond the colluders;
* ``n * levels < 2^k``: the sum can never wrap.

The default threshold is ``floor(2n/3) + 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

from fedsilo.crypto.quantize import Quantizer, check_no_overflow
from fedsilo.crypto.sketch import SPOT_CHECKS
from fedsilo.errors import ConfigError

MAX_SILOS = 255  # the non-wrapped sum Y keeps one carry byte per word


def default_threshold(silos: int) -> int:
    """``floor(2n/3) + 1``: tolerates a third of the silos dropping."""
    return 2 * silos // 3 + 1


def check_thresholds(silos: int, threshold: int, colluders: int) -> None:
    """Raise :class:`ConfigError` naming the first violated threshold rule."""
    if silos < 3:
        raise ConfigError(f"threshold.minimum-silos: a federation needs n >= 3 silos, got {silos}")
    if colluders < 0:
        raise ConfigError(f"threshold.colluders: n_C cannot be negative, got {colluders}")
    if threshold > silos:
        raise ConfigError(f"threshold.range: t = {threshold} exceeds the n = {silos} silos")
    if 2 * threshold <= silos + colluders:
        raise ConfigError(
            f"threshold.majority: need 2t > n + n_C, got 2*{threshold} <= {silos} + {colluders}; "
            f"raise t to at least {(silos + colluders) // 2 + 1} or declare fewer colluders"
        )
    floor = max(3, colluders + 2)
    if threshold < floor:
        raise ConfigError(
            f"threshold.survivors: need t >= max(3, n_C + 2) = {floor}, got t = {threshold}"
        )


@dataclass(frozen=True)
class MaskingParams:
    """Threshold, declared colluders and quantization of one federation."""

    silos: int
    threshold: int
    colluders: int
    quantizer: Quantizer
    spot_checks: int = SPOT_CHECKS  # Merkle leaves of every y_u checked against Y at release

    def __post_init__(self) -> None:
        check_thresholds(self.silos, self.threshold, self.colluders)
        check_no_overflow(self.silos, self.quantizer.levels, self.quantizer.bits)
        if self.silos > MAX_SILOS:
            raise ConfigError(f"at most {MAX_SILOS} silos can be summed, got {self.silos}")
        if self.spot_checks < 1:
            raise ConfigError(f"release spot checks must be at least 1, got {self.spot_checks}")

    @classmethod
    def with_defaults(
        cls, silos: int, colluders: int, quantizer: Quantizer, threshold: int | None = None
    ) -> MaskingParams:
        """Parameters with the default threshold unless one is given."""
        t = default_threshold(silos) if threshold is None else threshold
        return cls(silos=silos, threshold=t, colluders=colluders, quantizer=quantizer)

    @property
    def bits(self) -> int:
        return self.quantizer.bits
