"""Parameters of a masking session and the rules that make them safe.

* the t-of-n rules every threshold scheme shares (:mod:`fedsilo.protocol.thresholds`);
* ``n * levels < 2^k`` and ``n * max_samples < 2^k``: the sum can never wrap;
* at most :data:`MAX_SILOS` silos, and sharing commitments that fit one relay.

Each rule is one :class:`~fedsilo.protocol.scheme.Finding`-producing function
here, read by the auditor and the nodes alike; :class:`MaskingParams` refuses
to exist unless they pass.

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
from fedsilo.protocol.scheme import Finding, fails, passes, raise_first_failure
from fedsilo.protocol.thresholds import default_threshold, threshold_findings

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


def check_thresholds(silos: int, threshold: int, colluders: int) -> None:
    """Raise :class:`ConfigError` naming the first violated threshold rule."""
    raise_first_failure(threshold_findings(silos, threshold, colluders))


def overflow_finding(silos: int, levels: int, bits: int, max_samples: int) -> Finding:
    """``n x levels`` and ``n x max_samples`` stay below ``2^bits``: no part of the sum wraps."""
    weights = silos * max_samples
    if weights >= 1 << bits:
        return fails(
            "quantization.overflow",
            f"n x max_samples = {weights} >= 2^{bits}: the summed weight wraps",
            f"lower training.max_samples below {(1 << bits) // silos} or use modulus_bits: 64",
        )
    if silos * levels >= 1 << bits:
        return fails(
            "quantization.overflow",
            f"n x levels = {silos * levels} >= 2^{bits}: the sum wraps",
            f"use fewer levels (< {(1 << bits) // silos}) or modulus_bits: 64",
        )
    return passes(
        "quantization.overflow",
        f"n x levels = {silos * levels} and n x max_samples = {weights} < 2^{bits}",
    )


def size_findings(silos: int, threshold: int) -> list[Finding]:
    """At most :data:`MAX_SILOS` silos, and every dealer's commitments fit one relay."""
    relay = silos * 2 * threshold * group.ELEMENT_BYTES
    return [
        passes("roster.size", f"{silos} silos (at most {MAX_SILOS} can be summed)")
        if silos <= MAX_SILOS
        else fails(
            "roster.size",
            f"at most {MAX_SILOS} silos can be summed, got {silos}",
            "split the federation",
        ),
        passes(
            "threshold.size",
            f"{relay / 2**20:.2f} MiB of sharing commitments per relay "
            f"(at most {MAX_RELAYED_COMMITMENT_BYTES / 2**20:.1f} MiB)",
        )
        if relay <= MAX_RELAYED_COMMITMENT_BYTES
        else fails(
            "threshold.size",
            f"{silos} silos at t = {threshold} would relay "
            f"{relay / 2**20:.1f} MiB of sharing commitments to every silo, above the "
            f"{MAX_RELAYED_COMMITMENT_BYTES / 2**20:.1f} MiB a message may carry",
            "use fewer silos per federation (or a lower t, within the rules)",
        ),
    ]


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
        raise_first_failure(size_findings(self.silos, self.threshold))
        if self.spot_checks < 1:
            raise ConfigError(f"release spot checks must be at least 1, got {self.spot_checks}")
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
        t = default_threshold(silos, colluders) if threshold is None else threshold
        return cls(silos=silos, threshold=t, colluders=colluders, quantizer=quantizer)

    @property
    def bits(self) -> int:
        return self.quantizer.bits

    @property
    def quorum(self) -> int:
        """``max(t, min_silos)``: the fewest silos any stage may go on with."""
        return max(self.threshold, self.min_silos)
