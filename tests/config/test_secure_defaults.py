"""A config that names no threshold gets a secure one (ARCHITECTURE section 3).

The secure bound on ``t`` for ``n`` silos and ``n_C`` declared colluders is
``2t > n + n_C`` and ``t >= max(3, n_C + 2)``. These tests load minimal
configs through the public path, with ``scheme.threshold`` left out, and check
the threshold the loader fills in against that bound, computed here and by
``fedsilo audit``'s threshold rules, never against the default's own formula.
"""

from __future__ import annotations

import pytest

from fedsilo.audit.config_rules import config_rules
from fedsilo.audit.report import Status
from fedsilo.config.load import config_from_document
from fedsilo.config.model import FederationConfig

SIZES = range(3, 41)
SECURITY_RULES = ("threshold.majority", "threshold.survivors", "threshold.range")


def without_threshold(silos: int, colluders: int) -> FederationConfig:
    """A minimal masking config of ``silos`` members that leaves the threshold out."""
    return config_from_document(
        {
            "federation": "defaults",
            "aggregator": {"name": "aggregator", "address": "aggregator.example:7443"},
            "silos": [{"name": f"silo-{i}"} for i in range(1, silos + 1)],
            "scheme": {"kind": "masking", "colluders": colluders},
            "training": {"task": "synthetic-vector"},
        }
    )


def lowest_secure_threshold(silos: int, colluders: int) -> int:
    return max(3, colluders + 2, (silos + colluders) // 2 + 1)


def is_secure(silos: int, colluders: int, threshold: int) -> bool:
    return 2 * threshold > silos + colluders and threshold >= max(3, colluders + 2)


def assert_the_audit_passes_its_threshold(config: FederationConfig) -> None:
    """``fedsilo audit config``'s threshold rules: none fails, the security ones pass."""
    results = {r.rule: r.status for r in config_rules(config) if r.rule.startswith("threshold.")}
    assert Status.FAIL not in results.values(), results
    assert all(results[rule] is Status.PASS for rule in SECURITY_RULES), results


def fewer_than_a_third(silos: int) -> range:
    return range(0, (silos + 2) // 3)  # every n_C with 3 n_C < n


@pytest.mark.parametrize("silos", SIZES)
def test_the_default_threshold_is_secure_when_fewer_than_a_third_of_the_silos_collude(
    silos: int,
) -> None:
    for colluders in fewer_than_a_third(silos):
        t = without_threshold(silos, colluders).scheme.threshold
        assert is_secure(silos, colluders, t), (silos, colluders, t)
        assert t <= silos, (silos, colluders, t)


@pytest.mark.parametrize("silos", SIZES)
def test_the_audit_passes_the_default_threshold_when_fewer_than_a_third_collude(
    silos: int,
) -> None:
    for colluders in fewer_than_a_third(silos):
        assert_the_audit_passes_its_threshold(without_threshold(silos, colluders))


def test_the_default_threshold_is_never_below_the_secure_bound_when_a_secure_one_exists() -> None:
    for silos in SIZES:
        for colluders in range(silos):
            if lowest_secure_threshold(silos, colluders) > silos:
                continue  # no threshold is secure: so many colluders cannot be declared
            config = without_threshold(silos, colluders)
            assert is_secure(silos, colluders, config.scheme.threshold), (silos, colluders)
            assert_the_audit_passes_its_threshold(config)
