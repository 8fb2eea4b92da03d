"""An h2-style walk of the aggregator's ``(state, message | close_stage)`` pairs.

The walk starts at a random point of an honest round and then, in every state
it reaches, feeds the aggregator a genuine recorded silo message of any stage,
the rest of the open stage's genuine messages, or ``close_stage()``. The spec
it checks is the table of ``fedsilo/protocol/masking/states.py`` and the
aggregator's theory of operation:

* a message whose kind the state does not accept is refused with
  :class:`~fedsilo.errors.UnexpectedMessageError` and changes nothing a caller
  can observe, unless the session took that very message before (a silo retrying a
  call whose reply it lost): then it is taken again with nothing to send, and
  changes nothing either;
* a message the state accepts is never refused as unexpected: it keeps the
  state, closes the stage (``AGGREGATOR_NEXT``), or raises and aborts;
* ``close_stage()`` with no stage open raises
  :class:`~fedsilo.errors.LocalProtocolError` and changes nothing; with one open
  it moves to ``AGGREGATOR_NEXT`` or raises and aborts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from fedsilo.errors import FedsiloError, LocalProtocolError, UnexpectedMessageError
from fedsilo.protocol.masking.aggregator import MaskingAggregator
from fedsilo.protocol.masking.messages import (
    STAGE_OF_SILO_MESSAGE,
    MaskedInput,
    SiloMessage,
    Stage,
)
from fedsilo.protocol.masking.states import (
    AGGREGATOR_ACCEPTS,
    AGGREGATOR_NEXT,
    AggregatorState,
)
from fedsilo.testing.harness import make_federation, random_inputs, run_aggregation

FED = make_federation(4)
LENGTH = 40
INPUTS = random_inputs(FED, LENGTH)
# every genuine silo message of an honest round, in delivery order; masked inputs in
# three chunks each, so that a partly received input is a reachable state
RECORDED: tuple[SiloMessage, ...] = tuple(
    run_aggregation(FED, INPUTS, chunk_words=16).adversary.seen
)
STAGES = tuple(Stage)
ENDED = (AggregatorState.DONE, AggregatorState.ABORTED)


@dataclass(frozen=True)
class Genuine:
    """One recorded message, named by its index in a falsifying example."""

    index: int

    @property
    def message(self) -> SiloMessage:
        return RECORDED[self.index]


@dataclass
class Walked:
    """An aggregator under the walk, and which recorded messages it took (the masked
    input's chunks are checked as chunks, not as answers, and are never in it)."""

    agg: MaskingAggregator
    taken: set[int] = field(default_factory=set)  # indices into RECORDED


def fresh_aggregator() -> Walked:
    return Walked(
        MaskingAggregator(
            context=FED.context(), roster=FED.roster, params=FED.params, vector_length=LENGTH
        )
    )


@dataclass(frozen=True)
class Observed:
    """Everything a caller can read of an aggregator session."""

    state: AggregatorState
    stage: Stage | None
    waiting_for: frozenset[int]
    received: tuple[int, ...]
    acks: frozenset[int]
    accused: tuple[tuple[int, tuple[int, ...]], ...]
    overruled: tuple[int, ...]
    false_shares: int
    error: FedsiloError | None
    released: bytes | None


def observe(agg: MaskingAggregator) -> Observed:
    released = agg.released_sum
    return Observed(
        agg.state,
        agg.stage,
        agg.waiting_for,
        tuple(agg.received(i) for i in sorted(FED.roster.indices)),
        frozenset(agg.acks),
        tuple(sorted(agg.accused.items())),
        agg.overruled,
        len(agg.false_shares),
        agg.error,
        None if released is None else released.digest(),
    )


def accepts(state: AggregatorState, message: SiloMessage) -> bool:
    return isinstance(message, AGGREGATOR_ACCEPTS.get(state, ()))


def assert_unchanged_after_refusal(
    agg: MaskingAggregator, step: Callable[[], object], error: type[FedsiloError]
) -> None:
    before = observe(agg)
    with pytest.raises(error):
        step()
    assert observe(agg) == before


def feed(walk: Walked, message: SiloMessage) -> None:
    """Deliver one message and check the step against the table."""
    agg, which = walk.agg, RECORDED.index(message)
    before = observe(agg)
    if not accepts(before.state, message) and which in walk.taken:
        assert agg.receive(message) == []
        assert observe(agg) == before
        return
    if not accepts(before.state, message):
        refuse = functools.partial(agg.receive, message)
        assert_unchanged_after_refusal(agg, refuse, UnexpectedMessageError)
        return
    try:
        agg.receive(message)
        if not isinstance(message, MaskedInput):
            walk.taken.add(which)
    except UnexpectedMessageError:
        pytest.fail(f"{type(message).__name__} refused as unexpected in {before.state}")
    except FedsiloError as exc:
        assert agg.state in (before.state, AggregatorState.ABORTED)
        assert agg.state is before.state or agg.error is exc
    else:
        assert agg.state in (before.state, AGGREGATOR_NEXT[before.state])
    if agg.state is before.state:  # still collecting: nobody is waited for anew
        assert agg.waiting_for <= before.waiting_for


def close(walk: Walked) -> None:
    """Close the stage and check the step against the table."""
    agg = walk.agg
    before = agg.state
    if before not in AGGREGATOR_ACCEPTS:
        assert_unchanged_after_refusal(agg, agg.close_stage, LocalProtocolError)
        return
    try:
        agg.close_stage()
    except FedsiloError as exc:
        assert agg.state is AggregatorState.ABORTED
        assert agg.error is exc
    else:
        assert agg.state is AGGREGATOR_NEXT[before]


def answer_stage_honestly(walk: Walked, count: int | None = None) -> None:
    """Deliver the open stage's genuine messages (the first ``count`` of them) until the
    stage closes."""
    stage, state = walk.agg.stage, walk.agg.state
    ours = [m for m in RECORDED if STAGE_OF_SILO_MESSAGE[type(m)] is stage]
    for message in ours[:count]:
        if walk.agg.state is not state:
            return
        feed(walk, message)


class AggregatorWalk(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.walk = fresh_aggregator()

    @property
    def agg(self) -> MaskingAggregator:
        return self.walk.agg

    @initialize(stages=st.integers(0, len(STAGES)))
    def start_part_way_through_an_honest_round(self, stages: int) -> None:
        self.start(stages)

    @precondition(lambda self: self.agg.state in ENDED)
    @rule(stages=st.integers(0, len(STAGES)))
    def a_new_session_starts_part_way_through_an_honest_round(self, stages: int) -> None:
        self.start(stages)

    def start(self, stages: int) -> None:
        self.walk = fresh_aggregator()
        for _ in range(stages):
            answer_stage_honestly(self.walk)

    # hypothesis tries rules without arguments first: the simplest walk is an honest round
    @precondition(lambda self: self.agg.stage is not None)
    @rule()
    def honest_silos_answer_the_open_stage(self) -> None:
        answer_stage_honestly(self.walk)

    @rule()
    def the_deadline_closes_the_stage(self) -> None:
        close(self.walk)

    @rule(genuine=st.sampled_from([Genuine(i) for i in range(len(RECORDED))]))
    def any_genuine_message_arrives(self, genuine: Genuine) -> None:
        feed(self.walk, genuine.message)

    @precondition(lambda self: self.agg.stage is not None)
    @rule(count=st.integers(1, 7))
    def some_silos_answer_the_open_stage(self, count: int) -> None:
        answer_stage_honestly(self.walk, count)

    @invariant()
    def the_open_stage_is_that_of_the_messages_the_state_accepts(self) -> None:
        kinds = AGGREGATOR_ACCEPTS.get(self.agg.state, ())
        stages = {STAGE_OF_SILO_MESSAGE[k] for k in kinds}
        if stages:
            assert stages == {self.agg.stage}
        else:
            assert self.agg.stage is None

    @invariant()
    def an_ended_session_waits_for_nobody(self) -> None:
        if self.agg.state in ENDED:
            assert self.agg.waiting_for == frozenset()

    @invariant()
    def an_aborted_session_names_its_error_and_releases_nothing(self) -> None:
        if self.agg.state is AggregatorState.ABORTED:
            assert self.agg.error is not None
            assert self.agg.released_sum is None


TestEveryWalkOfTheAggregatorFollowsItsTable = AggregatorWalk.TestCase


def test_an_honest_round_walks_the_table_to_done() -> None:
    walk = fresh_aggregator()
    for message in RECORDED:
        feed(walk, message)
    assert walk.agg.state is AggregatorState.DONE
    assert walk.agg.released_sum is not None


def test_in_every_state_of_an_honest_round_a_message_of_another_stage_changes_nothing() -> None:
    walk = fresh_aggregator()
    for genuine in (*RECORDED, None):
        for message in RECORDED:
            if not accepts(walk.agg.state, message):
                feed(walk, message)  # refused as unexpected, or taken again as a resend
        if genuine is not None:
            feed(walk, genuine)
    assert walk.agg.state is AggregatorState.DONE


@pytest.mark.parametrize("delivered", range(len(RECORDED) + 1))
def test_at_every_point_of_an_honest_round_the_deadline_moves_on_by_the_table_or_aborts(
    delivered: int,
) -> None:
    walk = fresh_aggregator()
    for message in RECORDED[:delivered]:
        feed(walk, message)
    close(walk)
    for message in RECORDED[delivered:]:  # the silos carry on as if nothing happened
        feed(walk, message)
