"""Dropouts at every stage: the survivors' exact sum, or a loud, named abort."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fedsilo.errors import TooFewSurvivorsError
from fedsilo.protocol.masking.states import SiloState
from fedsilo.protocol.messages import Stage
from fedsilo.testing.harness import make_federation, random_inputs, run_aggregation
from tests.protocol.helpers import plain_sum

EARLY = (Stage.ADVERTISE_KEYS, Stage.SHARE_KEYS, Stage.MASKED_INPUT)


@pytest.mark.parametrize("n", [3, 4, 5, 6, 7])
@pytest.mark.parametrize("stage", list(Stage), ids=lambda s: s.value)
def test_every_dropout_set_up_to_n_minus_t_yields_the_survivors_exact_sum(
    n: int, stage: Stage
) -> None:
    fed = make_federation(n)
    t = fed.params.threshold
    inputs = random_inputs(fed, 97, seed=n)
    for size in range(n - t + 1):
        for dropped in itertools.combinations(range(1, n + 1), size):
            run = run_aggregation(fed, inputs, drop_at=dict.fromkeys(dropped, stage))
            survivors = [i for i in range(1, n + 1) if i not in dropped or stage not in EARLY]
            assert run.aggregator_error is None, (dropped, run.aggregator_error)
            assert run.result is not None
            assert list(run.result.survivors) == survivors
            assert np.array_equal(run.result.total, plain_sum(inputs, survivors, 32))
            # no false aborts: every silo still running finished the protocol
            for i, silo in run.silos.items():
                if i not in dropped:
                    assert silo.state is SiloState.DONE, (dropped, i, silo.error)


@pytest.mark.parametrize("n", [3, 4, 5, 6, 7])
@pytest.mark.parametrize("stage", list(Stage), ids=lambda s: s.value)
def test_fewer_than_t_survivors_aborts_naming_the_stage_and_releases_nothing(
    n: int, stage: Stage
) -> None:
    fed = make_federation(n)
    t = fed.params.threshold
    dropped = range(1, n - t + 2)
    run = run_aggregation(fed, random_inputs(fed, 50), drop_at=dict.fromkeys(dropped, stage))
    assert isinstance(run.aggregator_error, TooFewSurvivorsError)
    assert run.aggregator_error.stage == stage.value
    assert f"stage {stage.value}" in str(run.aggregator_error)
    assert set(run.aggregator_error.missing) == {f"silo-{i}" for i in dropped}
    assert run.result is None
