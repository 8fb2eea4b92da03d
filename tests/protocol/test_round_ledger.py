"""The silo ledger: rounds in chain order, one view per session, one reveal per round."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from fedsilo.errors import (
    AlreadyRevealedError,
    ChainMismatchError,
    ConfigError,
    DurabilityError,
    EquivocationRefusedError,
    LocalProtocolError,
    ResetRefusedError,
    ResetReplayError,
    RoundOrderError,
    SessionReplayError,
)
from fedsilo.protocol.chain import ChainHead
from fedsilo.protocol.ledger import (
    VERSION,
    VERSION_1,
    Admission,
    InMemoryLedgerStore,
    LedgerRecord,
    RoundLedger,
    SessionRecord,
)


def digest(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


GENESIS = digest("config digest")
OTHER_HEAD = digest("another history")
HEAD_1 = digest("H_1")
HEAD_2 = digest("H_2")
A, B, C = digest("session A"), digest("session B"), digest("session C")
VIEW, OTHER_VIEW = digest("U3 = {1, 2, 3}"), digest("U3 = {1, 2}")
RESPONSE, OTHER_RESPONSE = b"b-shares of 1, 2, 3", b"s-share of 3"
RESET_1, RESET_2, OTHER_RESET = digest("reset 1"), digest("reset 2"), digest("another reset")


class FailingStore:
    """A store whose disk can be made to fail: saves raise and change nothing."""

    def __init__(self) -> None:
        self.inner = InMemoryLedgerStore()
        self.failing = False

    def load(self) -> LedgerRecord | None:
        return self.inner.load()

    def save(self, record: LedgerRecord) -> None:
        if self.failing:
            raise DurabilityError("could not make the silo ledger durable (disk full)")
        self.inner.save(record)


def fresh() -> tuple[RoundLedger, InMemoryLedgerStore]:
    store = InMemoryLedgerStore()
    return RoundLedger(store, GENESIS), store


def revealed_in(ledger: RoundLedger, session: bytes, round_number: int = 1) -> None:
    """Join ``session`` of ``round_number``, sign a view and reveal in it."""
    ledger.admit(round_number, session, ledger.head)
    ledger.record_view(session, VIEW)
    ledger.record_reveal(session, RESPONSE)


def one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(error.value)
    assert message and "\n" not in message
    return message


# --- where a fresh ledger starts ----------------------------------------------------


def test_a_fresh_ledger_starts_at_round_zero_on_genesis() -> None:
    ledger, store = fresh()
    assert ledger.chain == ChainHead(0, GENESIS)
    assert ledger.record == LedgerRecord(final_round=0, head=GENESIS)
    assert store.saves == 0


def test_a_ledger_from_another_genesis_is_refused() -> None:
    ledger, store = fresh()
    ledger.admit(1, A, GENESIS)
    with pytest.raises(ConfigError, match="another federation config") as error:
        RoundLedger(store, OTHER_HEAD)
    one_line(error)


# --- admission ----------------------------------------------------------------------


def test_the_next_round_on_our_head_is_admitted_durably() -> None:
    ledger, store = fresh()
    assert ledger.admit(1, A, GENESIS) == Admission(resumed=False, view=None, response=None)
    assert store.saves == 1
    assert store.load() == ledger.record
    assert ledger.record.seen == {A}


def test_a_skipped_round_number_is_refused() -> None:
    ledger, store = fresh()
    with pytest.raises(RoundOrderError, match="only round 1 can run next") as error:
        ledger.admit(2, A, GENESIS)
    one_line(error)
    assert store.saves == 0


def test_the_same_round_number_again_after_finalizing_is_refused() -> None:
    ledger, _ = fresh()
    revealed_in(ledger, A)
    ledger.finalize(1, HEAD_1)
    with pytest.raises(RoundOrderError, match="announced round 1"):
        ledger.admit(1, B, HEAD_1)


def test_a_foreign_chain_head_is_refused() -> None:
    ledger, store = fresh()
    with pytest.raises(ChainMismatchError) as error:
        ledger.admit(1, A, OTHER_HEAD)
    one_line(error)
    assert store.saves == 0


def test_the_replayed_model_under_the_next_round_number_is_refused() -> None:
    ledger, _ = fresh()
    revealed_in(ledger, A)
    ledger.finalize(1, HEAD_1)
    with pytest.raises(ChainMismatchError):
        ledger.admit(2, B, GENESIS)


def test_a_repeated_session_id_is_refused() -> None:
    ledger, _ = fresh()
    revealed_in(ledger, A)
    ledger.finalize(1, HEAD_1)
    with pytest.raises(SessionReplayError, match="never reuses a session id") as error:
        ledger.admit(2, A, HEAD_1)
    one_line(error)


def test_an_abandoned_session_cannot_be_rejoined() -> None:
    ledger, _ = fresh()
    ledger.admit(1, A, GENESIS)
    ledger.admit(1, B, GENESIS)
    with pytest.raises(SessionReplayError, match="abandoned"):
        ledger.admit(1, A, GENESIS)


def test_joining_a_later_session_abandons_the_earlier_one_durably() -> None:
    ledger, store = fresh()
    ledger.admit(1, A, GENESIS)
    ledger.record_view(A, VIEW)
    saves = store.saves
    ledger.admit(1, B, GENESIS)
    assert store.saves == saves + 1
    assert store.load() == ledger.record
    assert ledger.record.sessions == (
        SessionRecord(A, view=VIEW, abandoned=True),
        SessionRecord(B),
    )


def test_resuming_the_joined_session_writes_nothing() -> None:
    ledger, store = fresh()
    ledger.admit(1, A, GENESIS)
    ledger.record_view(A, VIEW)
    saves = store.saves
    assert ledger.admit(1, A, GENESIS) == Admission(resumed=True, view=VIEW, response=None)
    assert store.saves == saves


def test_resuming_the_joined_session_returns_the_stored_response() -> None:
    ledger, store = fresh()
    revealed_in(ledger, A)
    restarted = RoundLedger(store, GENESIS)
    assert restarted.admit(1, A, GENESIS) == Admission(resumed=True, view=VIEW, response=RESPONSE)


def test_a_second_session_of_a_revealed_round_is_refused() -> None:
    ledger, store = fresh()
    revealed_in(ledger, A)
    saves = store.saves
    with pytest.raises(AlreadyRevealedError, match="round 1 was already unmasked") as error:
        ledger.admit(1, B, GENESIS)
    one_line(error)
    assert store.saves == saves
    assert B not in ledger.record.seen


def test_an_empty_session_id_is_a_local_error() -> None:
    ledger, _ = fresh()
    with pytest.raises(LocalProtocolError):
        ledger.admit(1, b"", GENESIS)


# --- views --------------------------------------------------------------------------


def test_a_view_is_recorded_durably() -> None:
    ledger, store = fresh()
    ledger.admit(1, A, GENESIS)
    ledger.record_view(A, VIEW)
    assert store.saves == 2
    assert store.load() == ledger.record
    assert ledger.record.sessions == (SessionRecord(A, view=VIEW),)


def test_the_same_view_again_writes_nothing() -> None:
    ledger, store = fresh()
    ledger.admit(1, A, GENESIS)
    ledger.record_view(A, VIEW)
    ledger.record_view(A, VIEW)
    assert store.saves == 2


def test_a_second_view_in_one_session_is_refused() -> None:
    ledger, _ = fresh()
    ledger.admit(1, A, GENESIS)
    ledger.record_view(A, VIEW)
    with pytest.raises(EquivocationRefusedError, match="one view per session") as error:
        ledger.record_view(A, OTHER_VIEW)
    one_line(error)
    assert ledger.record.sessions[0].view == VIEW


def test_a_view_in_an_unknown_session_is_refused() -> None:
    ledger, _ = fresh()
    ledger.admit(1, A, GENESIS)
    with pytest.raises(SessionReplayError, match="never joined"):
        ledger.record_view(B, VIEW)


def test_a_view_in_an_abandoned_session_is_refused() -> None:
    ledger, _ = fresh()
    ledger.admit(1, A, GENESIS)
    ledger.admit(1, B, GENESIS)
    with pytest.raises(SessionReplayError, match="abandoned"):
        ledger.record_view(A, VIEW)


def test_a_view_in_a_session_of_a_finished_round_is_refused() -> None:
    ledger, _ = fresh()
    revealed_in(ledger, A)
    ledger.finalize(1, HEAD_1)
    with pytest.raises(SessionReplayError, match="round before 2"):
        ledger.record_view(A, VIEW)


def test_another_session_of_the_round_may_sign_another_view() -> None:
    ledger, _ = fresh()
    ledger.admit(1, A, GENESIS)
    ledger.record_view(A, VIEW)
    ledger.admit(1, B, GENESIS)
    ledger.record_view(B, OTHER_VIEW)
    assert [s.view for s in ledger.record.sessions] == [VIEW, OTHER_VIEW]


# --- reveals ------------------------------------------------------------------------


def test_a_reveal_is_recorded_durably() -> None:
    ledger, store = fresh()
    revealed_in(ledger, A)
    assert store.saves == 3
    assert store.load() == ledger.record
    assert ledger.revealed(A) == RESPONSE


def test_a_reveal_without_a_view_is_a_local_error() -> None:
    ledger, _ = fresh()
    ledger.admit(1, A, GENESIS)
    with pytest.raises(LocalProtocolError, match="record the signed view before the reveal"):
        ledger.record_reveal(A, RESPONSE)


def test_a_reveal_in_an_abandoned_session_is_refused() -> None:
    ledger, _ = fresh()
    ledger.admit(1, A, GENESIS)
    ledger.record_view(A, VIEW)
    ledger.admit(1, B, GENESIS)
    with pytest.raises(SessionReplayError, match="abandoned"):
        ledger.record_reveal(A, RESPONSE)


def test_the_same_reveal_again_writes_nothing() -> None:
    ledger, store = fresh()
    revealed_in(ledger, A)
    ledger.record_reveal(A, RESPONSE)
    assert store.saves == 3


def test_a_different_reveal_in_the_same_session_is_refused() -> None:
    ledger, _ = fresh()
    revealed_in(ledger, A)
    with pytest.raises(EquivocationRefusedError, match="reveals once per round") as error:
        ledger.record_reveal(A, OTHER_RESPONSE)
    one_line(error)
    assert ledger.revealed(A) == RESPONSE


def test_nothing_is_revealed_in_a_session_that_only_signed_a_view() -> None:
    ledger, _ = fresh()
    ledger.admit(1, A, GENESIS)
    ledger.record_view(A, VIEW)
    assert ledger.revealed(A) is None
    assert ledger.revealed(B) is None


# --- finalizing ---------------------------------------------------------------------


def test_finalizing_moves_the_chain_and_clears_the_round() -> None:
    ledger, store = fresh()
    revealed_in(ledger, A)
    ledger.finalize(1, HEAD_1)
    assert ledger.chain == ChainHead(1, HEAD_1)
    assert ledger.record.sessions == ()
    assert ledger.revealed(A) is None
    assert store.load() == ledger.record


def test_finalizing_keeps_every_seen_session_id() -> None:
    ledger, _ = fresh()
    ledger.admit(1, A, GENESIS)
    ledger.admit(1, B, GENESIS)
    ledger.finalize(1, HEAD_1)
    ledger.admit(2, C, HEAD_1)
    ledger.finalize(2, HEAD_2)
    assert ledger.record.seen == {A, B, C}


def test_finalizing_a_round_out_of_order_is_refused() -> None:
    ledger, store = fresh()
    with pytest.raises(RoundOrderError, match="only round 1 can be finalized next") as error:
        ledger.finalize(2, HEAD_2)
    one_line(error)
    assert store.saves == 0


def test_finalizing_the_same_round_twice_is_refused() -> None:
    ledger, _ = fresh()
    ledger.finalize(1, HEAD_1)
    with pytest.raises(RoundOrderError):
        ledger.finalize(1, HEAD_1)


def test_a_chain_head_of_the_wrong_length_is_a_local_error() -> None:
    ledger, _ = fresh()
    with pytest.raises(LocalProtocolError):
        ledger.finalize(1, b"short")


# --- epoch resets -------------------------------------------------------------------


def stuck_in_round_two(ledger: RoundLedger) -> None:
    """Round 1 final; round 2 revealed in session B, and can never be unmasked."""
    revealed_in(ledger, A)
    ledger.finalize(1, HEAD_1)
    revealed_in(ledger, B, round_number=2)


def test_a_fresh_ledger_has_applied_no_reset() -> None:
    ledger, _ = fresh()
    assert ledger.resets == 0
    assert ledger.record.reset_digests == ()
    assert not ledger.reset_applied(RESET_1)


def test_after_a_reset_the_silo_reveals_once_more_in_the_failed_round() -> None:
    ledger, store = fresh()
    stuck_in_round_two(ledger)
    ledger.apply_reset(RESET_1, 1, 2, HEAD_1)
    assert store.load() == ledger.record
    assert ledger.resets == 1 and ledger.reset_applied(RESET_1)
    assert ledger.chain == ChainHead(1, HEAD_1)
    assert ledger.record.sessions == ()
    assert ledger.admit(2, C, HEAD_1) == Admission(resumed=False, view=None, response=None)
    ledger.record_view(C, OTHER_VIEW)
    ledger.record_reveal(C, OTHER_RESPONSE)
    assert ledger.revealed(C) == OTHER_RESPONSE


def test_after_a_reset_the_failed_round_still_reveals_only_once() -> None:
    ledger, _ = fresh()
    stuck_in_round_two(ledger)
    ledger.apply_reset(RESET_1, 1, 2, HEAD_1)
    revealed_in(ledger, C, round_number=2)
    with pytest.raises(AlreadyRevealedError, match="round 2 was already unmasked"):
        ledger.admit(2, digest("session D"), HEAD_1)


def test_a_reset_never_lets_an_old_session_id_back_in() -> None:
    ledger, _ = fresh()
    stuck_in_round_two(ledger)
    ledger.apply_reset(RESET_1, 1, 2, HEAD_1)
    assert ledger.record.seen == {A, B}
    with pytest.raises(SessionReplayError, match="never reuses a session id"):
        ledger.admit(2, B, HEAD_1)
    with pytest.raises(SessionReplayError):
        ledger.admit(2, A, HEAD_1)


def test_a_replayed_reset_is_refused_and_changes_nothing() -> None:
    ledger, store = fresh()
    stuck_in_round_two(ledger)
    ledger.apply_reset(RESET_1, 1, 2, HEAD_1)
    revealed_in(ledger, C, round_number=2)
    before, saves = ledger.record, store.saves
    with pytest.raises(ResetReplayError, match="already applied") as error:
        ledger.apply_reset(RESET_1, 1, 2, HEAD_1)
    one_line(error)
    assert ledger.record == before and store.saves == saves
    with pytest.raises(AlreadyRevealedError):
        ledger.admit(2, digest("session D"), HEAD_1)


def test_another_reset_under_a_used_index_is_refused() -> None:
    ledger, _ = fresh()
    stuck_in_round_two(ledger)
    ledger.apply_reset(RESET_1, 1, 2, HEAD_1)
    revealed_in(ledger, C, round_number=2)
    with pytest.raises(ResetReplayError, match="already used") as error:
        ledger.apply_reset(OTHER_RESET, 1, 2, HEAD_1)
    one_line(error)
    assert ledger.revealed(C) == RESPONSE


def test_a_second_reset_of_the_round_needs_the_next_index() -> None:
    ledger, _ = fresh()
    stuck_in_round_two(ledger)
    ledger.apply_reset(RESET_1, 1, 2, HEAD_1)
    revealed_in(ledger, C, round_number=2)
    ledger.apply_reset(RESET_2, 2, 2, HEAD_1)
    assert ledger.record.reset_digests == (RESET_1, RESET_2)
    revealed_in(ledger, digest("session D"), round_number=2)


def test_a_reset_that_skips_an_index_is_refused() -> None:
    ledger, store = fresh()
    stuck_in_round_two(ledger)
    saves = store.saves
    with pytest.raises(ResetRefusedError, match="arrives before reset 1") as error:
        ledger.apply_reset(RESET_2, 2, 2, HEAD_1)
    one_line(error)
    assert store.saves == saves


def test_a_reset_for_another_round_is_refused() -> None:
    ledger, store = fresh()
    stuck_in_round_two(ledger)
    saves = store.saves
    for failed_round in (1, 3):
        with pytest.raises(ResetRefusedError, match="only round 2 can be reset") as error:
            ledger.apply_reset(RESET_1, 1, failed_round, HEAD_1)
        one_line(error)
    assert store.saves == saves
    with pytest.raises(AlreadyRevealedError):
        ledger.admit(2, C, HEAD_1)


def test_a_reset_for_another_head_is_refused() -> None:
    ledger, store = fresh()
    stuck_in_round_two(ledger)
    saves = store.saves
    with pytest.raises(ResetRefusedError, match="another model or history") as error:
        ledger.apply_reset(RESET_1, 1, 2, OTHER_HEAD)
    one_line(error)
    assert store.saves == saves and ledger.resets == 0


def test_a_reset_digest_of_the_wrong_length_is_a_local_error() -> None:
    ledger, _ = fresh()
    with pytest.raises(LocalProtocolError):
        ledger.apply_reset(b"short", 1, 1, GENESIS)


def test_a_reset_of_round_one_resumes_from_genesis() -> None:
    ledger, _ = fresh()
    revealed_in(ledger, A)
    ledger.apply_reset(RESET_1, 1, 1, GENESIS)
    revealed_in(ledger, B)
    assert ledger.revealed(B) == RESPONSE


def test_finalizing_keeps_the_applied_resets() -> None:
    ledger, store = fresh()
    stuck_in_round_two(ledger)
    ledger.apply_reset(RESET_1, 1, 2, HEAD_1)
    revealed_in(ledger, C, round_number=2)
    ledger.finalize(2, HEAD_2)
    assert ledger.record.reset_digests == (RESET_1,)
    assert RoundLedger(store, GENESIS).resets == 1
    with pytest.raises(ResetRefusedError, match="only round 3 can be reset"):
        ledger.apply_reset(RESET_2, 2, 2, HEAD_1)


def test_an_applied_reset_survives_a_restart() -> None:
    ledger, store = fresh()
    stuck_in_round_two(ledger)
    ledger.apply_reset(RESET_1, 1, 2, HEAD_1)
    restarted = RoundLedger(store, GENESIS)
    assert restarted.record == ledger.record
    with pytest.raises(ResetReplayError):
        restarted.apply_reset(RESET_1, 1, 2, HEAD_1)
    revealed_in(restarted, C, round_number=2)


def test_a_version_1_ledger_loads_with_no_reset_applied() -> None:
    ledger, _ = fresh()
    revealed_in(ledger, A)
    data = json.loads(ledger.record.to_json())
    del data["reset_digests"]
    data["version"] = VERSION_1
    loaded = LedgerRecord.from_json(json.dumps(data))
    assert loaded == ledger.record and loaded.resets == 0
    assert json.loads(loaded.to_json())["version"] == VERSION


# --- durability ---------------------------------------------------------------------


def ready_to_admit(ledger: RoundLedger) -> None:
    ledger.admit(1, A, GENESIS)


def ready_to_view(ledger: RoundLedger) -> None:
    ledger.admit(1, A, GENESIS)


def ready_to_reveal(ledger: RoundLedger) -> None:
    ledger.admit(1, A, GENESIS)
    ledger.record_view(A, VIEW)


MUTATIONS: dict[str, tuple[Callable[[RoundLedger], None], Callable[[RoundLedger], object]]] = {
    "admit": (ready_to_admit, lambda ledger: ledger.admit(1, B, GENESIS)),
    "record_view": (ready_to_view, lambda ledger: ledger.record_view(A, VIEW)),
    "record_reveal": (ready_to_reveal, lambda ledger: ledger.record_reveal(A, RESPONSE)),
    "finalize": (ready_to_reveal, lambda ledger: ledger.finalize(1, HEAD_1)),
    "apply_reset": (ready_to_reveal, lambda ledger: ledger.apply_reset(RESET_1, 1, 1, GENESIS)),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_a_failed_save_leaves_the_ledger_unchanged(name: str) -> None:
    prepare, mutate = MUTATIONS[name]
    store = FailingStore()
    ledger = RoundLedger(store, GENESIS)
    prepare(ledger)
    before = ledger.record
    store.failing = True
    with pytest.raises(DurabilityError):
        mutate(ledger)
    assert ledger.record == before
    assert store.load() == before


def test_a_save_that_failed_can_be_retried() -> None:
    store = FailingStore()
    ledger = RoundLedger(store, GENESIS)
    ready_to_reveal(ledger)
    store.failing = True
    with pytest.raises(DurabilityError):
        ledger.record_reveal(A, RESPONSE)
    store.failing = False
    ledger.record_reveal(A, RESPONSE)
    assert ledger.revealed(A) == RESPONSE


def test_a_restarted_ledger_keeps_every_decision() -> None:
    ledger, store = fresh()
    revealed_in(ledger, A)
    ledger.finalize(1, HEAD_1)
    ledger.admit(2, B, HEAD_1)
    ledger.record_view(B, VIEW)
    ledger.admit(2, C, HEAD_1)
    ledger.record_view(C, OTHER_VIEW)
    ledger.record_reveal(C, RESPONSE)
    restarted = RoundLedger(store, GENESIS)
    assert restarted.record == ledger.record
    with pytest.raises(AlreadyRevealedError):
        restarted.admit(2, digest("session D"), HEAD_1)
    with pytest.raises(SessionReplayError):
        restarted.record_view(B, VIEW)


# --- the serialized record ----------------------------------------------------------


@st.composite
def records(draw: st.DrawFn) -> LedgerRecord:
    ids = st.binary(min_size=1, max_size=33)
    seen = draw(st.frozensets(ids, max_size=8))
    order = draw(st.permutations(sorted(seen)))
    in_round = order[: draw(st.integers(0, min(4, len(order))))]
    sessions = [
        SessionRecord(sid, view=draw(st.none() | st.binary(max_size=40)), abandoned=True)
        for sid in in_round
    ]
    live = draw(st.booleans())
    if sessions and live:
        last = sessions[-1]
        response = draw(st.none() | st.binary(max_size=40)) if last.view is not None else None
        sessions[-1] = SessionRecord(last.session_id, last.view, response, abandoned=False)
    resets = draw(st.lists(st.binary(min_size=32, max_size=32), max_size=3, unique=True))
    return LedgerRecord(
        final_round=draw(st.integers(0, 2**40)),
        head=draw(st.binary(min_size=32, max_size=32)),
        seen=seen,
        sessions=tuple(sessions),
        reset_digests=tuple(resets),
    )


@given(records())
def test_a_record_round_trips_through_json(record: LedgerRecord) -> None:
    text = record.to_json()
    assert LedgerRecord.from_json(text) == record
    assert LedgerRecord.from_json(text).to_json() == text


def test_the_json_carries_its_version_and_sorted_seen() -> None:
    ledger, _ = fresh()
    ledger.admit(1, B, GENESIS)
    ledger.admit(1, A, GENESIS)
    data = json.loads(ledger.record.to_json())
    assert data["version"] == VERSION == "fedsilo/silo-ledger/v2"
    assert data["seen"] == sorted([A.hex(), B.hex()])
    assert data["head"] == GENESIS.hex()
    assert data["reset_digests"] == []


def valid() -> dict[str, Any]:
    ledger, _ = fresh()
    revealed_in(ledger, A)
    ledger.admit(1, A, GENESIS)
    record = ledger.record
    two = LedgerRecord(
        record.final_round,
        record.head,
        record.seen | {B},
        (SessionRecord(B, abandoned=True), *record.sessions),
    )
    data: dict[str, Any] = json.loads(two.to_json())
    return data


def edit(change: Callable[[dict[str, Any]], object]) -> str:
    data = valid()
    change(data)
    return json.dumps(data)


def first_session(data: dict[str, Any]) -> dict[str, Any]:
    session: dict[str, Any] = data["sessions"][0]
    return session


MALFORMED: dict[str, tuple[str, str]] = {
    "empty": ("", "not JSON"),
    "truncated": (json.dumps(valid())[:-7], "not JSON"),
    "a list": ("[]", "expected a JSON object"),
    "no version": (edit(lambda d: d.pop("version")), "version is None"),
    "a future version": (edit(lambda d: d.update(version="fedsilo/silo-ledger/v3")), "v3"),
    "a missing key": (edit(lambda d: d.pop("seen")), "missing seen"),
    "an unknown key": (edit(lambda d: d.update(extra=1)), "unknown key"),
    "a repeated key": ('{"version": "fedsilo/silo-ledger/v1", "version": 1}', "appears twice"),
    "NaN": (edit(lambda d: d.update(final_round=float("nan"))), "NaN is not a JSON value"),
    "a negative round": (edit(lambda d: d.update(final_round=-1)), "final_round"),
    "a boolean round": (edit(lambda d: d.update(final_round=True)), "final_round"),
    "a float round": (edit(lambda d: d.update(final_round=1.0)), "final_round"),
    "uppercase hex": (edit(lambda d: d.update(head=d["head"].upper())), "head"),
    "odd hex": (edit(lambda d: d.update(head=d["head"][:-1])), "head"),
    "a short head": (edit(lambda d: d.update(head="00")), "head: must be 32 bytes"),
    "seen unsorted": (edit(lambda d: d["seen"].reverse()), "sorted and unique"),
    "seen repeated": (edit(lambda d: d["seen"].append(d["seen"][-1])), "sorted and unique"),
    "seen not a list": (edit(lambda d: d.update(seen="00")), "seen"),
    "an empty session id": (edit(lambda d: d["seen"].insert(0, "")), "never empty"),
    "sessions not a list": (edit(lambda d: d.update(sessions={})), "sessions"),
    "a session not an object": (edit(lambda d: d["sessions"].append(1)), "sessions[2]"),
    "a session key missing": (edit(lambda d: first_session(d).pop("view")), "sessions[0]"),
    "abandoned not a bool": (
        edit(lambda d: first_session(d).update(abandoned=0)),
        "sessions[0].abandoned",
    ),
    "a view not hex": (edit(lambda d: first_session(d).update(view=7)), "sessions[0].view"),
    "a session not in seen": (edit(lambda d: d["seen"].remove(B.hex())), "not in seen"),
    "a session listed twice": (
        edit(lambda d: d["sessions"].insert(0, dict(d["sessions"][0]))),
        "listed twice",
    ),
    "two live sessions": (
        edit(lambda d: first_session(d).update(abandoned=False)),
        "only the latest session",
    ),
    "a response without a view": (
        edit(lambda d: d["sessions"][1].update(view=None)),
        "response but no view",
    ),
    "an abandoned session that revealed": (
        edit(lambda d: d["sessions"][1].update(abandoned=True)),
        "never abandoned",
    ),
    "reset digests not a list": (edit(lambda d: d.update(reset_digests="00")), "reset_digests"),
    "a short reset digest": (
        edit(lambda d: d.update(reset_digests=["00"])),
        "reset_digests[0]: must be 32 bytes",
    ),
    "a reset digest not hex": (
        edit(lambda d: d.update(reset_digests=[7])),
        "reset_digests[0]: expected lowercase hex",
    ),
    "a reset applied twice": (
        edit(lambda d: d.update(reset_digests=[RESET_1.hex(), RESET_1.hex()])),
        "applied once",
    ),
    "a version 1 record with reset digests": (
        edit(lambda d: d.update(version=VERSION_1)),
        "unknown key(s) reset_digests",
    ),
    "a version 2 record without reset digests": (
        edit(lambda d: d.pop("reset_digests")),
        "missing reset_digests",
    ),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_record_is_refused_with_one_line(name: str) -> None:
    text, fragment = MALFORMED[name]
    with pytest.raises(ConfigError) as error:
        LedgerRecord.from_json(text)
    assert fragment in one_line(error)


def test_the_malformed_examples_start_from_a_valid_record() -> None:
    assert LedgerRecord.from_json(json.dumps(valid())).sessions[1].response == RESPONSE


# --- every random sequence keeps the invariants -------------------------------------

POOL = [digest(f"session {i}") for i in range(8)]
HEADS = [digest(f"head {i}") for i in range(3)]
OFFSETS = st.sampled_from([0, 0, 0, -1, 1])  # mostly the next round, sometimes another
FAILS = st.integers(0, 5).map(lambda n: n == 0)  # the disk fails one time in six
PICKS = st.one_of(st.none(), st.none(), st.sampled_from(POOL))  # None: the latest session


class LedgerMachine(RuleBasedStateMachine):
    """Drives random admits, views, reveals and finalizes, some of them on a failing disk."""

    def __init__(self) -> None:
        super().__init__()
        self.store = FailingStore()
        self.ledger = RoundLedger(self.store, GENESIS)
        # (epoch, round, what, session) that succeeded; the epoch counts applied resets
        self.events: list[tuple[int, int, str, bytes]] = []
        self.epoch = 0
        self.reveals: dict[bytes, bytes] = {}
        self.highest_final = 0

    def attempt(self, fail: bool, action: Callable[[], object]) -> tuple[bool, object]:
        """Run ``action`` on a disk that fails if ``fail``; (succeeded, result)."""
        self.store.failing = fail
        try:
            return True, action()
        except (EquivocationRefusedError, ChainMismatchError, DurabilityError):
            return False, None
        except LocalProtocolError as error:
            assert "view before the reveal" in str(error)
            return False, None
        finally:
            self.store.failing = False

    def resolve(self, session: bytes | None) -> bytes:
        sessions = self.ledger.record.sessions
        if session is None:
            return sessions[-1].session_id if sessions else POOL[0]
        return session

    @rule(offset=OFFSETS, session=st.sampled_from(POOL), ours=st.booleans(), fail=FAILS)
    def admit(self, offset: int, session: bytes, ours: bool, fail: bool) -> None:
        round_number = self.ledger.final_round + 1 + offset
        head = self.ledger.head if ours else OTHER_HEAD
        _, admission = self.attempt(fail, lambda: self.ledger.admit(round_number, session, head))
        if isinstance(admission, Admission):
            what = "resume" if admission.resumed else "admit"
            self.events.append((self.epoch, round_number, what, session))
            if admission.resumed and session in self.reveals:
                assert admission.response == self.reveals[session]

    @rule(pick=PICKS, view=st.sampled_from([VIEW, OTHER_VIEW]), fail=FAILS)
    def record_view(self, pick: bytes | None, view: bytes, fail: bool) -> None:
        session = self.resolve(pick)
        self.attempt(fail, lambda: self.ledger.record_view(session, view))

    @rule(pick=PICKS, response=st.sampled_from([RESPONSE, OTHER_RESPONSE]), fail=FAILS)
    def record_reveal(self, pick: bytes | None, response: bytes, fail: bool) -> None:
        session = self.resolve(pick)
        round_number = self.ledger.final_round + 1
        succeeded, _ = self.attempt(fail, lambda: self.ledger.record_reveal(session, response))
        if not succeeded:
            return
        self.events.append((self.epoch, round_number, "reveal", session))
        self.reveals.setdefault(session, response)
        assert self.reveals[session] == response

    @rule(
        view=st.sampled_from([VIEW, OTHER_VIEW]),
        response=st.sampled_from([RESPONSE, OTHER_RESPONSE]),
        fail=FAILS,
    )
    def sign_and_reveal_in_the_latest_session(
        self, view: bytes, response: bytes, fail: bool
    ) -> None:
        self.record_view(None, view, fail=False)
        self.record_reveal(None, response, fail)

    @rule(offset=OFFSETS, head=st.sampled_from(HEADS), fail=FAILS)
    def finalize(self, offset: int, head: bytes, fail: bool) -> None:
        round_number = self.ledger.final_round + 1 + offset
        succeeded, _ = self.attempt(fail, lambda: self.ledger.finalize(round_number, head))
        assert not succeeded or offset == 0

    @invariant()
    def at_most_one_session_reveals_per_round(self) -> None:
        """Per round and epoch; without a reset (this machine) the epoch is always 0."""
        revealing: dict[tuple[int, int], set[bytes]] = {}
        for epoch, round_number, what, session in self.events:
            if what == "reveal":
                revealing.setdefault((epoch, round_number), set()).add(session)
        assert all(len(sessions) <= 1 for sessions in revealing.values())

    @invariant()
    def no_session_is_admitted_after_a_reveal_in_its_round(self) -> None:
        revealed: set[tuple[int, int]] = set()
        for epoch, round_number, what, _ in self.events:
            if what == "reveal":
                revealed.add((epoch, round_number))
            elif what == "admit":
                assert (epoch, round_number) not in revealed

    @invariant()
    def memory_equals_what_a_fresh_ledger_loads(self) -> None:
        assert RoundLedger(self.store, GENESIS).record == self.ledger.record

    @invariant()
    def the_final_round_never_decreases(self) -> None:
        assert self.ledger.final_round >= self.highest_final
        self.highest_final = self.ledger.final_round


TestEveryRandomSequenceKeepsOneRevealPerRound = LedgerMachine.TestCase


class ResetLedgerMachine(LedgerMachine):
    """The same random walk with epoch resets, valid and not, some of them replays."""

    def __init__(self) -> None:
        super().__init__()
        self.applied: list[tuple[int, bytes]] = []  # (failed round, digest) that took effect
        self.attempts = 0

    @rule(
        offset=OFFSETS,
        ours=st.booleans(),
        index_offset=st.sampled_from([0, 0, 0, -1, 1]),
        replay=st.integers(0, 3).map(lambda n: n == 0),
        fail=FAILS,
    )
    def apply_reset(
        self, offset: int, ours: bool, index_offset: int, replay: bool, fail: bool
    ) -> None:
        self.attempts += 1
        replayed = replay and bool(self.applied)
        reset = self.applied[-1][1] if replayed else digest(f"reset attempt {self.attempts}")
        failed_round = self.ledger.final_round + 1 + offset
        index = self.ledger.resets + 1 + index_offset
        head = self.ledger.head if ours else OTHER_HEAD
        self.store.failing = fail
        try:
            self.ledger.apply_reset(reset, index, failed_round, head)
        except (ResetRefusedError, DurabilityError):
            return
        finally:
            self.store.failing = False
        assert (offset, index_offset, ours, replayed, fail) == (0, 0, True, False, False)
        assert self.ledger.record.sessions == ()
        self.applied.append((failed_round, reset))
        self.epoch += 1

    @invariant()
    def each_reset_allows_exactly_one_more_reveal_in_its_round(self) -> None:
        revealing: dict[int, set[bytes]] = {}
        for _, round_number, what, session in self.events:
            if what == "reveal":
                revealing.setdefault(round_number, set()).add(session)
        for round_number, sessions in revealing.items():
            resets = sum(1 for failed, _ in self.applied if failed == round_number)
            assert len(sessions) <= 1 + resets

    @invariant()
    def the_ledger_holds_exactly_the_resets_that_took_effect(self) -> None:
        assert self.ledger.record.reset_digests == tuple(d for _, d in self.applied)


TestEveryRandomSequenceWithResetsKeepsOneRevealPerEpoch = ResetLedgerMachine.TestCase
