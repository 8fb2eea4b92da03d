"""Full release verification: every silo adds up every survivor's masked input itself.

With ``scheme.release_verification: full`` (the default, ``auto``, for vectors of at most
``FULL_VERIFICATION_MAX_WORDS`` words) the release carries every survivor's ``y_u``. Each
silo checks that every survivor's vector is there once, hashes to the digest and Merkle
root its sender signed, and sums exactly to ``Y``; only then does it remove the masks.
Nothing is sampled, so a colluder lying in its sketch hides nothing: a forged ``Y`` is
refused by every honest silo every time, where sketch mode's spot checks catch it with
probability ``1 - (1 - f)^k``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
import yaml

from fedsilo.config.load import config_from_document
from fedsilo.crypto.merkle import LEAF_WORDS, leaf_span
from fedsilo.crypto.prg import UIntArray
from fedsilo.errors import (
    ConfigError,
    ConfigProblemsError,
    LocalProtocolError,
    ReleaseVerificationError,
)
from fedsilo.protocol.chain import ChainHead
from fedsilo.protocol.masking.aggregator import MaskingAggregator
from fedsilo.protocol.masking.catchup import verify_evidence
from fedsilo.protocol.masking.messages import MaskedInputStream, ReleaseBundle, SiloMessage, Stage
from fedsilo.protocol.masking.params import FULL_VERIFICATION_MAX_WORDS, resolve_full_verification
from fedsilo.protocol.masking.scheme import MaskingScheme
from fedsilo.protocol.masking.silo import MaskingSilo
from fedsilo.protocol.masking.states import AggregatorState
from fedsilo.protocol.messages import Outgoing
from fedsilo.testing.adversary import ForgesSum, RewritesRelease
from fedsilo.testing.harness import (
    Federation,
    RunResult,
    honest_silos,
    make_federation,
    random_inputs,
    run_aggregation,
)
from tests.protocol.helpers import (
    assert_refused_before_anything_is_derived,
    assert_safe,
    plain_sum,
)

N, COLLUDER = 5, 5
EVERYONE = range(1, N + 1)
LENGTH = 4 * LEAF_WORDS
HOSPITALS = Path(__file__).parents[2] / "federation_configs" / "hospitals-masking.yaml"

Inputs = tuple[tuple[int, UIntArray], ...]


def federation(*, bits: int = 32, spot_checks: int | None = None) -> Federation:
    fed = make_federation(N, colluders=1, bits=bits, full_verification=True)
    if spot_checks is None:
        return fed
    return dataclasses.replace(fed, params=dataclasses.replace(fed.params, spot_checks=spot_checks))


def rewriting(change: Callable[[Inputs], Inputs]) -> Callable[[ReleaseBundle], ReleaseBundle]:
    """A release rewrite that changes only the masked inputs it carries."""
    return lambda bundle: dataclasses.replace(bundle, inputs=change(bundle.inputs))


# --- the control -------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [32, 64])
@pytest.mark.parametrize("dropped", [None, 4], ids=["all-survive", "one-dropped"])
def test_an_honest_full_verification_round_is_verified_and_equals_the_plain_sum(
    bits: int, dropped: int | None
) -> None:
    fed = federation(bits=bits)
    inputs = random_inputs(fed, LENGTH)
    drop_at = {} if dropped is None else {dropped: Stage.MASKED_INPUT}
    run = run_aggregation(fed, inputs, drop_at=drop_at)
    survivors = [i for i in EVERYONE if i != dropped]
    expected = plain_sum(inputs, survivors, bits)
    for i in survivors:
        assert run.silo_error(i) is None, (i, run.silo_error(i))
        aggregate = run.silos[i].aggregate
        assert aggregate is not None and np.array_equal(aggregate.total, expected)
        assert run.ledgers[i].final_round == 1
    assert set(run.acks) == set(survivors) and len(set(run.acks.values())) == 1
    assert run.evidence is not None  # the release carried every survivor's y_u, and only theirs
    released = run.evidence.release.inputs
    assert [u for u, _ in released] == survivors
    assert all(y.dtype == inputs[0].dtype and y.shape == (LENGTH,) for _, y in released)


# --- the aggregator tampers with the released inputs ---------------------------------------


def test_a_masked_input_changed_in_one_word_with_y_changed_to_match_is_refused() -> None:
    # The core folds, keeps and releases y_1 + delta: Y' is its exact sum, H(Y') is what
    # everyone signed, but y_1 + delta is not the vector silo 1 committed to.
    fed = federation()
    inputs = random_inputs(fed, LENGTH)
    delta = np.zeros(LENGTH, np.uint32)
    delta[7] = 1
    adversary = ForgesSum(colluders={COLLUDER: fed.identity(COLLUDER)}, delta=delta, carrier=1)
    run = run_aggregation(fed, inputs, adversary=adversary)
    assert_safe(run, fed, adversary.colluders)
    assert run.result is not None  # the aggregator unmasked A + delta
    assert not np.array_equal(run.result.total, plain_sum(inputs, EVERYONE, 32))
    assert_refused_before_anything_is_derived(
        run, "masked input of silo 1 does not match its signed commitment", EVERYONE
    )


def _swap_first_two(inputs: Inputs) -> Inputs:
    (u, y_u), (v, y_v), *rest = inputs
    return ((u, y_v), (v, y_u), *rest)


def test_masked_inputs_swapped_between_two_silos_are_refused() -> None:
    fed = federation()
    run = run_aggregation(
        fed,
        random_inputs(fed, LENGTH),
        adversary=RewritesRelease(rewrite=rewriting(_swap_first_two)),
    )
    assert run.result is not None
    assert_refused_before_anything_is_derived(run, "does not match its signed commitment", EVERYONE)


@pytest.mark.parametrize(
    "change",
    [
        lambda inputs: inputs[:-1],  # the last survivor's y_u left out
        lambda inputs: (*inputs[:2], inputs[1], *inputs[3:]),  # silo 2's twice, silo 3's never
        lambda inputs: (),  # none, as a sketch-mode aggregator would send
    ],
    ids=["one-missing", "one-duplicated", "none"],
)
def test_a_missing_or_duplicated_masked_input_is_refused(
    change: Callable[[Inputs], Inputs],
) -> None:
    fed = federation()
    run = run_aggregation(
        fed, random_inputs(fed, LENGTH), adversary=RewritesRelease(rewrite=rewriting(change))
    )
    assert run.result is not None
    assert_refused_before_anything_is_derived(run, "other silos than the survivors", EVERYONE)


@dataclasses.dataclass
class ForgesAndHides(RewritesRelease, ForgesSum):
    """Forges ``Y`` through ``carrier``'s input (a colluder covering it in its sketch), then
    releases the carrier's genuine ``y_u``, so that every released vector matches its
    commitment and only their sum gives the forgery away."""


TRIAL_LEAVES = 40
TRIALS = 8


def tenth_of_the_leaves(length: int, rng: np.random.Generator) -> UIntArray:
    """A delta that changes a fresh tenth of the leaves of ``Y`` at random."""
    delta = np.zeros(length, np.uint32)
    for leaf in rng.choice(TRIAL_LEAVES, size=TRIAL_LEAVES // 10, replace=False):
        start, stop = leaf_span(int(leaf), length)
        delta[start:stop] = rng.integers(1, 1 << 32, stop - start, dtype=np.uint32)
    return delta


def forged_trials(fed: Federation, full: bool) -> list[RunResult]:
    """``TRIALS`` sessions (fresh challenges) in which the aggregator changes a tenth of ``Y``
    and the colluder lies in its sketch to hide it; in full mode the release carries the
    carrier's genuine ``y_u`` (the forged one would not match its commitment)."""
    length = TRIAL_LEAVES * LEAF_WORDS
    inputs = random_inputs(fed, length)
    rng = np.random.default_rng(2017)
    runs = []
    for trial in range(TRIALS):
        delta = tenth_of_the_leaves(length, rng)

        def genuine(released: Inputs, delta: UIntArray = delta) -> Inputs:
            (carrier, forged), *rest = released
            return ((carrier, forged - delta), *rest)  # wraps mod 2^32: the committed y_1

        adversary = ForgesAndHides(
            colluders={COLLUDER: fed.identity(COLLUDER)},
            delta=delta,
            carrier=1,
            cover=COLLUDER,
            rewrite=rewriting(genuine) if full else None,
        )
        run = run_aggregation(fed, inputs, adversary=adversary, session=trial + 1)
        assert_safe(run, fed, adversary.colluders)
        assert run.result is not None, trial  # the aggregator unmasked its forged aggregate
        runs.append(run)
    return runs


def test_a_colluder_hiding_a_tenth_of_y_in_its_sketch_is_caught_every_time_in_full_mode() -> None:
    # One spot check a survivor: sketch mode catches this forgery with probability
    # 1 - (1 - 0.1)^1 = 10 % (the control below). Full mode samples nothing: every trial,
    # with a fresh challenge and a fresh tenth of the leaves, is refused by every silo.
    for run in forged_trials(federation(spot_checks=1), full=True):
        assert_refused_before_anything_is_derived(
            run, "not the exact sum of the survivors' committed masked inputs", EVERYONE
        )


def test_control_the_same_forgery_passes_sketch_mode_when_its_spot_check_misses() -> None:
    # The residual risk full mode removes: the colluder's sketch hides the forgery, and the
    # single spot check misses the changed tenth about 9 times in 10.
    sketch = make_federation(N, colluders=1)
    sketch = dataclasses.replace(sketch, params=dataclasses.replace(sketch.params, spot_checks=1))
    accepted = [run for run in forged_trials(sketch, full=False) if run.silo_error(1) is None]
    assert accepted, "no trial got past sketch mode: the control forges nothing"
    for run in accepted:  # every silo derived the aggregator's forged aggregate
        assert run.result is not None
        for i in EVERYONE:
            aggregate = run.silos[i].aggregate
            assert aggregate is not None and np.array_equal(aggregate.total, run.result.total)


def test_a_sketch_mode_silo_refuses_a_release_that_carries_masked_inputs() -> None:
    # Both ends derive the mode from the same config digest and vector length; a release
    # of the other mode is the aggregator's doing.
    fed = make_federation(N, colluders=1)
    inputs = random_inputs(fed, LENGTH)
    extra = rewriting(lambda _: tuple((u, inputs[u - 1]) for u in EVERYONE))
    run = run_aggregation(fed, inputs, adversary=RewritesRelease(rewrite=extra))
    assert_refused_before_anything_is_derived(run, "verifies by sketch", EVERYONE)


# --- catching up and resuming ------------------------------------------------------------


def test_a_silo_catching_up_in_full_mode_checks_every_released_masked_input() -> None:
    fed = federation()
    inputs = random_inputs(fed, LENGTH)
    evidence = run_aggregation(fed, inputs).evidence
    assert evidence is not None

    def caught_up(release: ReleaseBundle) -> UIntArray:
        return verify_evidence(
            dataclasses.replace(evidence, release=release),
            roster=fed.roster,
            params=fed.params,
            federation=fed.federation_id,
            config_digest=fed.config_digest,
            chain=ChainHead.start(fed.config_digest),
            vector_length=LENGTH,
        ).total

    assert np.array_equal(caught_up(evidence.release), plain_sum(inputs, EVERYONE, 32))
    with pytest.raises(ReleaseVerificationError, match="does not match its signed commitment"):
        caught_up(rewriting(_swap_first_two)(evidence.release))


def _run_to_unmasking(
    fed: Federation, inputs: Sequence[UIntArray]
) -> tuple[MaskingAggregator, dict[int, MaskingSilo], list[SiloMessage]]:
    """An honest session driven until the aggregator collects unmasking shares; returns the
    silos' unmasking responses, not yet delivered."""
    ctx = fed.context()
    silos = honest_silos(fed, inputs)
    core = MaskingAggregator(
        context=ctx, roster=fed.roster, params=fed.params, vector_length=len(inputs[0])
    )
    pending = [m for silo in silos.values() for m in silo.start()]
    while core.state is not AggregatorState.COLLECT_UNMASKING:
        outgoing: list[Outgoing] = []
        for message in pending:
            parts = message.chunks() if isinstance(message, MaskedInputStream) else [message]
            for part in parts:
                outgoing += core.receive(part)
        pending = [r for o in outgoing for r in silos[o.recipient].receive(o.message)]
    return core, silos, pending


def test_a_resumed_full_mode_aggregator_releases_the_journaled_inputs_and_refuses_without() -> None:
    fed = federation()
    inputs = random_inputs(fed, LENGTH)
    core, silos, responses = _run_to_unmasking(fed, inputs)
    record, total = core.unmasking_snapshot()
    journaled = core.masked_inputs
    assert [u for u, _ in journaled] == list(EVERYONE)

    def resume(inputs: Inputs) -> MaskingAggregator:
        return MaskingAggregator.resume(
            record, total, context=core.context, roster=fed.roster, params=fed.params, inputs=inputs
        )

    with pytest.raises(LocalProtocolError, match="journaled masked inputs"):
        resume(())
    with pytest.raises(LocalProtocolError, match="journaled masked inputs"):
        resume(_swap_first_two(journaled))
    resumed = resume(journaled)
    releases = [o for r in responses for o in resumed.receive(r)]
    assert len(releases) == N
    for out in releases:
        silos[out.recipient].receive(out.message)
        aggregate = silos[out.recipient].aggregate
        assert aggregate is not None
        assert np.array_equal(aggregate.total, plain_sum(inputs, EVERYONE, 32))


# --- the config setting --------------------------------------------------------------------


def test_auto_release_verification_is_full_up_to_the_limit_and_sketch_above() -> None:
    assert resolve_full_verification("auto", 1)
    assert resolve_full_verification("auto", FULL_VERIFICATION_MAX_WORDS)
    assert not resolve_full_verification("auto", FULL_VERIFICATION_MAX_WORDS + 1)


def test_an_explicit_release_verification_is_respected_whatever_the_vector_length() -> None:
    assert resolve_full_verification("full", 100 * FULL_VERIFICATION_MAX_WORDS)
    assert not resolve_full_verification("sketch", 1)


def _hospitals(**scheme: object) -> dict[str, object]:
    document: dict[str, dict[str, object]] = yaml.safe_load(HOSPITALS.read_text())
    document["scheme"].update(scheme)
    return document  # type: ignore[return-value]


def test_release_verification_defaults_to_auto_and_the_config_digest_covers_it() -> None:
    default = config_from_document(_hospitals())
    assert isinstance(default.scheme, MaskingScheme)
    assert default.scheme.release_verification == "auto"
    assert default.document()["scheme"]["release_verification"] == "auto"  # in the digest
    digests = {
        value: config_from_document(_hospitals(release_verification=value)).digest()
        for value in ("auto", "full", "sketch")
    }
    assert digests["auto"] == default.digest()  # writing the default changes nothing
    assert len(set(digests.values())) == 3


def test_a_bad_release_verification_is_refused_in_one_line_naming_the_key() -> None:
    with pytest.raises(ConfigProblemsError) as caught:
        config_from_document(_hospitals(release_verification="everything"))
    assert caught.value.problems == [
        "scheme.release_verification: must be one of auto, full, sketch, got 'everything'"
    ]
    with pytest.raises(ConfigError) as resolved:
        resolve_full_verification("everything", LENGTH)
    assert str(resolved.value) == caught.value.problems[0]
