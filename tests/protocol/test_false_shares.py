"""Attributable unmasking: a silo that reveals a false share is named with evidence anyone
can check with the roster's keys alone, and the round completes exactly from the others;
with no t valid responses left, nothing (and certainly no wrong sum) is released."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import replace

import numpy as np
import pytest

from fedsilo.crypto import feldman, group
from fedsilo.errors import (
    CryptoError,
    FalseShareError,
    InconsistentViewError,
    TooFewSurvivorsError,
)
from fedsilo.protocol.events import AccuserOverruled, DealerAccused
from fedsilo.protocol.masking import payloads
from fedsilo.protocol.masking.checks import check_adverts
from fedsilo.protocol.masking.messages import (
    ShareCheck,
    ShareUpload,
    SiloMessage,
    Stage,
    UnmaskingShares,
)
from fedsilo.protocol.masking.sharing import (
    MASK_SEED,
    SELF_SEED,
    check_received,
    deal,
    evidence_from,
    evidence_record,
    random_seed,
    verify_false_share,
)
from fedsilo.protocol.masking.states import SiloState
from fedsilo.protocol.roster import Roster, SiloEntry
from fedsilo.testing.adversary import Adversary, RevealsFalseShare
from fedsilo.testing.entropy import SeededEntropy
from fedsilo.testing.harness import RunResult, make_federation, random_inputs, run_aggregation
from tests.protocol.helpers import plain_sum

FED = make_federation(7)  # t = 5
LIAR = 2
EVERYONE = range(1, 8)


def public_roster() -> Roster:
    """What an auditor holds: the roster's names and verifying keys, no private key."""
    return Roster(tuple(SiloEntry(e.index, e.name, e.verifying_key) for e in FED.roster.silos))


def liar(kind: str, owner: int) -> RevealsFalseShare:
    return RevealsFalseShare(
        colluders={LIAR: FED.identity(LIAR)}, liar=LIAR, owner=owner, kind=kind
    )


def test_a_false_self_seed_share_names_its_revealer_and_the_round_completes_exactly() -> None:
    inputs = random_inputs(FED, 64)
    run = run_aggregation(FED, inputs, adversary=liar("self", owner=3))
    assert run.result is not None, run.aggregator_error
    assert np.array_equal(run.result.total, plain_sum(inputs, EVERYONE, 32))
    assert all(s.state is SiloState.DONE for s in run.silos.values())
    (evidence,) = run.false_shares
    assert (evidence.revealer, evidence.owner, evidence.kind) == (LIAR, 3, SELF_SEED)
    assert verify_false_share(evidence, public_roster(), FED.params.threshold) == "silo-2"
    assert any(isinstance(e, FalseShareError) and "'silo-2'" in str(e) for e in run.rejected)


def test_a_false_mask_seed_share_of_a_dropped_silo_names_its_revealer() -> None:
    inputs = random_inputs(FED, 64)
    run = run_aggregation(
        FED, inputs, adversary=liar("mask", owner=7), drop_at={7: Stage.MASKED_INPUT}
    )
    assert run.result is not None, run.aggregator_error
    assert np.array_equal(run.result.total, plain_sum(inputs, range(1, 7), 32))
    (evidence,) = run.false_shares
    assert (evidence.revealer, evidence.owner, evidence.kind) == (LIAR, 7, MASK_SEED)
    assert verify_false_share(evidence, public_roster(), FED.params.threshold) == "silo-2"


def test_with_exactly_t_responses_one_of_them_false_nothing_is_released_and_the_liar_is_named() -> (
    None
):
    run = run_aggregation(
        FED,
        random_inputs(FED, 64),
        adversary=liar("self", owner=3),
        drop_at={6: Stage.UNMASKING, 7: Stage.UNMASKING},  # 5 = t answer, one falsely
    )
    assert isinstance(run.aggregator_error, TooFewSurvivorsError)
    assert run.result is None and run.verified() == {}
    (evidence,) = run.false_shares
    assert verify_false_share(evidence, public_roster(), FED.params.threshold) == "silo-2"


def test_evidence_whose_share_was_put_right_again_proves_nothing() -> None:
    run = run_aggregation(FED, random_inputs(FED, 64), adversary=liar("self", owner=3))
    (evidence,) = run.false_shares
    honest_response = next(
        m for m in run.adversary.seen if isinstance(m, UnmaskingShares) and m.sender == 1
    )
    with pytest.raises(CryptoError):
        verify_false_share(
            replace(evidence, response=honest_response), public_roster(), FED.params.threshold
        )


def test_evidence_cannot_be_made_against_an_honest_silo_without_its_key() -> None:
    # an aggregator forging "evidence" against silo 1 must sign the false share as silo 1
    framing = RevealsFalseShare(colluders={1: FED.identity(2)}, liar=1, owner=3, kind="self")
    run = run_aggregation(FED, random_inputs(FED, 64), adversary=framing)
    assert run.false_shares == ()  # signed with the wrong key: refused as unsigned, not as false
    assert any("not validly signed" in str(e) for e in run.rejected)


@dataclasses.dataclass
class DealsOffCommitments(Adversary):
    """A colluding dealer whose signed commitments do not match the shares it sealed (one
    coefficient's commitment moved), as a modified node would send them."""

    dealer: int = 3

    def inbound(self, message: SiloMessage) -> list[SiloMessage]:
        relayed = super().inbound(message)
        return [self._skew(m) if isinstance(m, ShareUpload) else m for m in relayed]

    def _skew(self, upload: ShareUpload) -> ShareUpload:
        if upload.sender != self.dealer:
            return upload
        t = FED.params.threshold
        b = feldman.Commitments.from_bytes(upload.commitments.self_seed, t)
        s = feldman.Commitments.from_bytes(upload.commitments.mask_seed, t)
        moved = feldman.Commitments(
            (b.values[0], group.multiply(b.values[1], group.G), *b.values[2:])
        )
        signed = payloads.sign_dealer_commitments(
            self.colluders[self.dealer], upload.context, self.dealer, moved, s
        )
        return dataclasses.replace(upload, commitments=signed)


def assert_the_round_goes_on_without(run: RunResult, inputs: list[np.ndarray], dealer: int) -> None:
    others = [i for i in EVERYONE if i != dealer]
    assert run.result is not None, run.aggregator_error
    assert list(run.result.survivors) == others
    assert np.array_equal(run.result.total, plain_sum(inputs, others, 32))
    assert all(run.silos[i].state is SiloState.DONE for i in others)


def test_a_dealer_whose_commitments_fail_is_accused_by_every_recipient_and_left_out() -> None:
    inputs = random_inputs(FED, 64)
    adversary = DealsOffCommitments(colluders={3: FED.identity(3)}, dealer=3)
    run = run_aggregation(FED, inputs, adversary=adversary)
    assert_the_round_goes_on_without(run, inputs, dealer=3)
    for i in (i for i in EVERYONE if i != 3):
        assert "silo 'silo-3' dealt this silo a share" in run.silos[i].accusations[3]
        assert "the dealer is at fault" in run.silos[i].accusations[3]
    assert run.silos[3].state is SiloState.AWAIT_MASKING_SET  # left out: never masks
    assert run.accused == {3: tuple(i for i in EVERYONE if i != 3)}


def test_an_accused_dealer_is_an_audit_event_naming_it_and_its_accusers() -> None:
    adversary = DealsOffCommitments(colluders={3: FED.identity(3)}, dealer=3)
    run = run_aggregation(FED, random_inputs(FED, 64), adversary=adversary)
    accusers = tuple(FED.roster.name(i) for i in EVERYONE if i != 3)
    assert [e for e in run.events if isinstance(e, DealerAccused)] == [
        DealerAccused(1, "silo-3", accusers)
    ]
    assert not [e for e in run.events if isinstance(e, AccuserOverruled)]


@dataclasses.dataclass
class SealsOneBadShare(Adversary):
    """A colluding dealer that seals one recipient a share it cannot open (one flipped bit),
    and every other recipient a good one."""

    dealer: int = 3
    recipient: int = 5

    def inbound(self, message: SiloMessage) -> list[SiloMessage]:
        relayed = super().inbound(message)
        return [self._spoil(m) if isinstance(m, ShareUpload) else m for m in relayed]

    def _spoil(self, upload: ShareUpload) -> ShareUpload:
        if upload.sender != self.dealer:
            return upload
        shares = tuple(
            dataclasses.replace(e, sealed=bytes([e.sealed[0] ^ 1]) + e.sealed[1:])
            if e.recipient == self.recipient
            else e
            for e in upload.shares
        )
        return dataclasses.replace(upload, shares=shares)


def test_a_dealer_that_sends_one_bad_share_is_named_not_its_recipient_and_the_round_goes_on() -> (
    None
):
    inputs = random_inputs(FED, 64)
    run = run_aggregation(FED, inputs, adversary=SealsOneBadShare(dealer=3, recipient=5))
    assert_the_round_goes_on_without(run, inputs, dealer=3)
    assert set(run.silos[5].accusations) == {3}  # only the recipient of the bad share
    assert all(not run.silos[i].accusations for i in EVERYONE if i not in (3, 5))
    assert run.silos[5].state is SiloState.DONE  # the recipient is not blamed: it takes part
    assert run.accused == {3: (5,)}


def test_with_the_dealer_left_out_too_few_remain_and_nothing_is_released() -> None:
    fed = make_federation(5)  # t = 4: without the dealer, 4 remain; one more drop is too many
    run = run_aggregation(
        fed,
        random_inputs(fed, 64),
        adversary=SealsOneBadShare(dealer=3, recipient=5),
        drop_at={1: Stage.SHARE_CHECK},
    )
    assert isinstance(run.aggregator_error, TooFewSurvivorsError)
    assert run.aggregator_error.stage == Stage.SHARE_CHECK.value
    assert run.result is None


def test_the_evidence_survives_json_and_still_names_the_liar() -> None:
    run = run_aggregation(FED, random_inputs(FED, 64), adversary=liar("self", owner=3))
    (evidence,) = run.false_shares
    parsed = evidence_from(json.loads(json.dumps(evidence_record(evidence))))
    assert parsed == evidence
    assert verify_false_share(parsed, public_roster(), FED.params.threshold) == "silo-2"


def test_a_recipient_refuses_commitments_that_do_not_open_to_the_dealers_advert() -> None:
    # what every silo checks itself, against an aggregator that would relay them anyway
    ctx = FED.context()
    dealer_seed, other_seed = random_seed(SeededEntropy(1)), random_seed(SeededEntropy(2))
    dealt = deal(
        FED.identity(3), ctx, 3, dealer_seed, dealer_seed, 5, list(EVERYONE), SeededEntropy(3)
    )
    advert = payloads.sign_advert(
        FED.identity(3),
        ctx,
        3,
        bytes(32),
        payloads.public_of(dealer_seed),
        payloads.public_of(other_seed),
    )
    with pytest.raises(CryptoError, match="other secrets than its advert commits to"):
        check_received(FED.roster, ctx, 5, 1, advert, dealt.commitments, dealt.pairs[1])


@pytest.mark.parametrize("element", [1, group.P - 1], ids=["identity", "order-two"])
def test_a_mask_public_key_outside_the_prime_order_subgroup_is_refused(element: int) -> None:
    # a key of small order would make the pair seeds with its owner guessable
    ctx = FED.context()
    advert = payloads.sign_advert(
        FED.identity(1), ctx, 1, bytes(32), group.element_to_bytes(element), bytes(384)
    )
    with pytest.raises(InconsistentViewError, match="prime-order subgroup"):
        check_adverts(FED.roster, ctx, [advert])


@dataclasses.dataclass
class AccusesEveryone(Adversary):
    """A colluding silo whose signed share check accuses every other dealer."""

    accuser: int = 2

    def inbound(self, message: SiloMessage) -> list[SiloMessage]:
        relayed = super().inbound(message)
        return [self._accuse(m) if isinstance(m, ShareCheck) else m for m in relayed]

    def _accuse(self, check: ShareCheck) -> ShareCheck:
        if check.sender != self.accuser:
            return check
        others = tuple(i for i in EVERYONE if i != self.accuser)
        return payloads.sign_share_check(
            self.colluders[self.accuser], check.context, check.sender, others
        )


def test_a_silo_accusing_every_dealer_is_left_out_itself_and_the_round_goes_on() -> None:
    inputs = random_inputs(FED, 64)
    run = run_aggregation(FED, inputs, adversary=AccusesEveryone(colluders={2: FED.identity(2)}))
    assert_the_round_goes_on_without(run, inputs, dealer=2)
    assert [e for e in run.events if isinstance(e, AccuserOverruled)] == [
        AccuserOverruled(1, "silo-2")
    ]
