"""Verified release: a silo derives nothing from an aggregate it has not checked.

Theory of operation
-------------------
In MaskedInput every silo ``u`` signs the digest ``D_u`` and the Merkle root of
its masked vector ``y_u`` (:class:`~fedsilo.protocol.messages.InputCommitment`).
Once every survivor's ``y_u`` has arrived, the aggregator fixes the
non-wrapped sum ``Y = Σ y_u`` by publishing ``H(Y)`` with the survivor list.
Only then does each survivor draw the challenge seed
``H(ctx ‖ {u, D_u, root_u} ‖ H(Y))`` and answer, signed with its consistency
signature:

* a linear sketch ``z_u = (⟨rho_j, y_u⟩ mod p)_j``, ``p = 2^61 - 1``; and
* the ``k`` spot-check leaves of ``y_u`` the seed selects, with Merkle proofs.

After unmasking the aggregator hands every survivor ``Y`` and the secrets it
reconstructed (each survivor's self-mask seed, each dropped silo's mask key).
:func:`verify_release` checks, in order:

1. ``H(Y)`` is the digest the silo signed, for the survivors it signed;
2. every seed matches its owner's signed commitment and every mask key its
   owner's signed advert;
3. ``Σ_u z_u ≡ ⟨rho_j, Y⟩ (mod p)`` for each challenge: a ``Y`` that is not the sum
   of the committed ``y_u`` passes with probability about ``2^-122``;
4. at every spot-check leaf, the survivors' leaves (each proven against its
   signed root) sum to ``Y``: this catches a colluding survivor that lies in
   its own ``z_u`` to cover a forged ``Y``, with probability
   ``1 - (1 - f)^k`` when a fraction ``f`` of the leaves is forged. A forgery
   of a few leaves can slip past the spot checks if a survivor colludes: the
   residual risk of sketch mode, written in ``docs/threat-model.md``;

and only then removes the masks itself: ``A = (Y - Σ p_u - dropped pair masks)
mod 2^k``. Any failure raises :class:`~fedsilo.errors.ReleaseVerificationError`,
naming the aggregator.

**Full verification** (``MaskingParams.full_verification``, for small vectors)
replaces steps 3 and 4 by :func:`check_inputs`: the release carries every
survivor's ``y_u``, each must hash to the digest and Merkle root its sender
signed, and their exact non-wrapped sum must be ``Y``. Nothing is then left to
chance, and no colluder's sketch is trusted.

All of this runs on the masked vectors as **32-bit limbs** (:func:`limbs`): a
64-bit word is its two little-endian halves. Then every word of ``Y`` stays
below ``255 * 2^32 < 2^61 - 1``, so a forged word always differs from the true
one by less than the sketch prime; with whole 64-bit words an aggregator
could add a multiple of ``2^61 - 1`` to one word and pass every sketch.
``A`` mod ``2^64`` is then ``Y_0 + 2^32 * Y_1`` (:func:`aggregate_words`).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from fedsilo.crypto.merkle import MerkleTree, leaf_count, leaf_span, verify_leaf, words_digest
from fedsilo.crypto.prg import SignedMask, UIntArray, apply_masks, word_dtype
from fedsilo.crypto.sketch import SKETCH_PRIME, WideSum, challenge_seed, sketch, spot_check_leaves
from fedsilo.errors import CryptoError, ReleaseVerificationError
from fedsilo.protocol.masking import payloads
from fedsilo.protocol.masking.messages import (
    ConsistencySignature,
    KeyAdvert,
    ReleaseBundle,
    SpotLeaf,
)
from fedsilo.protocol.masking.payloads import SurvivorView
from fedsilo.protocol.messages import SessionContext

LIMB_BITS = 32


def limbs(words: UIntArray) -> npt.NDArray[np.uint32]:
    """``words`` as little-endian 32-bit limbs (the vector itself for 32-bit words)."""
    if words.dtype == np.uint32:
        return words
    little = np.ascontiguousarray(words, dtype=np.dtype("<u8"))
    return little.view(np.dtype("<u4")).astype(np.uint32, copy=False)


def limbs_per_word(bits: int) -> int:
    return bits // LIMB_BITS


def aggregate_words(total: WideSum, bits: int) -> UIntArray:
    """The sum mod ``2^bits`` of the vectors whose limbs ``total`` sums."""
    if bits == LIMB_BITS:
        return total.wrapped().copy()
    low, carries = total.low.reshape(-1, 2), total.carries.reshape(-1, 2)
    out = low[:, 0].astype(word_dtype(bits))
    high = carries[:, 0].astype(np.uint64) + low[:, 1].astype(np.uint64)
    np.add(out, np.left_shift(high, np.uint64(LIMB_BITS)), out=out)  # wraps mod 2^64
    return out


def sketch_seed(ctx: SessionContext, view: SurvivorView) -> bytes:
    """The challenge seed, drawn only after ``H(Y)`` is fixed."""
    return challenge_seed(ctx.fields(), view.signed_fields())


def answer_challenge(
    ctx: SessionContext, view: SurvivorView, masked: UIntArray, tree: MerkleTree, spot_checks: int
) -> tuple[tuple[int, ...], tuple[SpotLeaf, ...]]:
    """A survivor's sketch of its own ``y_u`` (as limbs, over which ``tree`` is built) and its
    spot-check leaves with proofs."""
    seed = sketch_seed(ctx, view)
    leaves = spot_check_leaves(seed, tree.leaf_count, spot_checks)
    spans = [leaf_span(leaf, len(masked), tree.leaf_words) for leaf in leaves]
    spots = tuple(
        SpotLeaf(leaf, masked[start:stop].copy(), tree.proof(leaf))
        for leaf, (start, stop) in zip(leaves, spans, strict=True)
    )
    return sketch(masked, seed), spots


def check_spot_answer(
    ctx: SessionContext,
    view: SurvivorView,
    sender: int,
    spots: tuple[SpotLeaf, ...],
    length: int,
    spot_checks: int,
) -> None:
    """``sender`` answered exactly the challenged leaves, each proven against its signed root.

    The aggregator runs this when the answer arrives (so a faulty silo cannot make it relay
    oversized or bogus leaves to every survivor), and every survivor again at release.
    Raises :class:`~fedsilo.errors.CryptoError`."""
    count = leaf_count(length)
    if tuple(s.leaf for s in spots) != spot_check_leaves(
        sketch_seed(ctx, view), count, spot_checks
    ):
        raise CryptoError(f"silo {sender} answered other spot-check leaves than challenged")
    root = view.commitment(sender).root
    for spot in spots:
        try:
            verify_leaf(root, spot.leaf, count, length, spot.words, spot.proof)
        except CryptoError as exc:
            raise CryptoError(
                f"a spot-check leaf of silo {sender} is not in its signed Merkle tree: {exc}"
            ) from exc


def remove_masks(
    total: UIntArray,
    ctx: SessionContext,
    adverts: Mapping[int, KeyAdvert],
    survivors: tuple[int, ...],
    self_seeds: Mapping[int, bytes],
    mask_keys: Mapping[int, bytes],
    bits: int,
) -> None:
    """Subtract, in place, every mask that did not cancel: each survivor's self mask and
    the pair masks between each dropped silo and each survivor."""
    masks: list[SignedMask] = []
    for v, secret in sorted(mask_keys.items()):
        masks += [
            payloads.pair_mask(secret, adverts[u].mask_public_key, ctx, u, v) for u in survivors
        ]
    masks += [payloads.self_mask(self_seeds[u], ctx, u) for u in survivors]
    apply_masks(total, payloads.negate(masks), bits)


def check_secrets(
    ctx: SessionContext,
    adverts: Mapping[int, KeyAdvert],
    view: SurvivorView,
    bundle: ReleaseBundle,
) -> tuple[dict[int, bytes], dict[int, bytes]]:
    """The released seeds and mask keys, each checked against its owner's signed advert."""
    seeds = {s.owner: s.secret for s in bundle.self_seeds}
    keys = {s.owner: s.secret for s in bundle.mask_keys}
    if len(seeds) != len(bundle.self_seeds) or tuple(sorted(seeds)) != view.survivors:
        raise ReleaseVerificationError(
            "the aggregator released self-mask seeds for other silos than the survivors"
        )
    if len(keys) != len(bundle.mask_keys) or tuple(sorted(keys)) != view.dropped:
        raise ReleaseVerificationError(
            "the aggregator released mask keys for other silos than the dropped ones"
        )
    for u, seed in seeds.items():
        expected = adverts[u].seed_commitment
        if len(seed) != payloads.SEED_BYTES or not hmac.compare_digest(
            _public_or_empty(seed), expected
        ):
            raise ReleaseVerificationError(
                f"the released self-mask seed of silo {u} does not match its signed commitment"
            )
    for v, secret in keys.items():
        try:
            public = payloads.public_of(secret)
        except CryptoError as exc:
            raise ReleaseVerificationError(f"the released mask key of silo {v}: {exc}") from exc
        if not hmac.compare_digest(public, adverts[v].mask_public_key):
            raise ReleaseVerificationError(
                f"the released mask key of silo {v} does not match its signed advert"
            )
    return seeds, keys


def _public_or_empty(seed: bytes) -> bytes:
    """``g^seed``, or nothing for bytes that are no scalar (they then match no commitment)."""
    try:
        return payloads.seed_commitment(seed)
    except CryptoError:
        return b""


def check_sum(
    ctx: SessionContext,
    view: SurvivorView,
    signatures: Mapping[int, ConsistencySignature],
    total: WideSum,
    spot_checks: int,
) -> None:
    """``Y`` is the sum of the committed ``y_u``: digest, linear sketch and spot checks."""
    length = len(total.low)
    if total.count != len(view.survivors) or not hmac.compare_digest(
        total.digest(), view.sum_digest
    ):
        raise ReleaseVerificationError(
            "the released sum Y is not the one whose digest the survivors signed"
        )
    seed = sketch_seed(ctx, view)
    claimed = total.sketch(seed)
    answered = [signatures[u].sketch for u in view.survivors]
    for j, value in enumerate(claimed):
        if sum(z[j] for z in answered) % SKETCH_PRIME != value:
            raise ReleaseVerificationError(
                "the released sum Y fails the linear sketch: it is not the sum of the "
                "survivors' committed masked inputs (the aggregator altered it)"
            )
    leaves = spot_check_leaves(seed, leaf_count(length), spot_checks)
    for u in view.survivors:
        try:
            check_spot_answer(ctx, view, u, signatures[u].spot_leaves, length, spot_checks)
        except CryptoError as exc:
            raise ReleaseVerificationError(str(exc)) from exc
    for i, leaf in enumerate(leaves):
        start, stop = leaf_span(leaf, length)
        expected = WideSum.zeros(stop - start, total.bits)
        for u in view.survivors:
            expected.count_vector()
            expected.add(signatures[u].spot_leaves[i].words)
        if expected != total.span(start, stop):
            raise ReleaseVerificationError(
                f"the released sum Y differs from the survivors' inputs at leaf {leaf} "
                "(spot check): the aggregator altered it"
            )


def check_inputs(
    view: SurvivorView,
    inputs: tuple[tuple[int, UIntArray], ...],
    total: WideSum,
    bits: int,
) -> None:
    """Full verification: ``inputs`` holds every survivor's ``y_u`` once, each matching the
    digest and Merkle root its sender signed, and ``Y`` is exactly their non-wrapped sum."""
    if not hmac.compare_digest(total.digest(), view.sum_digest):
        raise ReleaseVerificationError(
            "the released sum Y is not the one whose digest the survivors signed"
        )
    if tuple(sender for sender, _ in inputs) != view.survivors:
        raise ReleaseVerificationError(
            "the aggregator released masked inputs for other silos than the survivors "
            "(each survivor's, once, in roster order)"
        )
    length = view.commitments[0].total_length  # every commitment is for the vector length
    if len(total.low) != length * limbs_per_word(bits):
        raise ReleaseVerificationError(
            f"the released sum Y does not have the {length} words the survivors committed to"
        )
    expected = WideSum.zeros(len(total.low), LIMB_BITS)
    for sender, words in inputs:
        commitment = view.commitment(sender)
        if (
            not isinstance(words, np.ndarray)
            or words.dtype != word_dtype(bits)
            or words.shape != (length,)
        ):
            raise ReleaseVerificationError(
                f"the aggregator released a masked input of silo {sender} that is not "
                f"{length} {word_dtype(bits)} words"
            )
        vector = limbs(words)  # what the survivor's digest and root are over
        if not hmac.compare_digest(
            words_digest(vector), commitment.digest
        ) or not hmac.compare_digest(MerkleTree.of_words(vector).root, commitment.root):
            raise ReleaseVerificationError(
                f"the released masked input of silo {sender} does not match its signed "
                "commitment: the aggregator altered it"
            )
        expected.count_vector()
        expected.add(vector)
    if expected.count != total.count or expected != total:
        raise ReleaseVerificationError(
            "the released sum Y is not the exact sum of the survivors' committed masked "
            "inputs: the aggregator altered it"
        )


def verify_release(
    *,
    ctx: SessionContext,
    adverts: Mapping[int, KeyAdvert],
    view: SurvivorView,
    signatures: Mapping[int, ConsistencySignature],
    bundle: ReleaseBundle,
    bits: int,
    spot_checks: int,
    full: bool = False,
) -> UIntArray:
    """The aggregate ``A`` of the survivors, computed here from a checked ``Y``; with
    ``full``, checked against every survivor's released ``y_u`` (:func:`check_inputs`)."""
    if bundle.context != ctx:
        raise ReleaseVerificationError("the release belongs to another session")
    seeds, keys = check_secrets(ctx, adverts, view, bundle)
    if full:
        # Y is then proven equal to the sum of the committed y_u, word for word, so the
        # sketch and spot checks could only repeat that (at the cost of another pass over
        # Y): they are skipped, and a colluder's sketch counts for nothing.
        check_inputs(view, bundle.inputs, bundle.total, bits)
    elif bundle.inputs:
        raise ReleaseVerificationError(
            "the aggregator released masked inputs, but this federation verifies by sketch"
        )
    else:
        check_sum(ctx, view, signatures, bundle.total, spot_checks)
    aggregate = aggregate_words(bundle.total, bits)
    remove_masks(aggregate, ctx, adverts, view.survivors, seeds, keys, bits)
    return aggregate
