"""``min_silos`` binds every party: no view is signed, no share revealed and nothing
released with fewer than ``max(t, min_silos)`` survivors, even when the aggregator
ignores the setting."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fedsilo.errors import ConfigError, TooFewSurvivorsError
from fedsilo.protocol.masking.messages import Stage, UnmaskingShares
from fedsilo.protocol.masking.states import SiloState
from fedsilo.testing.harness import Federation, make_federation, random_inputs, run_aggregation
from tests.protocol.helpers import plain_sum

# n = 6, n_C = 1, t = 4 (2t > n + n_C), and the federation asks for 5 contributors
N, T, MIN_SILOS = 6, 4, 5


def federation(min_silos: int = MIN_SILOS) -> Federation:
    fed = make_federation(N, threshold=T)
    return replace(fed, params=replace(fed.params, min_silos=min_silos))


def four_survivors() -> dict[int, Stage]:
    return {5: Stage.MASKED_INPUT, 6: Stage.MASKED_INPUT}


def test_with_min_silos_5_a_sum_of_4_survivors_is_not_released_and_nothing_is_revealed() -> None:
    fed = federation()
    run = run_aggregation(fed, random_inputs(fed, 64), drop_at=four_survivors())
    assert isinstance(run.aggregator_error, TooFewSurvivorsError)
    assert (run.aggregator_error.have, run.aggregator_error.need) == (4, MIN_SILOS)
    assert run.result is None and run.verified() == {}
    assert not any(isinstance(m, UnmaskingShares) for m in run.adversary.seen)
    assert all(ledger.record.sessions[0].response is None for ledger in run.ledgers.values())


def test_silos_refuse_to_sign_a_view_of_4_survivors_from_an_aggregator_ignoring_min_silos() -> None:
    fed = federation()
    run = run_aggregation(
        fed,
        random_inputs(fed, 64),
        drop_at=four_survivors(),
        aggregator_params=replace(fed.params, min_silos=0),  # it would release 4 (>= t)
    )
    for i in range(1, 5):
        silo = run.silos[i]
        assert silo.state is SiloState.ABORTED, i
        assert isinstance(silo.error, TooFewSurvivorsError), silo.error
        assert (silo.error.have, silo.error.need) == (4, MIN_SILOS)
        assert run.ledgers[i].record.sessions[0].view is None, i  # no view signed
    assert not any(isinstance(m, UnmaskingShares) for m in run.adversary.seen)
    assert run.result is None and run.verified() == {}


def test_with_min_silos_5_a_sum_of_5_survivors_is_released() -> None:
    fed = federation()
    inputs = random_inputs(fed, 64)
    run = run_aggregation(fed, inputs, drop_at={6: Stage.MASKED_INPUT})
    assert run.result is not None
    assert np.array_equal(run.result.total, plain_sum(inputs, range(1, 6), 32))


def test_unmasking_needs_only_t_of_the_survivors_to_answer() -> None:
    fed = federation()
    inputs = random_inputs(fed, 64)
    run = run_aggregation(fed, inputs, drop_at={5: Stage.UNMASKING, 6: Stage.UNMASKING})
    assert run.result is not None and run.result.survivors == tuple(range(1, 7))
    assert np.array_equal(run.result.total, plain_sum(inputs, range(1, 7), 32))


@pytest.mark.parametrize("min_silos", [N + 1, -1])
def test_a_min_silos_outside_the_roster_is_refused_in_one_line(min_silos: int) -> None:
    fed = make_federation(N, threshold=T)
    with pytest.raises(ConfigError, match="min_silos"):
        replace(fed.params, min_silos=min_silos)
