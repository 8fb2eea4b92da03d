"""Dropouts at every stage: the survivors' exact sum, or a loud, named abort.

A survivor that drops at the consistency check is the one exception to "the
round goes on with >= t": its sketch is needed to verify the release, so the
session aborts before anything is revealed and the node runs a new session.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fedsilo.errors import TooFewSurvivorsError, UnverifiableReleaseError
from fedsilo.protocol.masking.messages import Stage
from fedsilo.protocol.masking.states import SiloState
from fedsilo.testing.harness import make_federation, random_inputs, run_aggregation
from tests.protocol.helpers import plain_sum

EARLY = (Stage.ADVERTISE_KEYS, Stage.SHARE_KEYS, Stage.SHARE_CHECK, Stage.MASKED_INPUT)
TOLERATED = [s for s in Stage if s is not Stage.CONSISTENCY_CHECK]
THRESHOLDED = [*EARLY, Stage.UNMASKING]


@pytest.mark.parametrize("n", [3, 4, 5, 6, 7])
@pytest.mark.parametrize("stage", TOLERATED, ids=lambda s: s.value)
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
            # no false aborts: every silo still running verified the release and acked it
            for i, silo in run.silos.items():
                if i not in dropped:
                    assert silo.state is SiloState.DONE, (dropped, i, silo.error)
            assert set(run.acks) == {i for i in survivors if i not in dropped}


@pytest.mark.parametrize("n", [3, 4, 5, 6, 7])
def test_a_survivor_missing_at_the_consistency_check_aborts_before_anything_is_revealed(
    n: int,
) -> None:
    fed = make_federation(n)
    run = run_aggregation(fed, random_inputs(fed, 50), drop_at={n: Stage.CONSISTENCY_CHECK})
    assert isinstance(run.aggregator_error, UnverifiableReleaseError)
    assert f"silo-{n}" in str(run.aggregator_error)
    assert "before anything is revealed" in str(run.aggregator_error)
    assert run.result is None
    assert all(ledger.record.sessions[0].response is None for ledger in run.ledgers.values())


@pytest.mark.parametrize("n", [3, 4, 5, 6, 7])
def test_missing_acks_never_unrelease_a_verified_round(n: int) -> None:
    fed = make_federation(n)
    dropped = range(1, n - fed.params.threshold + 2)
    inputs = random_inputs(fed, 50)
    run = run_aggregation(fed, inputs, drop_at=dict.fromkeys(dropped, Stage.RELEASE))
    assert run.result is not None
    assert np.array_equal(run.result.total, plain_sum(inputs, range(1, n + 1), 32))
    assert set(run.acks) == set(range(1, n + 1)) - set(dropped)  # the nodes halt on too few


@pytest.mark.parametrize("n", [3, 4, 5, 6, 7])
@pytest.mark.parametrize("stage", THRESHOLDED, ids=lambda s: s.value)
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
