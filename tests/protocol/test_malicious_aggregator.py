"""An actively malicious aggregator, colluding with n_C silos, learns no single update.

Each test scripts one behaviour. Honest silos must either abort with a
specific, named error or complete with the one consistent view; over the
adversary's whole view (counting the colluders' own shares) no honest silo
may have both t self-mask shares and t mask-key shares exposed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import numpy as np
import pytest

from fedsilo.crypto import kdf
from fedsilo.errors import (
    AlreadyRevealedError,
    ChainMismatchError,
    ContextMismatchError,
    EquivocationRefusedError,
    InconsistentViewError,
    ListedAsDroppedError,
    RosterError,
    RoundOrderError,
    SignatureError,
    TooFewSurvivorsError,
    UnexpectedMessageError,
    UnverifiableReleaseError,
)
from fedsilo.protocol.masking import payloads
from fedsilo.protocol.masking.messages import (
    AdvertList,
    ConsistencySignature,
    InputCommitment,
    MaskedInput,
    ShareRelay,
    SignatureBundle,
    SiloMessage,
    Stage,
    SurvivorList,
)
from fedsilo.protocol.masking.payloads import SurvivorView
from fedsilo.protocol.masking.states import SiloState
from fedsilo.protocol.messages import Outgoing
from fedsilo.testing.adversary import Adversary, WithholdsRelease, unmasked_sessions, wide_sum
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
    assert_each_honest_silo_aborts_or_completes,
    assert_safe,
    flip_bit,
    ledger_at,
)

N, COLLUDER = 5, 5
HONEST = [1, 2, 3, 4]


def federation(n: int = N) -> Federation:
    return make_federation(n, colluders=1)


def adversary_for(fed: Federation, cls: type[Adversary] = Adversary, **kw: object) -> Adversary:
    colluder = fed.roster.size
    return cls(colluders={colluder: fed.identity(colluder)}, **kw)  # type: ignore[arg-type]


def rewrite(outgoing: Iterable[Outgoing], kind: type, fn: object) -> list[Outgoing]:
    return [
        Outgoing(o.recipient, fn(o))  # type: ignore[operator]
        if isinstance(o.message, kind)
        else o
        for o in outgoing
    ]


def run(fed: Federation, adversary: Adversary, **kw: object) -> RunResult:
    result = run_aggregation(fed, random_inputs(fed, 64), adversary=adversary, **kw)  # type: ignore[arg-type]
    assert_safe(result, fed, adversary.colluders)
    return result


def test_listing_a_silo_as_both_survivor_and_dropped_aborts_the_silos_that_see_it() -> None:
    class BothLists(Adversary):
        def outbound(self, outgoing: list[Outgoing]) -> list[Outgoing]:
            return rewrite(
                outgoing,
                SurvivorList,
                lambda o: dataclasses.replace(o.message, dropped=(*o.message.dropped, 1)),
            )

    fed = federation()
    result = run(fed, adversary_for(fed, BothLists))
    for i in HONEST:
        assert isinstance(result.silo_error(i), InconsistentViewError)
        assert "both survivor and dropped" in str(result.silo_error(i))
    assert result.result is None


def test_listing_the_receiving_silo_as_dropped_makes_it_abort() -> None:
    class DropsRecipient(Adversary):
        def outbound(self, outgoing: list[Outgoing]) -> list[Outgoing]:
            def drop_two(o: Outgoing) -> SurvivorList:
                m = o.message
                assert isinstance(m, SurvivorList)
                if o.recipient != 2:
                    return m
                survivors = tuple(s for s in m.survivors if s != 2)
                return dataclasses.replace(m, survivors=survivors, dropped=(*m.dropped, 2))

            return rewrite(outgoing, SurvivorList, drop_two)

    fed = federation()
    result = run(fed, adversary_for(fed, DropsRecipient))
    assert isinstance(result.silo_error(2), ListedAsDroppedError)
    # silo 2's sketch is missing, so the release could not be verified: the session is
    # aborted before anything is revealed, naming silo 2
    assert_each_honest_silo_aborts_or_completes(
        result, HONEST, (ListedAsDroppedError,), aggregator_abort=UnverifiableReleaseError
    )
    assert "silo-2" in str(result.aggregator_error)


@pytest.mark.parametrize(
    ("kind", "tamper"),
    [
        (AdvertList, lambda m: dataclasses.replace(m, adverts=(*m.adverts, m.adverts[0]))),
        (ShareRelay, lambda m: dataclasses.replace(m, senders=(*m.senders, 99))),
        (SurvivorList, lambda m: dataclasses.replace(m, survivors=(*m.survivors, 99))),
        (SurvivorList, lambda m: dataclasses.replace(m, survivors=(*m.survivors, m.survivors[0]))),
        (
            SignatureBundle,
            lambda m: dataclasses.replace(m, signatures=(*m.signatures, m.signatures[0])),
        ),
    ],
    ids=[
        "duplicate-advert",
        "unknown-share-sender",
        "unknown-survivor",
        "duplicate-survivor",
        "duplicate-signature",
    ],
)
def test_listing_an_unknown_or_duplicate_id_aborts_with_a_roster_error(
    kind: type, tamper: object
) -> None:
    class BadIds(Adversary):
        def outbound(self, outgoing: list[Outgoing]) -> list[Outgoing]:
            return rewrite(outgoing, kind, lambda o: tamper(o.message))  # type: ignore[operator]

    fed = federation()
    result = run(fed, adversary_for(fed, BadIds))
    for i in HONEST:
        assert isinstance(result.silo_error(i), RosterError), result.silo_error(i)
    assert result.result is None


def test_different_survivor_sets_to_different_silos_never_reach_two_quorums() -> None:
    # n = 7, t = 5, n_C = 1. The aggregator discards group B's inputs, so the core lists
    # B as dropped and group A (with the colluder) is told the victim survived; group B is
    # told, in a view the adversary builds, that B survived and the victim dropped.
    fed = make_federation(7, colluders=1)
    victim, group_b, colluder = 1, frozenset({5, 6}), 7

    class SplitView(Adversary):
        stash: list[ConsistencySignature]
        masked: dict[int, list[MaskedInput]]
        commitments: dict[int, InputCommitment]

        def inbound(self, message: SiloMessage) -> list[SiloMessage]:
            self.seen.append(message)
            if isinstance(message, MaskedInput):
                self.masked.setdefault(message.sender, []).append(message)
            if isinstance(message, InputCommitment):
                self.commitments[message.sender] = message
            if message.sender in group_b and isinstance(
                message, MaskedInput | InputCommitment | ConsistencySignature
            ):
                if isinstance(message, ConsistencySignature):
                    self.stash.append(message)  # signed over the B view: kept from the core
                return []
            return [message]

        def outbound(self, outgoing: list[Outgoing]) -> list[Outgoing]:
            out = []
            for o in outgoing:
                m = o.message
                if isinstance(m, SurvivorList) and o.recipient == min(m.survivors):
                    out += [Outgoing(b, self.view_for_b(m)) for b in sorted(group_b)]
                if isinstance(m, SignatureBundle) and o.recipient == min(m.survivors):
                    out += [Outgoing(b, self.bundle_for_b(m)) for b in sorted(group_b)]
                out.append(o)
            return out

        def view_for_b(self, core: SurvivorList) -> SurvivorList:
            survivors = tuple(sorted({*core.survivors, *group_b} - {victim}))
            total = wide_sum(
                (np.concatenate([c.values for c in self.masked[s]]) for s in survivors), 32
            )
            self.b_view = SurvivorView(
                survivors,
                (victim,),
                tuple(self.commitments[s] for s in survivors),
                total.digest(),
            )
            return SurvivorList(
                core.context,
                survivors,
                (victim,),
                self.b_view.commitments,
                self.b_view.sum_digest,
            )

        def bundle_for_b(self, honest_bundle: SignatureBundle) -> SignatureBundle:
            view, ctx = self.b_view, honest_bundle.context
            sketch = (0, 0)
            forged = payloads.sign_consistency(fed.identity(colluder), ctx, colluder, view, sketch)
            sigs = (
                *self.stash,
                ConsistencySignature(ctx, colluder, sketch, (), forged),
                # A's (2, 3, 4) pad the list to every B survivor, but were made over A's view
                *(s for s in honest_bundle.signatures if s.sender in {2, 3, 4}),
            )
            return SignatureBundle(ctx, view.survivors, view.dropped, sigs)

    adversary = SplitView(colluders={colluder: fed.identity(colluder)})
    adversary.stash, adversary.masked, adversary.commitments = [], {}, {}
    result = run(fed, adversary)
    assert len(adversary.stash) == len(group_b)  # group B did sign the B view
    for b in group_b:
        assert isinstance(result.silo_error(b), InconsistentViewError)
        assert "did not sign the survivor view" in str(result.silo_error(b))
    assert_each_honest_silo_aborts_or_completes(result, range(1, 7), (InconsistentViewError,))
    assert result.result is not None and result.result.survivors == (1, 2, 3, 4, 7)
    honest = range(1, 7)
    assert unmasked_sessions(adversary, honest, 1, fed.params.threshold) == [result.result.context]


def _substitute(m: AdvertList, fed: Federation) -> AdvertList:
    evil = kdf.x25519_public_bytes(kdf.generate_x25519(SeededEntropy("evil")))
    first = dataclasses.replace(m.adverts[0], mask_public_key=evil)
    return dataclasses.replace(m, adverts=(first, *m.adverts[1:]))


def _unsign(m: AdvertList, fed: Federation) -> AdvertList:
    first = dataclasses.replace(m.adverts[0], signature=b"")
    return dataclasses.replace(m, adverts=(first, *m.adverts[1:]))


def _resign(m: AdvertList, fed: Federation) -> AdvertList:
    evil = kdf.x25519_public_bytes(kdf.generate_x25519(SeededEntropy("evil")))
    a = m.adverts[0]
    forged = payloads.sign_advert(
        fed.identity(COLLUDER), a.context, a.sender, evil, evil[::-1], a.seed_commitment
    )
    return dataclasses.replace(m, adverts=(forged, *m.adverts[1:]))


@pytest.mark.parametrize(
    "tamper", [_substitute, _unsign, _resign], ids=["substituted", "unsigned", "re-signed"]
)
def test_a_substituted_unsigned_or_resigned_advert_is_refused(tamper: object) -> None:
    class BadAdvert(Adversary):
        def outbound(self, outgoing: list[Outgoing]) -> list[Outgoing]:
            return rewrite(outgoing, AdvertList, lambda o: tamper(o.message, fed))  # type: ignore[operator]

    fed = federation()
    result = run(fed, adversary_for(fed, BadAdvert))
    assert isinstance(result.silo_error(1), InconsistentViewError)  # its own advert was altered
    for i in HONEST[1:]:
        assert isinstance(result.silo_error(i), SignatureError)
        assert "silo-1" in str(result.silo_error(i))
    assert result.result is None


def _recorded(fed: Federation, kind: type, **kw: Any) -> Any:
    """The first ``kind`` message of a genuine session run with ``kw``; the silos' ledgers
    are at the position that session continues (so they join it)."""
    recorder = adversary_for(fed)
    seen: list[object] = []

    class Record(Adversary):
        def outbound(self, outgoing: list[Outgoing]) -> list[Outgoing]:
            seen.extend(o.message for o in outgoing if isinstance(o.message, kind))
            return outgoing

    round_number = kw.get("round_number", 1)
    head = kw.get("chain_head", fed.context().chain_head)
    ledgers = {i: ledger_at(fed, round_number - 1, head) for i in fed.roster.indices}
    run_aggregation(
        fed,
        random_inputs(fed, 64),
        adversary=Record(colluders=recorder.colluders),
        ledgers=ledgers,
        **kw,
    )
    return seen[0]


OTHER_HEAD = flip_bit(make_federation(3).context().chain_head)  # every test federation's H_0


@pytest.mark.parametrize(
    ("old", "expected"),
    [
        ({"session": 9}, ContextMismatchError),
        ({"round_number": 9}, ContextMismatchError),
        ({"chain_head": OTHER_HEAD}, ContextMismatchError),
        ({"stage": "share-keys"}, UnexpectedMessageError),
    ],
    ids=["other-session", "other-round", "other-chain-head", "other-stage"],
)
def test_a_message_replayed_from_another_session_round_chain_head_or_stage_is_refused(
    old: dict[str, object], expected: type[Exception]
) -> None:
    fed = federation()
    if "stage" in old:
        replayed = _recorded(fed, AdvertList)  # an AdvertList where a ShareRelay is due

        class Replay(Adversary):
            def outbound(self, outgoing: list[Outgoing]) -> list[Outgoing]:
                return rewrite(outgoing, ShareRelay, lambda o: replayed)
    else:
        replayed = _recorded(fed, AdvertList, **old)
        assert replayed.context != fed.context()

        class Replay(Adversary):  # type: ignore[no-redef]
            def outbound(self, outgoing: list[Outgoing]) -> list[Outgoing]:
                return rewrite(outgoing, AdvertList, lambda o: replayed)

    result = run(fed, adversary_for(fed, Replay))
    for i in HONEST:
        assert isinstance(result.silo_error(i), expected), result.silo_error(i)
    assert result.result is None


def test_adverts_from_another_session_inside_a_current_list_are_refused() -> None:
    fed = federation()
    old = _recorded(fed, AdvertList, session=9)
    assert isinstance(old, AdvertList)

    class MixOld(Adversary):
        def outbound(self, outgoing: list[Outgoing]) -> list[Outgoing]:
            return rewrite(
                outgoing,
                AdvertList,
                lambda o: dataclasses.replace(
                    o.message, adverts=(*o.message.adverts[:1], *old.adverts[1:])
                ),
            )

    result = run(fed, adversary_for(fed, MixOld))
    for i in HONEST:
        assert isinstance(result.silo_error(i), ContextMismatchError | InconsistentViewError)
    assert result.result is None


def test_a_different_chain_head_announced_to_one_silo_is_refused_by_that_silo() -> None:
    # The chain analogue of "a different model hash": silo 3 is told round 1 continues
    # another history. It refuses before drawing a key; the others finish without it.
    fed = federation()
    ctx = fed.context()
    result = run(
        fed,
        adversary_for(fed),
        contexts={3: dataclasses.replace(ctx, chain_head=flip_bit(ctx.chain_head))},
    )
    assert isinstance(result.silo_error(3), ChainMismatchError)
    assert not any(m.sender == 3 for m in result.adversary.seen)  # nothing left silo 3
    assert result.ledgers[3].record.sessions == ()  # and it recorded no session
    assert result.result is not None and result.result.survivors == (1, 2, 4, 5)
    assert_each_honest_silo_aborts_or_completes(result, HONEST, (ChainMismatchError,))


def test_a_silo_on_another_chain_is_bound_to_it_and_detects_the_mismatch() -> None:
    # Silo 3 derived another history (its ledger is on another head) and is announced
    # that head: everything it signs is bound to it, so the core refuses its advert and
    # silo 3 refuses the others' advert list, relayed to it, as another context's.
    class ShowsAdvertsToAll(Adversary):
        def outbound(self, outgoing: list[Outgoing]) -> list[Outgoing]:
            lists = [o for o in outgoing if isinstance(o.message, AdvertList)]
            if lists and all(o.recipient != 3 for o in lists):
                return [*outgoing, Outgoing(3, lists[0].message)]
            return outgoing

    fed = federation()
    ctx = fed.context()
    other = dataclasses.replace(ctx, chain_head=flip_bit(ctx.chain_head))
    result = run(
        fed,
        adversary_for(fed, ShowsAdvertsToAll),
        contexts={3: other},
        ledgers={3: ledger_at(fed, 0, other.chain_head)},
    )
    assert isinstance(result.silo_error(3), ContextMismatchError)
    assert any(isinstance(e, ContextMismatchError) for e in result.rejected)  # its advert
    assert_each_honest_silo_aborts_or_completes(result, HONEST, (ContextMismatchError,))
    assert result.result is not None and 3 not in result.result.survivors


@pytest.mark.parametrize(
    ("first_adversary", "expected"),
    [(Adversary, RoundOrderError), (WithholdsRelease, AlreadyRevealedError)],
    ids=["released", "claimed-not-released"],
)
def test_rerunning_a_finished_round_without_one_silo_is_refused(
    first_adversary: type[Adversary], expected: type[EquivocationRefusedError]
) -> None:
    fed = federation()
    ledgers = {i: fresh_ledger(fed) for i in range(1, N + 1)}
    first = run(fed, adversary_for(fed, first_adversary), ledgers=ledgers, session=1)
    assert first.result is not None and first.result.survivors == (1, 2, 3, 4, 5)
    again = run(
        fed, adversary_for(fed), ledgers=ledgers, session=2, drop_at={1: Stage.ADVERTISE_KEYS}
    )
    for i in HONEST[1:]:
        assert isinstance(again.silo_error(i), expected), again.silo_error(i)
    assert isinstance(again.aggregator_error, TooFewSurvivorsError)
    assert again.result is None


@pytest.mark.parametrize(
    ("first_adversary", "expected", "says"),
    [
        (Adversary, RoundOrderError, "last final round is 1"),
        (WithholdsRelease, AlreadyRevealedError, "already unmasked"),
    ],
    ids=["released", "claimed-not-released"],
)
def test_rerunning_a_finished_round_with_the_same_survivors_does_not_unmask_twice(
    first_adversary: type[Adversary], expected: type[EquivocationRefusedError], says: str
) -> None:
    fed = federation()
    ledgers = {i: fresh_ledger(fed) for i in range(1, N + 1)}
    first = run(fed, adversary_for(fed, first_adversary), ledgers=ledgers, session=1)
    again = run(fed, adversary_for(fed), ledgers=ledgers, session=2)
    for i in HONEST:
        assert isinstance(again.silo_error(i), expected), again.silo_error(i)
        assert says in str(again.silo_error(i))
    assert again.result is None
    assert first.result is not None
    assert unmasked_sessions(again.adversary, HONEST, 1, fed.params.threshold) == []


def test_a_new_round_number_starts_a_fresh_commitment() -> None:
    fed = federation()
    ledgers = {i: fresh_ledger(fed) for i in range(1, N + 1)}
    run(fed, adversary_for(fed), ledgers=ledgers, session=1, round_number=1)
    head_1 = ledgers[1].head
    assert all(ledger.chain == ledgers[1].chain for ledger in ledgers.values())
    nxt = run(
        fed,
        adversary_for(fed),
        ledgers=ledgers,
        session=2,
        round_number=2,
        chain_head=head_1,
    )
    assert nxt.result is not None
    assert all(s.state is SiloState.DONE for s in nxt.silos.values())
    assert all(ledger.final_round == 2 for ledger in ledgers.values())
