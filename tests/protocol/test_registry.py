"""The scheme registry is closed: the test kit is the only other way in, and only when
the test kit is enabled in the process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fedsilo.errors import ConfigError
from fedsilo.protocol.masking.scheme import MASKING, Masking
from fedsilo.protocol.masking.session import MaskingAggregatorSession
from fedsilo.protocol.masking.silo_session import MaskingSiloSession
from fedsilo.protocol.registry import registered, scheme_named
from fedsilo.protocol.scheme import AggregatorSession, SiloSession
from fedsilo.testing.entropy import SeededEntropy
from fedsilo.testing.harness import fresh_ledger, make_federation
from fedsilo.testing.schemes import ENABLE_VARIABLE, register_test_scheme, registered_test_scheme
from tests.protocol.test_state_machine import silo_in_state

ROOT = Path(__file__).parents[2]


class Renamed(Masking):
    kind = "renamed-masking"


def test_a_test_scheme_is_refused_unless_the_test_kit_is_enabled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ENABLE_VARIABLE, raising=False)
    with pytest.raises(ConfigError, match="test kit enabled"):
        register_test_scheme(Renamed())
    assert "renamed-masking" not in registered()


def test_a_test_scheme_registered_with_the_kit_enabled_is_found_then_withdrawn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENABLE_VARIABLE, "enabled")
    with registered_test_scheme(Renamed()) as scheme:
        assert scheme_named("renamed-masking") is scheme
    with pytest.raises(ConfigError, match="got 'renamed-masking'"):
        scheme_named("renamed-masking")


def test_a_test_scheme_cannot_take_a_product_scheme_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENABLE_VARIABLE, "enabled")
    with pytest.raises(ConfigError, match="product scheme"):
        register_test_scheme(Masking())
    assert scheme_named("masking") is MASKING


def test_no_product_module_opens_the_registry() -> None:
    for path in (ROOT / "fedsilo").rglob("*.py"):
        if path.parent.name == "testing" or path.name == "registry.py":
            continue
        text = path.read_text()
        assert "_admit(" not in text and "_withdraw(" not in text, path


def test_the_masking_scheme_builds_the_sessions_the_runtime_drives() -> None:
    fed = make_federation(4)
    aggregator = MASKING.aggregator_session(
        fed.params, context=fed.context(), roster=fed.roster, vector_length=8
    )
    assert type(aggregator) is MaskingAggregatorSession and aggregator.ending is None
    assert aggregator.stage == "advertise-keys"
    assert isinstance(aggregator, AggregatorSession)
    silo = MASKING.silo_session(
        fed.params,
        context=fed.context(),
        roster=fed.roster,
        index=2,
        identity=fed.identity(2),
        entropy=SeededEntropy(0, 1, 2),
        ledger=fresh_ledger(fed),
        protected=np.zeros(8, dtype=np.uint32),
    )
    assert type(silo) is MaskingSiloSession and silo.core.index == 2
    assert silo.context == fed.context() and isinstance(silo, SiloSession)


def test_a_scheme_without_sessions_refuses_to_build_one_in_one_line() -> None:
    fed = make_federation(4)
    paillier = scheme_named("paillier")
    with pytest.raises(ConfigError, match=r"^this version of fedsilo has no paillier sessions$"):
        paillier.aggregator_session(
            fed.params, context=fed.context(), roster=fed.roster, vector_length=8
        )


@pytest.mark.parametrize(
    ("steps", "resumes_at"),
    [(0, None), (3, None), (4, "unmasking"), (5, "release"), (6, None)],
)
def test_a_masking_silo_resumes_only_once_it_signed_its_view(
    steps: int, resumes_at: str | None
) -> None:
    """What the vault keeps and where a restarted silo picks up: nothing before the view
    is signed, the unmasking stage after it, the release after revealing."""
    assert silo_in_state(steps).resumes_at == resumes_at
