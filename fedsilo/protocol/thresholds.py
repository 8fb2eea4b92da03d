"""The t-of-n rules every threshold scheme shares (ARCHITECTURE section 3).

* ``n >= 3``: with two silos, one subtracts its own update from the sum and
  reads the other's;
* ``t <= n``: otherwise no round can finish;
* ``2t > n + n_C``: otherwise the aggregator can show two disjoint groups of
  honest silos different survivor lists and collect, for one silo, both its
  self-mask shares and its mask-key shares;
* ``t >= max(3, n_C + 2)``: every silo sees the aggregate and can subtract its
  own update, so at least three survivors must remain, at least two of them
  honest beyond the colluders;
* ``t <= min_silos <= n``, and a warning when ``n - t = 0`` (one dropout aborts
  every round).

The default threshold is ``floor(2n/3) + 1``, raised to the lowest secure one
when the declared colluders need more. One implementation, read by
config loading, the nodes (through a scheme's parameters) and the auditor.
"""

from __future__ import annotations

from typing import Any

from fedsilo.protocol import fields
from fedsilo.protocol.fields import Reader
from fedsilo.protocol.scheme import FederationFacts, Finding, fails, passes, warns


def default_threshold(silos: int, colluders: int = 0) -> int:
    """``floor(2n/3) + 1`` (a third of the silos may drop), or the lowest threshold the
    rules allow for ``colluders`` if that is higher (capped at ``n``: when no threshold is
    secure the rules, not the default, say so)."""
    lowest_secure = max(3, colluders + 2, (silos + colluders) // 2 + 1)
    return min(silos, max(2 * silos // 3 + 1, lowest_secure))


def read_threshold(
    reader: Reader, section: dict[str, Any], facts: FederationFacts
) -> tuple[int, int]:
    """``scheme.threshold`` (default: :func:`default_threshold`) and ``scheme.colluders``."""
    colluders = reader.get(section, "colluders", "scheme", fields.integer(0, 10_000)) or 0
    threshold = reader.get(
        section,
        "threshold",
        "scheme",
        fields.integer(1, 10_000),
        default=default_threshold(facts.silos, colluders),
    )
    return threshold or 0, colluders


def threshold_findings(n: int, t: int, n_c: int) -> list[Finding]:
    """The rules on ``n`` silos, threshold ``t`` and ``n_C`` declared colluders."""
    floor = max(3, n_c + 2)
    return [
        passes("threshold.minimum-silos", f"n = {n} silos")
        if n >= 3
        else fails(
            "threshold.minimum-silos",
            f"only {n} silos: with fewer than 3, a silo can "
            "subtract its own update from the sum and read the other's",
            "add silos (n >= 3)",
        ),
        passes("threshold.colluders", f"n_C = {n_c} declared colluders")
        if n_c >= 0
        else fails(
            "threshold.colluders",
            f"n_C cannot be negative, got {n_c}",
            "declare scheme.colluders >= 0",
        ),
        passes("threshold.range", f"t = {t} <= n = {n}")
        if 1 <= t <= n
        else fails(
            "threshold.range",
            f"t = {t} exceeds the n = {n} silos: no round can finish",
            f"set scheme.threshold to at most {n}",
        ),
        passes("threshold.majority", f"2t = {2 * t} > n + n_C = {n + n_c}")
        if 2 * t > n + n_c
        else fails(
            "threshold.majority",
            f"need 2t > n + n_C, got 2t = {2 * t} <= n + n_C = {n + n_c}: the aggregator "
            "can show two groups different survivor lists and unmask one silo",
            f"raise scheme.threshold to at least {(n + n_c) // 2 + 1} or declare fewer colluders",
        ),
        passes("threshold.survivors", f"t = {t} >= max(3, n_C + 2) = {floor}")
        if t >= floor
        else fails(
            "threshold.survivors",
            f"need t >= max(3, n_C + 2) = {floor}, got t = {t}: "
            "too few honest survivors to hide each update in the sum",
            f"raise scheme.threshold to {floor}",
        ),
    ]


def dropout_findings(n: int, t: int, min_silos: int) -> list[Finding]:
    """How many dropouts a round survives, and whether ``min_silos`` is in ``[t, n]``."""
    out = [
        passes("threshold.dropouts", f"the round survives {n - t} dropout(s) (n - t)")
        if n - t > 0
        else warns(
            "threshold.dropouts",
            "n - t = 0: a single silo dropping aborts every round",
            "lower the threshold or add silos",
        )
    ]
    out.append(
        passes("threshold.min-silos", f"min_silos = {min_silos} >= t = {t}")
        if t <= min_silos <= n
        else fails(
            "threshold.min-silos",
            f"min_silos = {min_silos} is outside [t, n] = [{t}, {n}]",
            f"set min_silos between {t} and {n}",
        )
    )
    return out
