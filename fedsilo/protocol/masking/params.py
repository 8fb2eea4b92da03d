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

How a silo checks a released sum ``Y`` (``scheme.release_verification``) is
resolved here too, from the config value and the vector length
(:func:`resolve_full_verification`): ``full`` has every silo fetch every survivor's
masked vector and add them up itself; ``sketch`` checks ``Y`` by a linear
sketch and spot checks (:mod:`.release`); ``auto`` is ``full`` up to
:data:`FULL_VERIFICATION_MAX_WORDS` words and ``sketch`` above.
"""

from __future__ import annotations

from dataclasses import dataclass

from fedsilo.crypto import group
from fedsilo.crypto.quantize import Quantizer, check_no_overflow
from fedsilo.crypto.sketch import SPOT_CHECKS
from fedsilo.errors import ConfigError

MAX_SILOS = 255  # the non-wrapped sum Y keeps one carry byte per word
RELEASE_VERIFICATIONS = ("auto", "full", "sketch")
# At 2^20 words full verification costs a silo n * 4 MiB more download and ~18 ms of hashing
# per survivor (measured: docs/protocol-masking.md); ten times that, sketch is the better
# default. The digest covers "auto", so the limit is part of what "auto" means: another
# limit needs another config value, never a silent change here.
FULL_VERIFICATION_MAX_WORDS = 1 << 20
# Every silo receives every other dealer's Feldman commitments (2t group elements each) in
# one relay message; the transport carries at most 2 MiB per message. Until they stream,
# that bounds n (about 60 silos at the default threshold).
MAX_RELAYED_COMMITMENT_BYTES = 3 << 19  # 1.5 MiB


def resolve_full_verification(setting: str, vector_length: int) -> bool:
    """Whether ``scheme.release_verification: setting`` means full verification for a masked
    vector of ``vector_length`` words (model parameters plus slots): ``auto`` is full up to
    :data:`FULL_VERIFICATION_MAX_WORDS` words. Raises :class:`ConfigError` on a bad value."""
    if setting not in RELEASE_VERIFICATIONS:
        raise ConfigError(
            f"scheme.release_verification: must be one of {', '.join(RELEASE_VERIFICATIONS)}, "
            f"got {setting!r}"
        )
    if vector_length < 1:
        raise ConfigError(f"the vector length must be positive, got {vector_length}")
    if setting == "auto":
        return vector_length <= FULL_VERIFICATION_MAX_WORDS
    return setting == "full"


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
    # every silo checks Y against every survivor's y_u (see resolve_full_verification()); the
    # default keeps sketch mode for callers that do not resolve the config's setting
    full_verification: bool = False
    # the config's min_silos: no stage goes on, no view is signed and nothing is released
    # with fewer than max(t, min_silos) silos (the quorum); 0 leaves the threshold alone
    min_silos: int = 0

    def __post_init__(self) -> None:
        check_thresholds(self.silos, self.threshold, self.colluders)
        check_no_overflow(self.silos, self.quantizer.levels, self.quantizer.bits)
        if self.silos > MAX_SILOS:
            raise ConfigError(f"at most {MAX_SILOS} silos can be summed, got {self.silos}")
        if self.spot_checks < 1:
            raise ConfigError(f"release spot checks must be at least 1, got {self.spot_checks}")
        relay = self.silos * 2 * self.threshold * group.ELEMENT_BYTES
        if relay > MAX_RELAYED_COMMITMENT_BYTES:
            raise ConfigError(
                f"threshold.size: {self.silos} silos at t = {self.threshold} would relay "
                f"{relay / 2**20:.1f} MiB of sharing commitments to every silo, above the "
                f"{MAX_RELAYED_COMMITMENT_BYTES / 2**20:.1f} MiB a message may carry; "
                "use fewer silos per federation (or a lower t, within the rules)"
            )
        if not 0 <= self.min_silos <= self.silos:
            raise ConfigError(
                f"min_silos: {self.min_silos} silos can never take part in a federation of "
                f"{self.silos}; set min_silos between {self.threshold} and {self.silos}"
            )

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

    @property
    def quorum(self) -> int:
        """``max(t, min_silos)``: the fewest silos any stage may go on with."""
        return max(self.threshold, self.min_silos)
