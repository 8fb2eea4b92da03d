"""Shared test configuration: hypothesis profiles.

``ci`` (the default: the README's ``pytest`` and ``.ci/run``) keeps the example
counts bounded and the examples derandomized so the suite fits its time budget on
two cores and a failure reproduces; ``HYPOTHESIS_PROFILE=dev`` explores more.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
