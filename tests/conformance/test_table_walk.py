"""An h2-style walk of every scheme's aggregator session, through the seam alone.

An honest session of the scheme is recorded as the runtime delivers it (every silo
message as its wire decoded it, every chunk of a streamed vector, every end of a
stream). The walk then starts a fresh session of the same context and, in every state
it reaches, delivers any recorded event, the rest of the open stage's events, or
``close_stage()`` (the deadline). What it checks is the seam's contract
(``fedsilo.protocol.scheme.AggregatorSession``), the same for every scheme:

* an event of a stage other than the open one changes nothing a caller can observe,
  and a message of it is refused as :class:`~fedsilo.errors.UnexpectedMessageError`,
  unless the session took that very message before (a silo retrying a call whose reply
  it lost): then it is taken again as the resend it is, with nothing to send (a chunk
  is refused, or acknowledged as the identical resend of one already folded);
* an event of the open stage is never refused as unexpected: it is taken (the stage
  stays, moves on along the scheme's stage list, or the session ends), or refused
  leaving the session as it was, ended, or no longer waiting for its sender;
* the deadline moves the open stage on along the stage list or ends the session; once
  the session ended, the deadline changes nothing;
* a session's stage only ever moves forward, an ended one waits for nobody, and the
  stage is open exactly while the session has not ended.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from fedsilo.errors import FedsiloError, UnexpectedMessageError
from fedsilo.protocol.outputs import AggregatorOutput, Completed
from fedsilo.protocol.scheme import AggregatorSession, Scheme
from fedsilo.testing.scheme_driver import (
    SchemeFederation,
    quantized_inputs,
    run_scheme_session,
    scheme_federation,
)
from tests.conformance.schemes import SCHEMES, scheme_in_registry

SILOS, THRESHOLD, LENGTH = 4, 3, 11


@dataclass(frozen=True)
class Event:
    """One thing the runtime delivered to the recorded session: a silo message, a chunk
    of a streamed vector (``chunk`` holds receive_chunk's arguments) or the end of a
    stream, labelled with the stage it belongs to."""

    stage: str
    kind: str  # "message" | "chunk" | "end"
    sender: int
    payload: Any

    def deliver(self, session: AggregatorSession) -> Sequence[AggregatorOutput]:
        if self.kind == "message":
            return session.receive(self.payload)
        if self.kind == "chunk":
            return session.receive_chunk(*self.payload)
        session.end_of_stream(self.sender)
        return []


class Recorder:
    """An aggregator session that records what the driver delivers to it."""

    def __init__(self, inner: AggregatorSession, wire: Any) -> None:
        self.inner, self.wire = inner, wire
        self.events: list[Event] = []
        self._streaming: dict[int, str] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def receive(self, message: Any) -> Sequence[AggregatorOutput]:
        stage, sender, _ = self.wire.silo_body(message)
        self.events.append(Event(stage, "message", sender, message))
        return self.inner.receive(message)

    def receive_chunk(self, *args: Any) -> Sequence[AggregatorOutput]:
        _, stage, sender = args[:3]
        self._streaming[sender] = stage
        self.events.append(Event(stage, "chunk", sender, args))
        return self.inner.receive_chunk(*args)

    def end_of_stream(self, sender: int) -> None:
        self.events.append(Event(self._streaming[sender], "end", sender, None))
        self.inner.end_of_stream(sender)


@dataclass
class Walked:
    """A session under the walk, and which recorded messages it has taken."""

    session: AggregatorSession
    taken: set[int] = field(default_factory=set)  # indices into Recording.events


@dataclass(frozen=True)
class Recording:
    fed: SchemeFederation
    events: tuple[Event, ...]

    @property
    def scheme(self) -> Scheme:
        return self.fed.scheme

    def fresh(self) -> Walked:
        fed = self.fed
        return Walked(
            self.scheme.aggregator_session(
                fed.params, context=fed.context(), roster=fed.roster, vector_length=LENGTH
            )
        )

    def order(self, stage: str | None) -> int:
        names = self.scheme.stage_names
        return len(names) if stage is None else names.index(stage)


def record(fed: SchemeFederation) -> Recording:
    """An honest session of ``fed``, as its aggregator session was fed."""
    recorders: list[Recorder] = []
    real = fed.scheme.aggregator_session

    def recording(*args: Any, **kwargs: Any) -> Recorder:
        recorders.append(Recorder(real(*args, **kwargs), fed.scheme.wire))
        return recorders[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fed.scheme, "aggregator_session", recording)
        run = run_scheme_session(fed, quantized_inputs(fed, LENGTH))
    assert isinstance(run.ending, Completed), (run.ending, run.silo_errors)
    (recorder,) = recorders
    return Recording(fed, tuple(recorder.events))


RECORDINGS: dict[str, Recording] = {}


def recording_of(kind: str) -> Recording:
    if kind not in RECORDINGS:
        with scheme_in_registry(kind) as scheme:
            fed = scheme_federation(scheme, SILOS, LENGTH, threshold=THRESHOLD, colluders=0)
            RECORDINGS[kind] = record(fed)
    return RECORDINGS[kind]


# --- the contract -----------------------------------------------------------------------


@dataclass(frozen=True)
class Observed:
    """Everything a caller can read of an aggregator session."""

    stage: str | None
    waiting_for: frozenset[int]
    received: tuple[int, ...]
    ending: str | None


def observe(session: AggregatorSession) -> Observed:
    ending = session.ending
    return Observed(
        session.stage,
        session.waiting_for,
        tuple(session.received(i) for i in range(1, SILOS + 1)),
        None if ending is None else type(ending).__name__,
    )


def deliver(rec: Recording, walk: Walked, event: Event) -> None:
    """Deliver one recorded event and check the step against the contract."""
    session, which = walk.session, rec.events.index(event)
    before = observe(session)
    if event.stage != before.stage:
        if event.kind == "message" and which in walk.taken:
            assert list(event.deliver(session)) == []
        elif event.kind == "message":
            with pytest.raises(UnexpectedMessageError):
                event.deliver(session)
        else:  # a chunk is refused, or acknowledged as an identical resend of one already
            with contextlib.suppress(FedsiloError):  # folded; an end of stream says nothing
                event.deliver(session)
        assert observe(session) == before, (event.stage, event.kind, before)
        return
    try:
        event.deliver(session)
        if event.kind == "message":
            walk.taken.add(which)
    except UnexpectedMessageError:
        pytest.fail(f"a {event.kind} of the open stage {event.stage} refused as unexpected")
    except FedsiloError:  # refused: the session is as it was, ended, or drops the sender
        after = observe(session)
        dropped = after.stage == before.stage and after.waiting_for <= (
            before.waiting_for - {event.sender}
        )
        assert after == before or after.ending is not None or dropped, (before, after)
    after = observe(session)
    assert rec.order(after.stage) >= rec.order(before.stage)
    if after.stage == before.stage:  # still collecting: nobody is waited for anew
        assert after.waiting_for <= before.waiting_for


def close(rec: Recording, walk: Walked) -> None:
    """The deadline passes: check the step against the contract."""
    session = walk.session
    before = observe(session)
    with contextlib.suppress(FedsiloError):  # refused: checked below all the same
        session.close_stage()
    after = observe(session)
    if before.ending is not None:
        assert after == before
    else:
        assert rec.order(after.stage) > rec.order(before.stage), (before, after)


def answer_stage_honestly(rec: Recording, walk: Walked, count: int | None = None) -> None:
    """Deliver the open stage's recorded events (the first ``count`` of them)."""
    stage = walk.session.stage
    ours = [e for e in rec.events if e.stage == stage]
    for event in ours[:count]:
        if walk.session.stage != stage:
            return
        deliver(rec, walk, event)


class AggregatorWalk(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.rec: Recording | None = None
        self.walk: Walked | None = None

    @property
    def _rec(self) -> Recording:
        assert self.rec is not None
        return self.rec

    @property
    def session(self) -> AggregatorSession | None:
        return None if self.walk is None else self.walk.session

    @property
    def _walk(self) -> Walked:
        assert self.walk is not None
        return self.walk

    @initialize(kind=st.sampled_from(SCHEMES), stages=st.integers(0, 4))
    def start_part_way_through_an_honest_session(self, kind: str, stages: int) -> None:
        self.rec = recording_of(kind)
        self.start(stages)

    @precondition(lambda self: self.session is not None and self.session.ending is not None)
    @rule(stages=st.integers(0, 4))
    def a_new_session_starts_part_way_through_an_honest_session(self, stages: int) -> None:
        self.start(stages)

    def start(self, stages: int) -> None:
        self.walk = self._rec.fresh()
        for _ in range(stages):
            answer_stage_honestly(self._rec, self.walk)

    # hypothesis tries rules without arguments first: the simplest walk is an honest session
    @precondition(lambda self: self.session is not None and self.session.stage is not None)
    @rule()
    def honest_silos_answer_the_open_stage(self) -> None:
        answer_stage_honestly(self._rec, self._walk)

    @precondition(lambda self: self.session is not None)
    @rule()
    def the_deadline_closes_the_stage(self) -> None:
        close(self._rec, self._walk)

    @precondition(lambda self: self.session is not None)
    @rule(pick=st.integers(0, 10_000))
    def any_recorded_event_arrives(self, pick: int) -> None:
        events = self._rec.events
        deliver(self._rec, self._walk, events[pick % len(events)])

    @precondition(lambda self: self.session is not None and self.session.stage is not None)
    @rule(count=st.integers(1, 7))
    def some_silos_answer_the_open_stage(self, count: int) -> None:
        answer_stage_honestly(self._rec, self._walk, count)

    @invariant()
    def a_stage_is_open_exactly_while_the_session_has_not_ended(self) -> None:
        if self.session is not None:
            assert (self.session.stage is None) == (self.session.ending is not None)

    @invariant()
    def the_open_stage_is_one_of_the_scheme_s(self) -> None:
        if self.session is not None and self.session.stage is not None:
            assert self.session.stage in self._rec.scheme.stage_names

    @invariant()
    def an_ended_session_waits_for_nobody(self) -> None:
        if self.session is not None and self.session.ending is not None:
            assert self.session.waiting_for == frozenset()


# short walks, many of them: every state of a session is a few stages from its start
AggregatorWalk.TestCase.settings = settings(settings.default, stateful_step_count=15)
TestEveryWalkOfEveryAggregatorSessionKeepsTheContract = AggregatorWalk.TestCase


@pytest.mark.parametrize("kind", SCHEMES)
def test_an_honest_session_walks_the_contract_to_completed(kind: str) -> None:
    rec = recording_of(kind)
    walk = rec.fresh()
    for event in rec.events:
        deliver(rec, walk, event)
    for _ in rec.scheme.stage_names:  # the last stage closes when everyone answered or
        if walk.session.ending is None:  # at its deadline (the acks), as the driver does
            close(rec, walk)
    assert isinstance(walk.session.ending, Completed)


@pytest.mark.parametrize("kind", SCHEMES)
def test_in_every_state_of_an_honest_session_an_event_of_another_stage_changes_nothing(
    kind: str,
) -> None:
    rec = recording_of(kind)
    walk = rec.fresh()
    for honest in (*rec.events, None):
        for event in rec.events:
            if event.stage != walk.session.stage:
                deliver(rec, walk, event)
        if honest is not None:
            deliver(rec, walk, honest)


@pytest.mark.parametrize("kind", SCHEMES)
def test_at_every_point_of_an_honest_session_the_deadline_moves_on_or_ends_it(
    kind: str,
) -> None:
    rec = recording_of(kind)
    for delivered in range(len(rec.events) + 1):
        walk = rec.fresh()
        for event in rec.events[:delivered]:
            deliver(rec, walk, event)
        close(rec, walk)
        for event in rec.events[delivered:]:  # the silos carry on as if nothing happened
            deliver(rec, walk, event)
