"""The transition tables are the spec: anything else raises and aborts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedsilo.errors import (
    ContextMismatchError,
    DurabilityError,
    EquivocationError,
    FedsiloError,
    IncompleteUploadError,
    LocalProtocolError,
    PartialInputError,
    RemoteProtocolError,
    RosterError,
    SignatureError,
    StageClosedError,
    UnexpectedMessageError,
    UnverifiableReleaseError,
)
from fedsilo.protocol.chain import genesis
from fedsilo.protocol.ledger import InMemoryLedgerStore, LedgerRecord, RoundLedger
from fedsilo.protocol.masking.aggregator import MaskingAggregator
from fedsilo.protocol.masking.messages import (
    AdvertList,
    ConsistencySignature,
    KeyAdvert,
    MaskedInput,
    MaskingSet,
    ReleaseBundle,
    ShareRelay,
    SignatureBundle,
    SurvivorList,
)
from fedsilo.protocol.masking.silo import MaskingSilo
from fedsilo.protocol.masking.states import (
    SILO_TRANSITIONS,
    AggregatorState,
    SiloState,
    transition_diagram,
)
from fedsilo.testing.adversary import Adversary
from fedsilo.testing.entropy import SeededEntropy
from fedsilo.testing.harness import (
    Federation,
    fresh_ledger,
    make_federation,
    random_inputs,
    run_aggregation,
)
from tests.protocol.helpers import recorded_messages

FED = make_federation(4)
INPUTS = random_inputs(FED, 40)


MESSAGES = recorded_messages(FED, INPUTS)
ORDER = [AdvertList, ShareRelay, MaskingSet, SurvivorList, SignatureBundle, ReleaseBundle]


def silo_in_state(
    steps: int, fed: Federation = FED, ledger: RoundLedger | None = None
) -> MaskingSilo:
    """Silo 1 driven through ``steps`` genuine messages (same seed as the recording)."""
    silo = MaskingSilo(
        context=fed.context(),
        roster=fed.roster,
        params=fed.params,
        index=1,
        identity=fed.identity(1),
        entropy=SeededEntropy(0, 1, 1),
        ledger=ledger or fresh_ledger(fed),
        quantized_input=INPUTS[0],
    )
    silo.start()
    for kind in ORDER[:steps]:
        silo.receive(MESSAGES[kind])
    return silo


@pytest.mark.parametrize("steps", range(len(ORDER) + 1))
@pytest.mark.parametrize("kind", ORDER, ids=lambda k: k.__name__)
def test_every_message_in_the_silo_table_moves_to_its_target_and_any_other_aborts(
    steps: int, kind: type
) -> None:
    silo = silo_in_state(steps)
    target = SILO_TRANSITIONS.get((silo.state, kind))
    if target is not None:
        silo.receive(MESSAGES[kind])
        assert silo.state is target
        return
    with pytest.raises(UnexpectedMessageError):
        silo.receive(MESSAGES[kind])
    assert silo.state is SiloState.ABORTED


@given(st.lists(st.sampled_from(ORDER), min_size=1, max_size=len(ORDER) + 1))
def test_random_message_sequences_follow_the_table_or_abort(kinds: list[type]) -> None:
    silo = silo_in_state(0)
    for kind in kinds:
        target = SILO_TRANSITIONS.get((silo.state, kind))
        try:
            silo.receive(MESSAGES[kind])
        except FedsiloError:
            assert target is None
            assert silo.state is SiloState.ABORTED
            return
        assert silo.state is target


def test_an_aborted_silo_refuses_everything_and_keeps_its_first_error() -> None:
    silo = silo_in_state(0)
    with pytest.raises(UnexpectedMessageError):
        silo.receive(MESSAGES[SurvivorList])
    first = silo.error
    with pytest.raises(UnexpectedMessageError):
        silo.receive(MESSAGES[AdvertList])
    assert silo.error is first


def test_a_malformed_message_aborts_with_a_remote_protocol_error() -> None:
    silo = silo_in_state(0)
    with pytest.raises(RemoteProtocolError):
        silo.receive(dataclasses.replace(MESSAGES[AdvertList], adverts=None))  # type: ignore[arg-type]
    assert silo.state is SiloState.ABORTED


def test_start_is_called_once() -> None:
    silo = silo_in_state(0)
    with pytest.raises(LocalProtocolError):
        silo.start()


class FailingStore(InMemoryLedgerStore):
    """A ledger store whose disk fails after ``good`` writes."""

    def __init__(self, good: int) -> None:
        super().__init__()
        self.good = good

    def save(self, record: LedgerRecord) -> None:
        if self.saves >= self.good:
            raise DurabilityError("disk full; nothing was sent")
        super().save(record)


@pytest.mark.parametrize(
    ("steps", "kind", "writes_before"),
    [(3, SurvivorList, 1), (4, SignatureBundle, 2)],
    ids=["view", "reveal"],
)
def test_a_silo_sends_nothing_if_its_ledger_cannot_record_the_decision(
    steps: int, kind: type, writes_before: int
) -> None:
    ledger = RoundLedger(FailingStore(writes_before), genesis(FED.config_digest))
    silo = silo_in_state(steps, ledger=ledger)
    with pytest.raises(DurabilityError, match="disk full"):
        silo.receive(MESSAGES[kind])
    assert silo.state is SiloState.ABORTED


def test_the_documented_state_diagram_is_generated_from_the_tables() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "protocol-masking.md").read_text()
    assert transition_diagram() in doc


# --- aggregator ---------------------------------------------------------------------


def aggregator(fed: Federation = FED) -> MaskingAggregator:
    return MaskingAggregator(
        context=fed.context(),
        roster=fed.roster,
        params=fed.params,
        vector_length=len(INPUTS[0]),
    )


def adverts() -> list[KeyAdvert]:
    return [
        MaskingSilo(
            context=FED.context(),
            roster=FED.roster,
            params=FED.params,
            index=i,
            identity=FED.identity(i),
            entropy=SeededEntropy(i),
            ledger=fresh_ledger(FED),
            quantized_input=INPUTS[i - 1],
        ).start()[0]  # type: ignore[misc]
        for i in range(1, 5)
    ]


def test_aggregator_refuses_a_message_of_another_stage() -> None:
    agg = aggregator()
    with pytest.raises(UnexpectedMessageError):
        agg.receive(MaskedInput(FED.context(), 1, 0, 40, INPUTS[0]))
    assert agg.state is AggregatorState.COLLECT_ADVERTS


def test_a_message_of_a_later_stage_is_unexpected_not_late() -> None:
    agg = aggregator()
    with pytest.raises(UnexpectedMessageError) as caught:
        agg.receive(MaskedInput(FED.context(), 1, 0, 40, INPUTS[0]))
    assert type(caught.value) is UnexpectedMessageError


def test_an_advert_after_the_adverts_closed_is_late() -> None:
    """What tells a silo that arrived too late to wait for the next session."""
    agg = aggregator()
    a = adverts()
    for advert in a[1:]:
        agg.receive(advert)
    agg.close_stage()
    assert agg.state is AggregatorState.COLLECT_SHARES
    with pytest.raises(StageClosedError, match="its stage is over"):
        agg.receive(a[0])


def test_aggregator_refuses_a_message_of_another_session() -> None:
    agg = aggregator()
    advert = dataclasses.replace(adverts()[0], context=FED.context(session=2))
    with pytest.raises(ContextMismatchError):
        agg.receive(advert)


def test_an_identical_resend_is_idempotent_and_a_different_one_refused() -> None:
    agg = aggregator()
    a = adverts()
    assert agg.receive(a[0]) == []
    assert agg.receive(a[0]) == []
    with pytest.raises(EquivocationError, match="a different KeyAdvert"):
        agg.receive(dataclasses.replace(a[0], mask_public_key=a[1].mask_public_key))


def test_a_forged_advert_excludes_its_sender_but_the_round_goes_on() -> None:
    agg = aggregator()
    a = adverts()
    with pytest.raises(SignatureError):
        agg.receive(dataclasses.replace(a[0], signature=a[1].signature))
    outgoing = [o for adv in a[1:] for o in agg.receive(adv)]
    assert {o.recipient for o in outgoing} == {2, 3, 4}
    assert agg.state is AggregatorState.COLLECT_SHARES  # closed without waiting for silo 1


def test_an_excluded_silo_is_refused_for_the_rest_of_the_stage() -> None:
    agg = aggregator()
    a = adverts()
    with pytest.raises(SignatureError):
        agg.receive(dataclasses.replace(a[0], signature=a[1].signature))
    with pytest.raises(RosterError):
        agg.receive(a[0])


def test_masked_input_chunks_must_continue_the_vector() -> None:
    class Chunky(Adversary):
        def inbound(self, message):  # type: ignore[no-untyped-def]
            self.seen.append(message)
            if isinstance(message, MaskedInput):
                v = message.values
                return [
                    dataclasses.replace(message, offset=0, values=v[:10]),
                    dataclasses.replace(message, offset=5, values=v[5:10]),  # overlaps: refused
                    dataclasses.replace(message, offset=10, values=v[10:]),
                ]
            return [message]

    run = run_aggregation(FED, INPUTS, adversary=Chunky())
    assert run.result is not None
    # the session refuses the overlap, naming the offset the sender must resume from
    assert [(type(e), str(e)) for e in run.rejected] == 4 * [
        (IncompleteUploadError, "expected offset 10, got 5")
    ]
    expected = np.sum(np.array(INPUTS, dtype=np.uint64), axis=0).astype(np.uint32)
    assert np.array_equal(run.result.total, expected)


def test_a_partly_received_input_aborts_the_session_rather_than_corrupt_the_sum() -> None:
    class CutsSiloTwo(Adversary):
        def inbound(self, message):  # type: ignore[no-untyped-def]
            self.seen.append(message)
            if isinstance(message, MaskedInput) and message.sender == 2:
                return [dataclasses.replace(message, values=message.values[:10])]
            return [message]

    run = run_aggregation(FED, INPUTS, adversary=CutsSiloTwo())
    assert isinstance(run.aggregator_error, PartialInputError)
    assert "silo-2" in str(run.aggregator_error)
    assert run.result is None


@pytest.mark.parametrize(
    "tamper",
    [
        lambda s: dataclasses.replace(s, words=s.words ^ np.uint32(1)),  # not in the tree
        lambda s: dataclasses.replace(s, words=np.zeros(1 << 18, np.uint32)),  # oversized
        lambda s: dataclasses.replace(s, leaf=s.leaf + 1),  # not a challenged leaf
    ],
    ids=["altered", "oversized", "unchallenged"],
)
def test_a_bad_spot_leaf_is_refused_before_it_is_relayed_and_nothing_is_revealed(
    tamper: object,
) -> None:
    class BadSpots(Adversary):
        def inbound(self, message):  # type: ignore[no-untyped-def]
            self.seen.append(message)
            if isinstance(message, ConsistencySignature) and message.sender == 2:
                spots = (tamper(message.spot_leaves[0]), *message.spot_leaves[1:])  # type: ignore[operator]
                return [dataclasses.replace(message, spot_leaves=spots)]
            return [message]

    run = run_aggregation(FED, INPUTS, adversary=BadSpots())
    assert any("spot-check" in str(e) for e in run.rejected)
    assert isinstance(run.aggregator_error, UnverifiableReleaseError)
    assert run.result is None
    assert all(ledger.record.sessions[0].response is None for ledger in run.ledgers.values())
