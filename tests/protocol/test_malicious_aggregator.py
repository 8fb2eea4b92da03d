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

import pytest

from fedsilo.crypto import kdf
from fedsilo.errors import (
    ContextMismatchError,
    EquivocationRefusedError,
    InconsistentViewError,
    ListedAsDroppedError,
    RosterError,
    SignatureError,
    TooFewSurvivorsError,
    UnexpectedMessageError,
)
from fedsilo.protocol.masking import payloads
from fedsilo.protocol.masking.ledger import InMemoryUnmaskLedger
from fedsilo.protocol.masking.states import SiloState
from fedsilo.protocol.messages import (
    AdvertList,
    ConsistencySignature,
    Outgoing,
    ShareRelay,
    SignatureBundle,
    SiloMessage,
    Stage,
    SurvivorList,
)
from fedsilo.testing.adversary import Adversary
from fedsilo.testing.entropy import SeededEntropy
from fedsilo.testing.harness import (
    MODEL_HASH,
    Federation,
    RunResult,
    make_federation,
    random_inputs,
    run_aggregation,
)
from tests.protocol.helpers import assert_each_honest_silo_aborts_or_completes, assert_safe

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
    assert_each_honest_silo_aborts_or_completes(result, HONEST, (ListedAsDroppedError,))


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
    # n = 7, t = 5, n_C = 1: group A is told the victim survived, group B that it dropped.
    fed = make_federation(7, colluders=1)
    victim, group_b, colluder = 1, {5, 6}, 7

    class SplitView(Adversary):
        stash: list[ConsistencySignature]

        def inbound(self, message: SiloMessage) -> list[SiloMessage]:
            self.seen.append(message)
            if isinstance(message, ConsistencySignature) and message.sender in group_b:
                self.stash.append(message)  # signed over the B view: keep it from the core
                return []
            return [message]

        def outbound(self, outgoing: list[Outgoing]) -> list[Outgoing]:
            out = []
            for o in outgoing:
                m = o.message
                if isinstance(m, SurvivorList) and o.recipient in group_b:
                    survivors = tuple(s for s in m.survivors if s != victim)
                    m = SurvivorList(m.context, survivors, (*m.dropped, victim))
                    self.b_view = m
                if isinstance(m, SignatureBundle) and o.recipient == min(m.survivors):
                    for b in sorted(group_b):
                        out.append(Outgoing(b, self.bundle_for_b(m)))
                out.append(Outgoing(o.recipient, m))
            return out

        def bundle_for_b(self, honest_bundle: SignatureBundle) -> SignatureBundle:
            view = self.b_view
            forged = payloads.sign_consistency(
                fed.identity(colluder),
                view.context,
                colluder,
                view.survivors,
                view.dropped,
                MODEL_HASH,
            )
            sigs = (
                *self.stash,
                ConsistencySignature(view.context, colluder, forged),
                # A's signatures pad the count to t, but they were made over A's view
                *(s for s in honest_bundle.signatures if s.sender not in {*group_b, colluder}),
            )
            return SignatureBundle(view.context, view.survivors, view.dropped, sigs)

    adversary = SplitView(colluders={colluder: fed.identity(colluder)})
    adversary.stash = []
    result = run(fed, adversary)
    for b in group_b:
        assert isinstance(result.silo_error(b), InconsistentViewError)
    assert_each_honest_silo_aborts_or_completes(result, range(1, 7), (InconsistentViewError,))


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
    forged = payloads.sign_advert(fed.identity(COLLUDER), a.context, a.sender, evil, evil[::-1])
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
    recorder = adversary_for(fed)
    seen: list[object] = []

    class Record(Adversary):
        def outbound(self, outgoing: list[Outgoing]) -> list[Outgoing]:
            seen.extend(o.message for o in outgoing if isinstance(o.message, kind))
            return outgoing

    run_aggregation(
        fed, random_inputs(fed, 64), adversary=Record(colluders=recorder.colluders), **kw
    )
    return seen[0]


@pytest.mark.parametrize(
    ("old", "expected"),
    [
        ({"session": 9}, ContextMismatchError),
        ({"round_number": 9}, ContextMismatchError),
        ({"stage": "share-keys"}, UnexpectedMessageError),
    ],
    ids=["other-session", "other-round", "other-stage"],
)
def test_a_message_replayed_from_another_session_round_or_stage_is_refused(
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


def test_a_different_model_hash_sent_to_one_silo_is_detected_by_that_silo() -> None:
    class ShowsBundleToAll(Adversary):
        def outbound(self, outgoing: list[Outgoing]) -> list[Outgoing]:
            bundles = [o for o in outgoing if isinstance(o.message, SignatureBundle)]
            if bundles and all(o.recipient != 3 for o in bundles):
                return [*outgoing, Outgoing(3, bundles[0].message)]
            return outgoing

    fed = federation()
    result = run(fed, adversary_for(fed, ShowsBundleToAll), model_hashes={3: b"\x22" * 32})
    assert isinstance(result.silo_error(3), InconsistentViewError)
    assert "global-model hash" in str(result.silo_error(3))
    assert_each_honest_silo_aborts_or_completes(result, HONEST, (InconsistentViewError,))
    assert result.result is not None and 3 in result.result.survivors  # its input, masked, counts


def test_rerunning_a_finished_round_without_one_silo_is_refused() -> None:
    fed = federation()
    ledgers = {i: InMemoryUnmaskLedger() for i in range(1, N + 1)}
    first = run(fed, adversary_for(fed), ledgers=ledgers, session=1)
    assert first.result is not None and first.result.survivors == (1, 2, 3, 4, 5)
    again = run(
        fed, adversary_for(fed), ledgers=ledgers, session=2, drop_at={1: Stage.ADVERTISE_KEYS}
    )
    for i in HONEST[1:]:
        assert isinstance(again.silo_error(i), EquivocationRefusedError)
    assert isinstance(again.aggregator_error, TooFewSurvivorsError)
    assert again.result is None


def test_rerunning_a_finished_round_with_the_same_survivors_does_not_unmask_twice() -> None:
    fed = federation()
    ledgers = {i: InMemoryUnmaskLedger() for i in range(1, N + 1)}
    run(fed, adversary_for(fed), ledgers=ledgers, session=1)
    again = run(fed, adversary_for(fed), ledgers=ledgers, session=2)
    for i in HONEST:
        assert isinstance(again.silo_error(i), EquivocationRefusedError)
        assert "already released" in str(again.silo_error(i))
    assert again.result is None


def test_a_new_round_number_starts_a_fresh_commitment() -> None:
    fed = federation()
    ledgers = {i: InMemoryUnmaskLedger() for i in range(1, N + 1)}
    run(fed, adversary_for(fed), ledgers=ledgers, session=1, round_number=1)
    nxt = run(fed, adversary_for(fed), ledgers=ledgers, session=2, round_number=2)
    assert nxt.result is not None
    assert all(s.state is SiloState.DONE for s in nxt.silos.values())
