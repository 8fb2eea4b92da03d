"""The conformance suite: every registered scheme that runs keeps the same promises,
checked through the seam alone (fedsilo.testing.scheme_driver), never its internals."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from fedsilo.errors import ContextMismatchError, EquivocationError, ReleaseVerificationError
from fedsilo.protocol.messages import SessionContext
from fedsilo.protocol.outputs import RESULT_DOWNLOAD, Aborted, Completed, Upload
from fedsilo.testing.entropy import SeededEntropy
from fedsilo.testing.scheme_driver import (
    SchemeFederation,
    SessionRun,
    quantized_inputs,
    run_scheme_session,
    scheme_federation,
)
from tests.conformance.schemes import SCHEMES, scheme_in_registry

SILOS, THRESHOLD, LENGTH = 5, 3, 19


@pytest.fixture(scope="module", params=SCHEMES)
def fed(request: pytest.FixtureRequest) -> Iterator[SchemeFederation]:
    with scheme_in_registry(request.param) as chosen:
        yield scheme_federation(chosen, SILOS, LENGTH, threshold=THRESHOLD, colluders=0)


def completed(run: SessionRun) -> Completed:
    assert isinstance(run.ending, Completed), (run.ending, run.silo_errors)
    return run.ending


def plain_sum(inputs: list[np.ndarray], members: tuple[int, ...]) -> np.ndarray:
    total: np.ndarray = np.sum([inputs[i - 1].astype(np.uint64) for i in members], axis=0)
    return total


def test_the_aggregate_is_the_exact_sum_of_every_input(fed: SchemeFederation) -> None:
    inputs = quantized_inputs(fed, LENGTH)
    run = run_scheme_session(fed, inputs)
    ending = completed(run)
    everyone = tuple(range(1, SILOS + 1))
    assert ending.result.survivors == everyone
    assert np.array_equal(ending.result.total.astype(np.uint64), plain_sum(inputs, everyone))
    assert set(ending.acks) == set(everyone)


def check_release(run: SessionRun, inputs: list[np.ndarray], stayed: set[int]) -> None:
    """The sum is exactly that of the silos the release names, every silo that stayed is
    among them, at least t, and every silo that verified computed the same aggregate."""
    ending = completed(run)
    members = ending.result.survivors
    assert stayed <= set(members) and len(members) >= THRESHOLD, members
    assert np.array_equal(ending.result.total.astype(np.uint64), plain_sum(inputs, members))
    assert set(run.aggregates) >= stayed
    for aggregate in run.aggregates.values():
        assert np.array_equal(aggregate.total, ending.result.total)


@pytest.mark.parametrize("stage_index", range(7))
def test_every_dropout_set_up_to_n_minus_t_at_each_stage_loses_nothing(
    fed: SchemeFederation, stage_index: int
) -> None:
    """Up to n - t silos fall silent at any stage: the session releases the exact sum of
    the silos it names, or (where its scheme needs every survivor at that stage) it ends
    before anything is revealed, and the round's next session, on the same ledgers and
    without the silent silos, releases the exact sum of all the others."""
    stages = fed.scheme.stage_names
    if stage_index >= len(stages):
        pytest.skip(f"{fed.scheme.kind} has {len(stages)} stages")
    stage = stages[stage_index]
    inputs = quantized_inputs(fed, LENGTH, seed=stage_index)
    for k in range(1, SILOS - THRESHOLD + 1):
        for dropped in itertools.combinations(range(1, SILOS + 1), k):
            stayed = set(range(1, SILOS + 1)) - set(dropped)
            ledgers = {i: fed.ledger() for i in range(1, SILOS + 1)}
            silent = dict.fromkeys(dropped, stage)
            run = run_scheme_session(fed, inputs, ledgers=ledgers, drop_at=silent)
            if isinstance(run.ending, Aborted):
                assert run.aggregates == {} and run.silo_errors == {}, (stage, dropped)
                run = run_scheme_session(
                    fed,
                    inputs,
                    context=fed.context(session=2),
                    ledgers=ledgers,
                    drop_at=dict.fromkeys(dropped, stages[0]),
                )
            check_release(run, inputs, stayed)


def opening_message(
    fed: SchemeFederation, context: SessionContext, inputs: list[np.ndarray], *, seed: int
) -> Any:
    """Silo 1's first message of a session it opens with its own ledger and ``seed``."""
    silo = fed.scheme.silo_session(
        fed.params,
        context=context,
        roster=fed.roster,
        index=1,
        identity=fed.identities[0],
        entropy=SeededEntropy(seed),
        ledger=fed.ledger(),
        protected=inputs[0],
        secret=fed.secrets.get(1),
    )
    return next(o for o in silo.start() if not isinstance(o, Upload))


def as_received(fed: SchemeFederation, context: SessionContext, message: Any) -> Any:
    """``message`` as the aggregator's session gets it: encoded, framed as sent under
    ``context``, decoded."""
    stage, sender, body = fed.scheme.wire.silo_body(message)
    return fed.scheme.wire.silo_message(context, stage, sender, body)


def test_a_silo_message_replayed_under_another_session_is_refused(
    fed: SchemeFederation,
) -> None:
    """A message of session A (its envelope names A) delivered to session B's aggregator
    is refused as another session's, and changes nothing there."""
    session_a, session_b = fed.context(session=1), fed.context(session=2)
    first = opening_message(fed, session_a, quantized_inputs(fed, LENGTH), seed=1)
    aggregator = fed.scheme.aggregator_session(
        fed.params, context=session_b, roster=fed.roster, vector_length=LENGTH
    )
    with pytest.raises(ContextMismatchError):
        aggregator.receive(as_received(fed, session_a, first))
    assert aggregator.waiting_for == frozenset(range(1, SILOS + 1))


def test_a_second_different_message_of_a_silo_for_one_stage_is_refused_as_equivocation(
    fed: SchemeFederation,
) -> None:
    """Silo 1 sends the first stage's message, then another one of the same kind (other
    keys, other input): the session refuses it and keeps the first."""
    ctx = fed.context()
    first = opening_message(fed, ctx, quantized_inputs(fed, LENGTH), seed=1)
    second = opening_message(fed, ctx, quantized_inputs(fed, LENGTH, seed=1), seed=2)
    assert first != second
    aggregator = fed.scheme.aggregator_session(
        fed.params, context=ctx, roster=fed.roster, vector_length=LENGTH
    )
    aggregator.receive(as_received(fed, ctx, first))
    waiting = aggregator.waiting_for
    with pytest.raises(EquivocationError, match="different"):
        aggregator.receive(as_received(fed, ctx, second))
    assert aggregator.waiting_for == waiting
    assert aggregator.receive(as_received(fed, ctx, first)) == []  # the first still stands


def test_an_identical_resend_is_taken_once(fed: SchemeFederation) -> None:
    """A silo that lost the reply sends the same message again: nothing changes."""
    ctx = fed.context()
    first = opening_message(fed, ctx, quantized_inputs(fed, LENGTH), seed=1)
    aggregator = fed.scheme.aggregator_session(
        fed.params, context=ctx, roster=fed.roster, vector_length=LENGTH
    )
    aggregator.receive(as_received(fed, ctx, first))
    waiting, stage = aggregator.waiting_for, aggregator.stage
    assert aggregator.receive(as_received(fed, ctx, first)) == []
    assert (aggregator.waiting_for, aggregator.stage) == (waiting, stage)


def test_a_forged_aggregate_is_refused_by_every_silo_and_nothing_is_acked(
    fed: SchemeFederation,
) -> None:
    def flip(name: str, data: bytes) -> bytes:
        return bytes([data[0] ^ 1]) + data[1:] if name == RESULT_DOWNLOAD else data

    run = run_scheme_session(fed, quantized_inputs(fed, LENGTH), tamper=flip)
    assert run.aggregates == {}
    assert set(run.silo_errors) == set(range(1, SILOS + 1))
    assert all(isinstance(e, ReleaseVerificationError) for e in run.silo_errors.values())
    # the round driver makes a round final only on t acks of its head: there are none
    assert not isinstance(run.ending, Completed) or run.ending.acks == {}


def test_a_session_on_another_chain_head_is_refused_by_every_silo(
    fed: SchemeFederation,
) -> None:
    run = run_scheme_session(
        fed, quantized_inputs(fed, LENGTH), context=fed.context(chain_head=b"\x01" * 32)
    )
    assert set(run.silo_errors) == set(range(1, SILOS + 1))
    assert run.aggregates == {}


def test_a_round_revealed_in_one_session_is_never_revealed_in_another(
    fed: SchemeFederation,
) -> None:
    """The aggregator lets session 1 reach its last stage (the silos revealed what the
    release needs), then "fails" and runs the round again with other inputs: the silos
    that revealed once refuse, so session 2 releases nothing."""
    ledgers = {i: fed.ledger() for i in range(1, SILOS + 1)}
    last = fed.scheme.stage_names[-1]
    first = run_scheme_session(fed, quantized_inputs(fed, LENGTH), ledgers=ledgers, stop_at=last)
    assert first.ending is None and first.aggregates == {}
    again = run_scheme_session(
        fed,
        quantized_inputs(fed, LENGTH, seed=1),
        context=fed.context(session=2),
        ledgers=ledgers,
        drop_at={5: fed.scheme.stage_names[0]},  # and the inputs differ: 5 "dropped"
    )
    assert not isinstance(again.ending, Completed), again.ending
    assert again.aggregates == {}
