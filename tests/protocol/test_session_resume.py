"""A silo that signed its view survives a crash: it resumes the same session, never a new one."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fedsilo.errors import AlreadyRevealedError, LocalProtocolError
from fedsilo.protocol.chain import genesis
from fedsilo.protocol.ledger import InMemoryLedgerStore, RoundLedger
from fedsilo.protocol.masking.messages import (
    AdvertList,
    MaskingSet,
    ReleaseBundle,
    ShareRelay,
    SignatureBundle,
    SurvivorList,
)
from fedsilo.protocol.masking.silo import MaskingSilo
from fedsilo.protocol.masking.states import SiloState
from fedsilo.testing.entropy import SeededEntropy
from fedsilo.testing.harness import fresh_ledger, make_federation, random_inputs, run_aggregation
from tests.protocol.helpers import recorded_messages

FED = make_federation(4)
INPUTS = random_inputs(FED, 1500)
ORDER = [AdvertList, ShareRelay, MaskingSet, SurvivorList, SignatureBundle, ReleaseBundle]


MESSAGES = recorded_messages(FED, INPUTS)


def silo(ledger: RoundLedger) -> MaskingSilo:
    return MaskingSilo(
        context=FED.context(),
        roster=FED.roster,
        params=FED.params,
        index=1,
        identity=FED.identity(1),
        entropy=SeededEntropy(0, 1, 1),  # the seed of the recorded run
        ledger=ledger,
        quantized_input=INPUTS[0],
    )


def driven(steps: int, ledger: RoundLedger) -> tuple[MaskingSilo, object]:
    session, sent = silo(ledger), list[object]()
    sent.append(session.start())
    for kind in ORDER[:steps]:
        sent.append(session.receive(MESSAGES[kind]))
    return session, sent[-1]


def resumed(session: MaskingSilo, ledger: RoundLedger) -> MaskingSilo:
    at_rest = json.loads(json.dumps(session.snapshot()))  # what the node writes, encrypted
    return MaskingSilo.resume(
        at_rest,
        roster=FED.roster,
        params=FED.params,
        identity=FED.identity(1),
        entropy=SeededEntropy("after the crash"),
        ledger=ledger,
    )


@pytest.mark.parametrize(
    ("steps", "state"),
    [(4, SiloState.AWAIT_SIGNATURES), (5, SiloState.AWAIT_RELEASE)],
    ids=["view-signed", "revealed"],
)
def test_a_resumed_session_resends_exactly_what_it_sent_before_the_crash(
    steps: int, state: SiloState
) -> None:
    store = InMemoryLedgerStore()
    session, last = driven(steps, RoundLedger(store, genesis(FED.config_digest)))
    assert session.state is state
    after = resumed(session, RoundLedger(store, genesis(FED.config_digest)))  # a restart
    assert after.state is state
    assert after.pending() == last


def test_a_session_resumed_after_signing_its_view_finishes_with_the_same_aggregate() -> None:
    store = InMemoryLedgerStore()
    session, _ = driven(4, RoundLedger(store, genesis(FED.config_digest)))
    ledger = RoundLedger(store, genesis(FED.config_digest))
    after = resumed(session, ledger)
    after.receive(MESSAGES[SignatureBundle])
    after.receive(MESSAGES[ReleaseBundle])
    assert after.state is SiloState.VERIFIED and after.aggregate is not None
    uninterrupted = run_aggregation(FED, INPUTS).result
    assert uninterrupted is not None
    assert np.array_equal(after.aggregate.total, uninterrupted.total)


def test_a_resumed_revealed_session_never_lets_the_silo_join_another_session_of_the_round() -> None:
    store = InMemoryLedgerStore()
    session, _ = driven(5, RoundLedger(store, genesis(FED.config_digest)))
    ledger = RoundLedger(store, genesis(FED.config_digest))
    resumed(session, ledger)
    other = MaskingSilo(
        context=FED.context(session=2),
        roster=FED.roster,
        params=FED.params,
        index=1,
        identity=FED.identity(1),
        entropy=SeededEntropy(2),
        ledger=ledger,
        quantized_input=INPUTS[0],
    )
    with pytest.raises(AlreadyRevealedError):
        other.start()


@pytest.mark.parametrize("steps", [0, 1, 2, 3, 6])
def test_only_a_session_that_signed_its_view_is_kept_for_resuming(steps: int) -> None:
    session, _ = driven(steps, fresh_ledger(FED))
    with pytest.raises(LocalProtocolError, match="not resumable"):
        session.snapshot()


def test_a_snapshot_that_disagrees_with_the_ledger_is_refused() -> None:
    store = InMemoryLedgerStore()
    session, _ = driven(4, RoundLedger(store, genesis(FED.config_digest)))
    snapshot = session.snapshot()
    snapshot["view"]["dropped"] = [4]  # not the view the ledger recorded
    with pytest.raises(LocalProtocolError, match="not the one its ledger recorded"):
        MaskingSilo.resume(
            snapshot,
            roster=FED.roster,
            params=FED.params,
            identity=FED.identity(1),
            entropy=SeededEntropy(1),
            ledger=RoundLedger(store, genesis(FED.config_digest)),
        )
