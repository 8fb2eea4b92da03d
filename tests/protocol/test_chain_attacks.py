"""Chain attacks: an aggregator that re-runs, replays or skips rounds learns no second sum.

The attacks of issue 9, through the malicious-aggregator kit: each silo keeps
its :class:`~fedsilo.protocol.ledger.RoundLedger` across sessions and rounds
(the ledgers are passed from one run to the next), so the aggregator meets the
very rules a node enforces. "No second sum" is checked over everything the
adversary saw in every session: no honest silo exposed, and at most one
session of a round in which the adversary holds ``t`` unmasking responses.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fedsilo.crypto.signatures import IdentityKey
from fedsilo.errors import (
    AlreadyRevealedError,
    ChainMismatchError,
    DurabilityError,
    ListedAsDroppedError,
    LocalProtocolError,
    RemoteProtocolError,
    RoundOrderError,
    SessionReplayError,
    SignatureError,
    TooFewSurvivorsError,
    UnexpectedMessageError,
    UnverifiableReleaseError,
)
from fedsilo.protocol.chain import genesis
from fedsilo.protocol.ledger import InMemoryLedgerStore, LedgerRecord, RoundLedger
from fedsilo.protocol.masking.messages import (
    AdvertList,
    ConsistencySignature,
    InputCommitment,
    KeyAdvert,
    SignatureBundle,
    SiloMessage,
    Stage,
    SurvivorList,
    UnmaskingShares,
)
from fedsilo.protocol.masking.payloads import view_digest
from fedsilo.protocol.masking.silo import MaskingSilo
from fedsilo.protocol.masking.states import SiloState
from fedsilo.protocol.messages import Outgoing
from fedsilo.testing.adversary import (
    Adversary,
    DiscardsInputs,
    WithholdsRelease,
    exposed_silos,
    merged,
    unmasked_sessions,
)
from fedsilo.testing.entropy import SeededEntropy
from fedsilo.testing.harness import (
    Federation,
    RunResult,
    fresh_ledger,
    make_federation,
    random_inputs,
    run_aggregation,
)
from tests.protocol.helpers import (
    assert_safe,
    chain_positions,
    flip_bit,
    ledger_at,
    plain_sum,
)

N, COLLUDER, VICTIM = 5, 5, 1
HONEST = [1, 2, 3, 4]
EVERYONE = list(range(1, N + 1))
LENGTH = 64


def federation(n: int = N, threshold: int | None = None) -> Federation:
    return make_federation(n, colluders=1, threshold=threshold)


def colluders(fed: Federation, index: int = COLLUDER) -> dict[int, IdentityKey]:
    return {index: fed.identity(index)}


def ledgers_of(fed: Federation) -> dict[int, RoundLedger]:
    return {i: fresh_ledger(fed) for i in fed.roster.indices}


def run(fed: Federation, adversary: Adversary, **kw: object) -> RunResult:
    inputs = kw.pop("inputs", None) or random_inputs(fed, LENGTH)  # deterministic training
    result = run_aggregation(fed, inputs, adversary=adversary, **kw)  # type: ignore[arg-type]
    assert_safe(result, fed, adversary.colluders)
    return result


def sent_by(adversary: Adversary, silos: list[int], kind: type = object) -> list[SiloMessage]:
    return [m for m in adversary.seen if m.sender in silos and isinstance(m, kind)]


def assert_no_second_sum(
    fed: Federation, honest: list[int], first: RunResult, *adversaries: Adversary
) -> None:
    """Over every session the adversaries ran: no honest silo exposed, and only the
    first session ever had ``t`` unmasking responses."""
    everything = merged(*adversaries)
    t = fed.params.threshold
    assert exposed_silos(everything, honest, t) == []
    assert first.result is not None
    assert unmasked_sessions(everything, honest, fed.params.colluders, t) == [first.result.context]


# --- 1. the exact attack -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("head_of_b", "refusal"),
    [("same-head", AlreadyRevealedError), ("one-bit-different-head", ChainMismatchError)],
)
def test_a_round_claimed_not_released_is_never_unmasked_again_without_the_victim(
    head_of_b: str, refusal: type[RemoteProtocolError]
) -> None:
    fed = federation()
    ledgers = ledgers_of(fed)
    session_a = WithholdsRelease(colluders=colluders(fed))
    a = run(fed, session_a, ledgers=ledgers, session=1)
    # A included everyone, was unmasked by the aggregator, and was "not released"
    assert a.result is not None and a.result.survivors == tuple(EVERYONE)
    assert a.verified() == {}
    assert all(ledgers[i].revealed(a.result.context.session_id) is not None for i in HONEST)
    before = chain_positions(ledgers)

    h0 = fed.context().chain_head
    head = h0 if head_of_b == "same-head" else flip_bit(h0, 77)
    session_b = DiscardsInputs(colluders=colluders(fed), victims=frozenset({VICTIM}))
    b = run(
        fed,
        session_b,
        ledgers={**ledgers, COLLUDER: ledger_at(fed, 0, head)},  # the colluder joins anything
        session=2,
        chain_head=head,
    )

    for i in HONEST:  # the victim included
        assert isinstance(b.silo_error(i), refusal), (i, b.silo_error(i))
    assert sent_by(session_b, HONEST) == []  # refused before drawing a key
    assert isinstance(b.aggregator_error, TooFewSurvivorsError)
    assert b.result is None
    assert {i: chain_positions(ledgers)[i] for i in HONEST} == {i: before[i] for i in HONEST}
    assert all(len(ledgers[i].record.sessions) == 1 for i in HONEST)  # B never admitted
    assert_no_second_sum(fed, HONEST, a, session_a, session_b)


# --- 2. the statistical attack -------------------------------------------------------------


@pytest.mark.parametrize(
    ("round_number", "on", "refusal"),
    [
        (1, "H0", RoundOrderError),
        (1, "H1", RoundOrderError),
        (3, "H1", RoundOrderError),
        (2, "H0", ChainMismatchError),
    ],
    ids=["same-round-again", "same-round-on-new-head", "skipped-round", "next-round-old-head"],
)
def test_a_replayed_skipped_or_stale_round_is_refused_by_every_silo_and_round_2_follows(
    round_number: int, on: str, refusal: type[RemoteProtocolError]
) -> None:
    fed = federation()
    ledgers = ledgers_of(fed)
    first = run(fed, Adversary(colluders=colluders(fed)), ledgers=ledgers, session=1)
    assert first.result is not None
    h0, h1 = fed.context().chain_head, ledgers[1].head
    assert h1 != h0 and set(first.acks.values()) == {h1}
    assert all(ledger.chain == ledgers[1].chain for ledger in ledgers.values())
    before = chain_positions(ledgers)

    attempt_adversary = Adversary(colluders=colluders(fed))
    attempt = run(
        fed,
        attempt_adversary,
        ledgers=ledgers,
        session=2,
        round_number=round_number,
        chain_head=h0 if on == "H0" else h1,
        drop_at={VICTIM: Stage.MASKED_INPUT},  # the victim dropped in this "round"
    )
    for i in EVERYONE:
        assert isinstance(attempt.silo_error(i), refusal), (i, attempt.silo_error(i))
    assert attempt_adversary.seen == []
    assert attempt.result is None
    assert chain_positions(ledgers) == before

    genuine = run(
        fed,
        Adversary(colluders=colluders(fed)),
        ledgers=ledgers,
        session=3,
        round_number=2,
        chain_head=h1,
    )
    assert genuine.result is not None and genuine.result.survivors == tuple(EVERYONE)
    assert all(s.state is SiloState.DONE for s in genuine.silos.values())
    assert {ledger.final_round for ledger in ledgers.values()} == {2}
    assert len(set(genuine.acks.values())) == 1 and h1 not in genuine.acks.values()


def test_an_advert_signed_on_another_chain_head_is_refused_even_when_relabelled() -> None:
    # Silo 3 is on another chain (it derived another model): the aggregator relabels its
    # advert with the common context. The signature binds H_{r-1}, so it does not verify.
    fed = federation()
    ctx = fed.context()
    other = dataclasses.replace(ctx, chain_head=flip_bit(ctx.chain_head))
    relabelled: list[KeyAdvert] = []

    class Relabels(Adversary):
        def inbound(self, message: SiloMessage) -> list[SiloMessage]:
            self.seen.append(message)
            if isinstance(message, KeyAdvert) and message.sender == 3:
                relabelled.append(dataclasses.replace(message, context=ctx))
                return []
            return [message]

        def outbound(self, outgoing: list[Outgoing]) -> list[Outgoing]:
            return [
                Outgoing(
                    o.recipient,
                    dataclasses.replace(
                        o.message,
                        adverts=tuple(
                            sorted((*o.message.adverts, *relabelled), key=lambda a: a.sender)
                        ),
                    ),
                )
                if isinstance(o.message, AdvertList)
                else o
                for o in outgoing
            ]

    result = run(
        fed,
        Relabels(colluders=colluders(fed)),
        contexts={3: other},
        ledgers={3: ledger_at(fed, 0, other.chain_head)},
    )
    assert relabelled
    for i in (1, 2, 4, 5):
        assert isinstance(result.silo_error(i), SignatureError), result.silo_error(i)
        assert "silo-3" in str(result.silo_error(i))
    assert result.result is None


# --- 4. fresh randomness per session; the victim told it dropped; the split group ----------


def adverts_and_inputs(
    adversary: Adversary,
) -> tuple[dict[int, KeyAdvert], dict[int, InputCommitment]]:
    adverts = {m.sender: m for m in adversary.seen if isinstance(m, KeyAdvert)}
    inputs = {m.sender: m for m in adversary.seen if isinstance(m, InputCommitment)}
    return adverts, inputs


def test_two_sessions_of_one_round_use_fresh_keys_and_self_seed_commitments() -> None:
    fed = federation()
    ledgers = ledgers_of(fed)
    # one continuing entropy source per silo, like a node's operating-system RNG
    entropies = {i: SeededEntropy("node", i) for i in EVERYONE}
    inputs = random_inputs(fed, LENGTH)
    first = Adversary(colluders=colluders(fed))
    a = run(
        fed,
        first,
        inputs=inputs,
        ledgers=ledgers,
        entropies=entropies,
        session=1,
        drop_at={3: Stage.CONSISTENCY_CHECK},
    )
    assert isinstance(a.aggregator_error, UnverifiableReleaseError)  # aborted before a reveal
    assert sent_by(first, EVERYONE, UnmaskingShares) == []
    second = Adversary(colluders=colluders(fed))
    b = run(fed, second, inputs=inputs, ledgers=ledgers, entropies=entropies, session=2)
    assert b.result is not None
    assert np.array_equal(b.result.total, plain_sum(inputs, EVERYONE, 32))

    adverts_a, inputs_a = adverts_and_inputs(first)
    adverts_b, inputs_b = adverts_and_inputs(second)
    keys_a = {k for ad in adverts_a.values() for k in (ad.cipher_public_key, ad.mask_public_key)}
    for i in EVERYONE:
        assert adverts_b[i].cipher_public_key not in keys_a
        assert adverts_b[i].mask_public_key not in keys_a
        assert adverts_b[i].seed_commitment != adverts_a[i].seed_commitment
        assert inputs_b[i].digest != inputs_a[i].digest  # same update, fresh masks


def test_the_masks_of_two_sessions_differ_even_if_a_silos_entropy_repeats() -> None:
    # Defence in depth: every derivation binds the session context, so a silo whose
    # entropy source restarts from the same state still masks each session afresh.
    fed = federation()
    ledgers = ledgers_of(fed)
    inputs = random_inputs(fed, LENGTH)
    first, second = Adversary(colluders=colluders(fed)), Adversary(colluders=colluders(fed))
    run(
        fed,
        first,
        inputs=inputs,
        ledgers=ledgers,
        entropies={i: SeededEntropy("stuck", i) for i in EVERYONE},
        session=1,
        drop_at={3: Stage.CONSISTENCY_CHECK},
    )
    run(
        fed,
        second,
        inputs=inputs,
        ledgers=ledgers,
        entropies={i: SeededEntropy("stuck", i) for i in EVERYONE},
        session=2,
    )
    adverts_a, inputs_a = adverts_and_inputs(first)
    adverts_b, inputs_b = adverts_and_inputs(second)
    for i in EVERYONE:
        # the entropy did repeat: the public keys and g^{b_u} depend on it alone ...
        assert adverts_b[i].cipher_public_key == adverts_a[i].cipher_public_key
        assert adverts_b[i].mask_public_key == adverts_a[i].mask_public_key
        assert adverts_b[i].seed_commitment == adverts_a[i].seed_commitment
        # ... but every mask is keyed with the session bound in
        assert inputs_b[i].digest != inputs_a[i].digest


@dataclasses.dataclass
class TellsVictimItDropped(WithholdsRelease, DiscardsInputs):
    """Discards the victims' inputs, forwards them the survivor list that names them as
    dropped, and never releases the round the others unmask."""

    def outbound(self, outgoing: list[Outgoing]) -> list[Outgoing]:
        relayed = super().outbound(outgoing)
        lists = [o.message for o in relayed if isinstance(o.message, SurvivorList)]
        return relayed + [Outgoing(v, lists[0]) for v in sorted(self.victims) if lists]


def test_a_silo_told_it_dropped_joins_the_next_session_but_no_second_sum_is_released() -> None:
    fed = federation()
    ledgers = ledgers_of(fed)
    session_a = TellsVictimItDropped(colluders=colluders(fed), victims=frozenset({VICTIM}))
    a = run(fed, session_a, ledgers=ledgers, session=1)
    assert isinstance(a.silo_error(VICTIM), ListedAsDroppedError)
    assert a.result is not None and a.result.dropped == (VICTIM,)  # the others revealed in A
    assert {m.sender for m in sent_by(session_a, EVERYONE, UnmaskingShares)} == {2, 3, 4, 5}

    session_b = Adversary(colluders=colluders(fed))
    b = run(
        fed,
        session_b,
        ledgers={**ledgers, COLLUDER: ledger_at(fed, 0, fed.context().chain_head)},
        session=2,
    )
    # the victim joins B (it never revealed in A, which it now abandons) ...
    assert b.silo_error(VICTIM) is None
    sessions = ledgers[VICTIM].record.sessions
    assert [s.session_id for s in sessions] == [
        a.silos[VICTIM].context.session_id,
        b.silos[VICTIM].context.session_id,
    ]
    assert sessions[0].abandoned and sessions[0].response is None
    # ... and the others refuse it, so B never reaches t
    for i in (2, 3, 4):
        assert isinstance(b.silo_error(i), AlreadyRevealedError), (i, b.silo_error(i))
    assert isinstance(b.aggregator_error, TooFewSurvivorsError)
    assert b.result is None
    assert_no_second_sum(fed, HONEST, a, session_a, session_b)


def test_the_split_group_attack_at_the_threshold_bound_yields_no_second_sum() -> None:
    fed = federation(6, threshold=4)  # n = 6, n_C = 1, t = 4
    n, n_c, t = fed.roster.size, fed.params.colluders, fed.params.threshold
    assert 2 * t == n + n_c + 1  # the tightest threshold the config allows
    colluder, group_a, group_b = 6, [1, 2, 3], [4, 5]  # the victim, 1, is in group A
    honest = [*group_a, *group_b]
    assert len(group_a) + n_c == t and len(group_b) + n_c == t - 1
    ledgers = ledgers_of(fed)

    session_a = WithholdsRelease(colluders=colluders(fed, colluder))
    a = run(
        fed,
        session_a,
        ledgers=ledgers,
        session=1,
        drop_at=dict.fromkeys(group_b, Stage.ADVERTISE_KEYS),  # A: group A + the colluder
    )
    assert a.result is not None and a.result.survivors == (*group_a, colluder)

    session_b = Adversary(colluders=colluders(fed, colluder))
    b = run(
        fed,
        session_b,
        ledgers={**ledgers, colluder: ledger_at(fed, 0, fed.context().chain_head)},
        session=2,  # B: everyone asked; group B and the colluder join, one short of t
    )
    for i in group_a:
        assert isinstance(b.silo_error(i), AlreadyRevealedError), (i, b.silo_error(i))
    for i in group_b:
        assert b.silo_error(i) is None  # willing, but too few
        assert ledgers[i].record.sessions[-1].session_id == b.silos[i].context.session_id
    assert isinstance(b.aggregator_error, TooFewSurvivorsError)
    assert b.result is None
    assert_no_second_sum(fed, honest, a, session_a, session_b)


@dataclasses.dataclass
class StallsBeforeUnmasking(Adversary):
    """Keeps every signature bundle (to deliver later): the silos sign their views and
    wait, and the session reveals nothing."""

    stash: dict[int, SignatureBundle] = dataclasses.field(default_factory=dict)

    def outbound(self, outgoing: list[Outgoing]) -> list[Outgoing]:
        for o in outgoing:
            if isinstance(o.message, SignatureBundle):
                self.stash[o.recipient] = o.message
        return [o for o in outgoing if not isinstance(o.message, SignatureBundle)]


@pytest.mark.parametrize("later", ["aborted", "finished"])
def test_a_silo_that_joined_a_later_session_never_reveals_in_the_earlier_one(later: str) -> None:
    fed = federation()
    ledgers = ledgers_of(fed)
    session_a = StallsBeforeUnmasking(colluders=colluders(fed))
    a = run(fed, session_a, ledgers=ledgers, session=1)
    assert a.result is None and set(session_a.stash) == set(EVERYONE)
    drop = {i: Stage.SHARE_KEYS for i in (1, 2)} if later == "aborted" else {}
    b = run(fed, Adversary(colluders=colluders(fed)), ledgers=ledgers, session=2, drop_at=drop)
    assert (b.result is None) == (later == "aborted")

    for i in HONEST:  # the stalled session A now asks for the reveal
        with pytest.raises(SessionReplayError):
            a.silos[i].receive(session_a.stash[i])
        assert a.silos[i].state is SiloState.ABORTED
        assert ledgers[i].revealed(a.silos[i].context.session_id) is None
    assert sent_by(session_a, EVERYONE, UnmaskingShares) == []


# --- 5. durable before sending; one view per session ------------------------------------


class FailingLedgerStore:
    """A ledger store whose disk fails exactly when a reveal is to be recorded."""

    def __init__(self) -> None:
        self.inner = InMemoryLedgerStore()
        self.refused = 0

    def load(self) -> LedgerRecord | None:
        return self.inner.load()

    def save(self, record: LedgerRecord) -> None:
        if any(s.response is not None for s in record.sessions):
            self.refused += 1
            raise DurabilityError("fsync failed: the reveal is not durable, nothing was sent")
        self.inner.save(record)


@pytest.mark.parametrize("failing", [[2], HONEST], ids=["one-silo", "every-honest-silo"])
def test_a_silo_whose_ledger_cannot_make_the_reveal_durable_reveals_nothing(
    failing: list[int],
) -> None:
    fed = federation()
    stores = {i: FailingLedgerStore() for i in failing}
    ledgers = {i: RoundLedger(stores[i], genesis(fed.config_digest)) for i in failing}
    adversary = Adversary(colluders=colluders(fed))
    result = run(fed, adversary, ledgers=ledgers)

    for i in failing:
        assert isinstance(result.silo_error(i), DurabilityError), result.silo_error(i)
        assert stores[i].refused == 1
        assert sent_by(adversary, [i], UnmaskingShares) == []
        assert ledgers[i].record.sessions[-1].view is not None  # it got as far as the view
        assert ledgers[i].revealed(result.silos[i].context.session_id) is None
        assert result.silos[i].aggregate is None and ledgers[i].final_round == 0
    if len(failing) == 1:  # the four others still reach t: the round completes without it
        assert result.result is not None
        assert all(result.silos[i].state is SiloState.DONE for i in (1, 3, 4, 5))
    else:
        assert isinstance(result.aggregator_error, TooFewSurvivorsError)
        assert result.result is None
        assert unmasked_sessions(adversary, HONEST, 1, fed.params.threshold) == []


def test_a_silo_never_signs_a_second_view_in_one_session() -> None:
    fed = federation()

    class AsksTwice(Adversary):
        def outbound(self, outgoing: list[Outgoing]) -> list[Outgoing]:
            out = []
            for o in outgoing:
                out.append(o)
                m = o.message
                if isinstance(m, SurvivorList) and o.recipient == 2:  # a second, other view
                    survivors = tuple(s for s in m.survivors if s != 3)
                    out.append(
                        Outgoing(
                            2,
                            dataclasses.replace(
                                m,
                                survivors=survivors,
                                dropped=(*m.dropped, 3),
                                commitments=tuple(c for c in m.commitments if c.sender != 3),
                            ),
                        )
                    )
            return out

    adversary = AsksTwice(colluders=colluders(fed))
    result = run(fed, adversary)
    assert isinstance(result.silo_error(2), UnexpectedMessageError)
    assert len(sent_by(adversary, [2], ConsistencySignature)) == 1
    signed = result.silos[2].signed_view
    assert signed is not None and 3 in signed.survivors  # the first view, and only it
    assert result.ledgers[2].record.sessions[-1].view == view_digest(signed)
    assert sent_by(adversary, [2], UnmaskingShares) == []  # it aborted: it reveals nothing


def test_a_restarted_silo_never_signs_a_second_view_in_the_session_it_joined() -> None:
    fed = federation()
    ledgers = ledgers_of(fed)
    a = run(fed, StallsBeforeUnmasking(colluders=colluders(fed)), ledgers=ledgers)
    record = ledgers[2].record
    assert record.sessions[-1].view is not None

    restarted = MaskingSilo(
        context=a.silos[2].context,
        roster=fed.roster,
        params=fed.params,
        index=2,
        identity=fed.identity(2),
        entropy=SeededEntropy("after the restart"),
        ledger=ledgers[2],
        quantized_input=random_inputs(fed, LENGTH)[1],
    )
    with pytest.raises(LocalProtocolError, match="already joined"):
        restarted.start()
    assert restarted.state is SiloState.ABORTED and restarted.signed_view is None
    assert ledgers[2].record == record


def test_the_exact_attack_recovers_the_victims_update_from_silos_that_forget_session_a() -> None:
    # The control for the test above: the same two sessions against silos whose ledgers
    # forgot session A (a ledger keyed on what the aggregator chooses does no better)
    # give the aggregator A - B = the victim's quantized update, exactly.
    fed = federation()
    inputs = random_inputs(fed, LENGTH)
    a = run(fed, WithholdsRelease(colluders=colluders(fed)), inputs=inputs, session=1)
    victim_dropped = DiscardsInputs(colluders=colluders(fed), victims=frozenset({VICTIM}))
    b = run(fed, victim_dropped, inputs=inputs, session=2)  # fresh ledgers: A forgotten
    assert a.result is not None and b.result is not None and b.result.dropped == (VICTIM,)
    assert np.array_equal(a.result.total - b.result.total, inputs[VICTIM - 1])
