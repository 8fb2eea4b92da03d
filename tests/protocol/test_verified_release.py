"""Verified release: a fake or steered aggregate is caught before any silo derives from it.

The aggregator announces ``H(Y')`` for a sum ``Y'`` it chose, gathers the
survivors' signatures over it, and releases ``Y'`` with the unmasking secrets.
Every honest survivor must refuse the release with a
:class:`~fedsilo.errors.ReleaseVerificationError` and derive nothing: no
aggregate, no ack, its chain position unchanged.

The honest core only ever announces the digest of what it folded, so the kit's
:class:`~fedsilo.testing.adversary.ForgesSum` corrupts what it folds: it adds
``delta`` to one silo's masked input (which that silo committed to without
it), so the core announces and releases ``Y' = Y + delta (mod 2^k)`` and
unmasks ``A' = A + delta``. The test computes ``delta = A' - A`` from the
inputs it knows, so ``A'`` is exactly the aggregate the adversary wants.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest

from fedsilo.crypto.merkle import LEAF_WORDS, MerkleTree, leaf_span, words_digest
from fedsilo.crypto.prg import UIntArray
from fedsilo.crypto.signatures import IdentityKey
from fedsilo.crypto.sketch import SKETCH_PRIME, SPOT_CHECKS, WideSum, spot_check_leaves
from fedsilo.errors import ReleaseVerificationError
from fedsilo.protocol.masking.messages import (
    ConsistencySignature,
    InputCommitment,
    ReleaseBundle,
    RevealedSecret,
    SpotLeaf,
    Stage,
)
from fedsilo.protocol.masking.payloads import SurvivorView, sign_input_commitment
from fedsilo.protocol.masking.release import answer_challenge, check_sum, limbs, sketch_seed
from fedsilo.protocol.masking.sharing import random_seed
from fedsilo.protocol.messages import Outgoing, SessionContext
from fedsilo.testing.adversary import Adversary, ForgesSum, shift_sum, wide_sum
from fedsilo.testing.entropy import SeededEntropy
from fedsilo.testing.harness import (
    Federation,
    RunResult,
    make_federation,
    random_inputs,
    run_aggregation,
)
from tests.protocol.helpers import (
    assert_nothing_derived,
    assert_refused_before_anything_is_derived,
    assert_safe,
    plain_sum,
)

N, COLLUDER = 5, 5
HONEST = [1, 2, 3, 4]
EVERYONE = range(1, N + 1)
LENGTH = 4 * LEAF_WORDS  # four Merkle leaves
ZERO_POINT_LEVELS = (1 << 16) + 1  # odd levels: N * (L - 1) / 2 is an integer


def federation(levels: int = 1 << 16, spot_checks: int = SPOT_CHECKS) -> Federation:
    fed = make_federation(N, colluders=1, levels=levels)
    return dataclasses.replace(fed, params=dataclasses.replace(fed.params, spot_checks=spot_checks))


def colluders(fed: Federation) -> dict[int, IdentityKey]:
    return {COLLUDER: fed.identity(COLLUDER)}


def forged_run(
    fed: Federation,
    inputs: list[UIntArray],
    delta: UIntArray,
    *,
    cover: int | None = None,
    with_colluder: bool = True,
) -> RunResult:
    adversary = ForgesSum(
        colluders=colluders(fed) if with_colluder else {},
        delta=delta,
        carrier=1,
        cover=cover,
    )
    run = run_aggregation(fed, inputs, adversary=adversary)
    assert_safe(run, fed, adversary.colluders)
    return run


def difference(target: UIntArray, genuine: UIntArray, bits: int = 32) -> UIntArray:
    """``target - genuine (mod 2^bits)``, word by word."""
    wide = (target.astype(object) - genuine.astype(object)) % (1 << bits)
    result: UIntArray = wide.astype(genuine.dtype)
    return result


# --- the control: an honest release, and the forging kit doing nothing ----------------


@pytest.mark.parametrize("adversary", ["honest", "forges-nothing"])
def test_an_honest_release_is_verified_by_every_survivor(adversary: str) -> None:
    fed = federation()
    inputs = random_inputs(fed, LENGTH)
    zero = np.zeros(LENGTH, np.uint32)
    if adversary == "honest":
        run = run_aggregation(fed, inputs, adversary=Adversary(colluders=colluders(fed)))
    else:  # the colluder "lies" by zero: the checks below must not fail for the kit's sake
        run = forged_run(fed, inputs, zero, cover=COLLUDER)
    expected = plain_sum(inputs, EVERYONE, 32)
    for i in EVERYONE:
        assert run.silo_error(i) is None, (i, run.silo_error(i))
        aggregate = run.silos[i].aggregate
        assert aggregate is not None and np.array_equal(aggregate.total, expected)
        assert run.ledgers[i].final_round == 1
    assert set(run.acks) == set(EVERYONE) and len(set(run.acks.values())) == 1


# --- fake-release steering -------------------------------------------------------------


def test_a_zero_delta_release_is_caught_by_the_sketch_before_anything_is_derived() -> None:
    # Every word at the quantizer's zero point decodes to a zero delta: under FedAvg the
    # next model would equal this one bit for bit, and the replay attack would work again.
    fed = federation(levels=ZERO_POINT_LEVELS)
    quantizer = fed.params.quantizer
    inputs = random_inputs(fed, LENGTH)
    genuine = plain_sum(inputs, EVERYONE, 32)
    zero_point = np.full(LENGTH, N * (quantizer.levels - 1) // 2, np.uint32)
    assert np.all(quantizer.dequantize_sum(zero_point, N) == 0.0)

    run = forged_run(fed, inputs, difference(zero_point, genuine))

    assert run.result is not None and np.array_equal(run.result.total, zero_point)  # A' unmasked
    assert_refused_before_anything_is_derived(run, "linear sketch", EVERYONE)


def _negated(genuine: UIntArray, levels: int) -> UIntArray:
    """Decodes to minus the genuine update: the step that cancels the momentum it adds."""
    return (N * (levels - 1) - genuine.astype(np.int64)).astype(genuine.dtype)


def _nudged(genuine: UIntArray, levels: int) -> UIntArray:
    """One quantization step in one coordinate: the smallest steer toward a trap model."""
    target = genuine.copy()
    target[7] += 1
    return target


def _trap(genuine: UIntArray, levels: int) -> UIntArray:
    """An aggregate chosen outright (any pattern the adversary likes, in range)."""
    rng = np.random.default_rng(99)
    return rng.integers(0, N * (levels - 1), len(genuine), dtype=np.uint32)


@pytest.mark.parametrize(
    "choose", [_negated, _nudged, _trap], ids=["momentum-cancelling", "one-step", "chosen"]
)
def test_a_release_steering_to_a_chosen_aggregate_is_caught_before_anything_is_derived(
    choose: Callable[[UIntArray, int], UIntArray],
) -> None:
    fed = federation(levels=ZERO_POINT_LEVELS)
    inputs = random_inputs(fed, LENGTH)
    genuine = plain_sum(inputs, EVERYONE, 32)
    target = choose(genuine, fed.params.quantizer.levels)
    assert not np.array_equal(target, genuine)

    run = forged_run(fed, inputs, difference(target, genuine))

    assert run.result is not None and np.array_equal(run.result.total, target)
    assert_refused_before_anything_is_derived(run, "linear sketch", EVERYONE)


def test_one_changed_leaf_of_the_sum_is_caught_by_the_sketch_without_any_colluder() -> None:
    # One spot check of four leaves: the spot checks would miss this leaf three times in
    # four, so it is the sketch (checked first) that catches it.
    fed = federation(spot_checks=1)
    inputs = random_inputs(fed, LENGTH)
    delta = np.zeros(LENGTH, np.uint32)
    start, stop = leaf_span(2, LENGTH)
    delta[start:stop] = 1

    run = forged_run(fed, inputs, delta, with_colluder=False)

    assert run.result is not None
    assert not np.array_equal(run.result.total, plain_sum(inputs, EVERYONE, 32))
    assert_refused_before_anything_is_derived(run, "linear sketch", EVERYONE)


def test_a_colluder_hiding_a_forged_sum_in_its_sketch_is_caught_by_the_spot_checks() -> None:
    # End to end: the colluder re-signs its consistency signature with a sketch that makes
    # the survivors' sketches sum to <rho, Y'>, so the sketch passes and the spot checks
    # (here of every one of the 40 leaves) catch the 4 changed ones.
    fed = federation()
    length = 40 * LEAF_WORDS
    inputs = random_inputs(fed, length)
    delta = np.zeros(length, np.uint32)
    for leaf in (3, 11, 25, 38):
        start, stop = leaf_span(leaf, length)
        delta[start:stop] = np.arange(1, stop - start + 1, dtype=np.uint32)

    run = forged_run(fed, inputs, delta, cover=COLLUDER)

    assert run.result is not None
    assert_refused_before_anything_is_derived(run, "(spot check)", EVERYONE)


def _forge_secret(kind: str) -> Callable[[ReleaseBundle], ReleaseBundle]:
    other_key = random_seed(SeededEntropy("other key"))  # a well-formed seed, not silo 4's

    def forge(bundle: ReleaseBundle) -> ReleaseBundle:
        seeds, keys = list(bundle.self_seeds), list(bundle.mask_keys)
        if kind == "wrong-self-seed":
            seeds[1] = RevealedSecret(seeds[1].owner, bytes(32))
        elif kind == "swapped-self-seeds":
            seeds[0], seeds[1] = (
                RevealedSecret(seeds[0].owner, seeds[1].secret),
                RevealedSecret(seeds[1].owner, seeds[0].secret),
            )
        else:
            keys[0] = RevealedSecret(keys[0].owner, other_key)
        return dataclasses.replace(bundle, self_seeds=tuple(seeds), mask_keys=tuple(keys))

    return forge


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("wrong-self-seed", "does not match its signed commitment"),
        ("swapped-self-seeds", "does not match its signed commitment"),
        ("wrong-mask-key", "does not match its signed advert"),
    ],
)
def test_a_released_secret_that_does_not_match_its_commitment_or_advert_is_refused(
    kind: str, says: str
) -> None:
    forge = _forge_secret(kind)

    class ForgesSecrets(Adversary):
        def outbound(self, outgoing: list[Outgoing]) -> list[Outgoing]:
            return [
                Outgoing(o.recipient, forge(o.message))
                if isinstance(o.message, ReleaseBundle)
                else o
                for o in outgoing
            ]

    fed = federation()
    dropped = 4  # shared keys, then dropped: its mask key is released
    adversary = ForgesSecrets(colluders=colluders(fed))
    run = run_aggregation(
        fed, random_inputs(fed, LENGTH), adversary=adversary, drop_at={dropped: Stage.MASKED_INPUT}
    )
    assert_safe(run, fed, adversary.colluders)
    assert run.result is not None and run.result.dropped == (dropped,)
    survivors = [i for i in EVERYONE if i != dropped]
    before = {i: (0, run.silos[i].context.chain_head) for i in survivors}
    for i in survivors:
        error = run.silo_error(i)
        assert isinstance(error, ReleaseVerificationError), (i, error)
        assert says in str(error)
    assert_nothing_derived(run, survivors, before)


# --- the spot checks, 200 seeded trials ----------------------------------------------

TRIAL_LEAVES = 1000
TRIALS = 200


def test_a_colluder_lying_in_its_sketch_while_a_tenth_of_y_changes_is_caught_in_99_percent() -> (
    None
):
    # This calls check_sum, the very function verify_release runs on a ReleaseBundle
    # (after checking the secrets and before removing any mask): its inputs are the
    # silo's signed view (survivors, every input commitment, H(Y')), the relayed
    # consistency signatures (each survivor's sketch and spot leaves with proofs) and the
    # released Y'. The honest survivors answer with answer_challenge, which the silo runs
    # itself; the colluder answers with genuine spot leaves (it cannot forge a Merkle
    # proof) and the sketch that makes the survivors' sketches sum to <rho, Y'>. Vectors,
    # trees and commitments are built once; every trial draws a fresh session (so a fresh
    # challenge) and a fresh tenth of the leaves to change.
    fed = make_federation(3, colluders=1)  # survivors 1, 2 honest; 3 the colluder
    length = TRIAL_LEAVES * LEAF_WORDS
    rng = np.random.default_rng(2017)
    masked = [rng.integers(0, 1 << 32, length, dtype=np.uint32) for _ in range(3)]
    trees = [MerkleTree.of_words(y) for y in masked]
    digests = [words_digest(y) for y in masked]
    genuine = wide_sum(masked, 32)

    def check(trial: int, changed: int) -> None:
        ctx = fed.context(session=1000 + trial)
        forged = genuine
        if changed:
            delta = np.zeros(length, np.uint32)
            for leaf in rng.choice(TRIAL_LEAVES, size=changed, replace=False):
                start, stop = leaf_span(int(leaf), length)
                delta[start:stop] = rng.integers(1, 1 << 32, stop - start, dtype=np.uint32)
            forged = shift_sum(genuine, delta)
        view = SurvivorView((1, 2, 3), (), _commitments(fed, ctx, digests, trees), forged.digest())
        signatures = _answers(ctx, view, masked, trees, forged)
        check_sum(ctx, view, signatures, forged, SPOT_CHECKS)

    check(-1, changed=0)  # control: the colluder's "lie" is then its genuine sketch
    caught = 0
    for trial in range(TRIALS):
        try:
            check(trial, changed=TRIAL_LEAVES // 10)
        except ReleaseVerificationError as exc:
            assert "(spot check)" in str(exc)  # the lie got past the sketch
            caught += 1
    assert caught >= 0.99 * TRIALS, caught


def _commitments(
    fed: Federation, ctx: SessionContext, digests: list[bytes], trees: list[MerkleTree]
) -> tuple[InputCommitment, ...]:
    return tuple(
        sign_input_commitment(
            fed.identity(u), ctx, u, trees[u - 1].length, digests[u - 1], trees[u - 1].root
        )
        for u in (1, 2, 3)
    )


def _answers(
    ctx: SessionContext,
    view: SurvivorView,
    masked: list[UIntArray],
    trees: list[MerkleTree],
    forged: WideSum,
) -> dict[int, ConsistencySignature]:
    answers = {
        u: answer_challenge(ctx, view, masked[u - 1], trees[u - 1], SPOT_CHECKS) for u in (1, 2)
    }
    seed = sketch_seed(ctx, view)
    claimed = forged.sketch(seed)
    lie = tuple(
        (claimed[j] - answers[1][0][j] - answers[2][0][j]) % SKETCH_PRIME
        for j in range(len(claimed))
    )
    tree, words = trees[2], masked[2]
    spots = tuple(
        SpotLeaf(leaf, words[slice(*leaf_span(leaf, len(words)))].copy(), tree.proof(leaf))
        for leaf in spot_check_leaves(seed, tree.leaf_count, SPOT_CHECKS)
    )
    signatures = {
        u: ConsistencySignature(ctx, u, sketch, spot_leaves, b"")
        for u, (sketch, spot_leaves) in answers.items()
    }
    signatures[3] = ConsistencySignature(ctx, 3, lie, spots, b"")
    return signatures


def test_a_64_bit_sum_changed_in_one_word_is_caught_by_the_sketch_without_any_colluder() -> None:
    fed = make_federation(3, colluders=0, bits=64)  # every silo honest
    length = 200 * LEAF_WORDS
    rng = np.random.default_rng(64)
    # what the sessions verify: every 64-bit word as its two 32-bit limbs (release.limbs)
    masked = [limbs(rng.integers(0, 1 << 64, length, dtype=np.uint64)) for _ in range(3)]
    trees = [MerkleTree.of_words(y) for y in masked]
    digests = [words_digest(y) for y in masked]
    delta = np.zeros(length, np.uint64)
    delta[12345] = 8 * SKETCH_PRIME  # = 2^64 - 8: A' = A - 8 in that coordinate
    forged = shift_sum(wide_sum(masked, 32), limbs(delta))  # each limb moves by less than p
    accepted = 0
    for trial in range(20):
        ctx = fed.context(session=trial)
        view = SurvivorView((1, 2, 3), (), _commitments(fed, ctx, digests, trees), forged.digest())
        signatures = {
            u: ConsistencySignature(
                ctx, u, *answer_challenge(ctx, view, masked[u - 1], trees[u - 1], SPOT_CHECKS), b""
            )
            for u in (1, 2, 3)
        }
        try:
            check_sum(ctx, view, signatures, forged, SPOT_CHECKS)
            accepted += 1
        except ReleaseVerificationError:
            pass
    assert accepted == 0, f"the forged sum was accepted in {accepted} of 20 challenges"
