"""Catching up: a silo that missed a round (dropped, restarted, new or restored from an
older backup) accepts it only from evidence it verifies end to end, and only when at least
``max(t, min_silos)`` distinct roster silos acked the chain head it derives itself."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fedsilo.errors import (
    ChainMismatchError,
    ContextMismatchError,
    ReleaseVerificationError,
    RemoteProtocolError,
    RoundOrderError,
    SignatureError,
)
from fedsilo.protocol.catchup import bounded_survivors, check_acks
from fedsilo.protocol.chain import ChainHead, sign_ack
from fedsilo.protocol.masking.catchup import verify_evidence
from fedsilo.protocol.masking.messages import RoundEvidence
from fedsilo.protocol.messages import AggregateResult
from fedsilo.testing.adversary import shift_sum
from fedsilo.testing.harness import (
    Federation,
    make_federation,
    protocol_link,
    random_inputs,
    run_aggregation,
)

N, LENGTH = 5, 300


@pytest.fixture(scope="module")
def fed() -> Federation:
    return make_federation(N)


@pytest.fixture(scope="module")
def evidence(fed: Federation) -> RoundEvidence:
    run = run_aggregation(fed, random_inputs(fed, LENGTH))
    assert run.evidence is not None and len(run.evidence.acks) == N
    return run.evidence


def caught_up(fed: Federation, evidence: RoundEvidence) -> AggregateResult:
    """What a silo still at round 0 computes from ``evidence``."""
    return verify_evidence(
        evidence,
        roster=fed.roster,
        params=fed.params,
        federation=fed.federation_id,
        config_digest=fed.config_digest,
        chain=ChainHead.start(fed.config_digest),
        vector_length=LENGTH,
    )


def head_of(fed: Federation, evidence: RoundEvidence) -> bytes:
    return protocol_link(caught_up(fed, evidence)).head


def test_genuine_evidence_gives_the_aggregate_the_survivors_verified(
    fed: Federation, evidence: RoundEvidence
) -> None:
    result = caught_up(fed, evidence)
    inputs = random_inputs(fed, LENGTH)  # the inputs the fixture's round summed
    assert np.array_equal(result.total, np.sum(inputs, axis=0, dtype=np.uint32))
    assert result.survivors == tuple(range(1, N + 1))
    assert check_acks(evidence, fed.roster, head_of(fed, evidence), N) == tuple(range(1, N + 1))


@pytest.mark.parametrize("kept", [0, 2])
def test_fewer_acks_than_the_quorum_are_refused(
    fed: Federation, evidence: RoundEvidence, kept: int
) -> None:
    few = dataclasses.replace(evidence, acks=evidence.acks[:kept])
    with pytest.raises(ChainMismatchError, match=f"only {kept} silos acknowledged"):
        check_acks(few, fed.roster, head_of(fed, evidence), 3)


def test_acks_of_silos_revoked_since_do_not_count(fed: Federation, evidence: RoundEvidence) -> None:
    head = head_of(fed, evidence)
    assert check_acks(evidence, fed.roster, head, N - 2, revoked=(1, 2)) == tuple(range(3, N + 1))
    with pytest.raises(ChainMismatchError, match="revoked silos do not count"):
        check_acks(evidence, fed.roster, head, N - 1, revoked=(1, 2))


def test_one_silo_acking_many_times_counts_once(fed: Federation, evidence: RoundEvidence) -> None:
    repeated = dataclasses.replace(evidence, acks=(evidence.acks[0],) * N)
    with pytest.raises(ChainMismatchError, match="only 1 silos acknowledged"):
        check_acks(repeated, fed.roster, head_of(fed, evidence), 3)


def test_acks_of_another_chain_head_do_not_count(fed: Federation, evidence: RoundEvidence) -> None:
    other = bytes(32)
    acks = tuple(
        dataclasses.replace(
            a,
            head=other,
            signature=sign_ack(
                fed.identity(a.sender), fed.federation_id, a.context.round, other, a.sender
            ),
        )
        for a in evidence.acks
    )
    with pytest.raises(ChainMismatchError, match="only 0 silos acknowledged"):
        check_acks(dataclasses.replace(evidence, acks=acks), fed.roster, head_of(fed, evidence), 3)


def test_a_forged_ack_is_refused_naming_the_silo(fed: Federation, evidence: RoundEvidence) -> None:
    forged = dataclasses.replace(evidence.acks[1], signature=bytes(64))
    acks = (evidence.acks[0], forged, *evidence.acks[2:])
    with pytest.raises(SignatureError, match="ack of silo 'silo-2'"):
        check_acks(dataclasses.replace(evidence, acks=acks), fed.roster, head_of(fed, evidence), 3)


def test_evidence_whose_sum_was_changed_is_refused(
    fed: Federation, evidence: RoundEvidence
) -> None:
    delta = np.zeros(LENGTH, dtype=np.uint32)
    delta[7] = 1
    release = dataclasses.replace(evidence.release, total=shift_sum(evidence.release.total, delta))
    with pytest.raises(ReleaseVerificationError):
        caught_up(fed, dataclasses.replace(evidence, release=release))


def test_evidence_of_a_later_round_than_the_next_is_refused(
    fed: Federation, evidence: RoundEvidence
) -> None:
    later = dataclasses.replace(evidence.context, round=2)
    with pytest.raises(RoundOrderError):
        caught_up(fed, dataclasses.replace(evidence, context=later))


def test_evidence_on_another_chain_head_is_refused(
    fed: Federation, evidence: RoundEvidence
) -> None:
    other = dataclasses.replace(evidence.context, chain_head=b"\x01" * 32)
    with pytest.raises(ChainMismatchError):
        caught_up(fed, dataclasses.replace(evidence, context=other))


def test_evidence_mixing_sessions_is_refused(fed: Federation, evidence: RoundEvidence) -> None:
    other = dataclasses.replace(evidence.context, session_id=b"\x02" * 32)
    with pytest.raises(ContextMismatchError):
        caught_up(fed, dataclasses.replace(evidence, context=other))


def test_evidence_of_another_federation_is_refused(fed: Federation) -> None:
    other = dataclasses.replace(fed, federation_id="another-federation")
    run = run_aggregation(other, random_inputs(other, LENGTH))
    assert run.evidence is not None
    with pytest.raises(ContextMismatchError):
        caught_up(fed, run.evidence)


def test_a_plausible_survivor_list_bounds_the_download() -> None:
    assert bounded_survivors([1, 2, 4, 5], 5, 3) == (1, 2, 4, 5)


@pytest.mark.parametrize(
    "listed",
    [[1, 1, 2, 3], [3, 2, 1], [0, 1, 2], [1, 2, 6], [1, 2], [1] * 2_000_000],
    ids=["duplicate", "unsorted", "index-0", "off-roster", "below-t", "two-million"],
)
def test_an_impossible_survivor_list_is_refused_before_anything_is_fetched(
    listed: list[int],
) -> None:
    with pytest.raises(RemoteProtocolError, match="impossible survivor set"):
        bounded_survivors(listed, 5, 3)
