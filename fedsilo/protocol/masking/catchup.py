"""Catching up: a silo that missed a round verifies it from its evidence before moving on.

A silo that dropped, restarted or was restored from an older backup is behind
the federation's chain. It never takes the aggregator's word for a round: it
fetches the round's :class:`~fedsilo.protocol.messages.RoundEvidence` and the
released sum ``Y``, and checks exactly what a survivor checks in the session
(:mod:`.checks`, :mod:`.release`), on its own chain head:

1. the round is its next one, on its head ``H_{r-1}``, for its federation and
   config;
2. every advert, input commitment and consistency signature is signed by its
   roster silo for that context, every survivor signed, at least ``t``;
3. the release verifies (seeds, mask keys, digest, sketch, spot checks; or, with
   full verification, every survivor's ``y_u`` in the release), and the silo
   computes ``A`` itself;
4. after deriving ``model_{r+1}`` and ``H_r`` itself, at least
   ``max(t, min_silos)`` distinct roster silos acked that same ``H_r``
   (:func:`fedsilo.protocol.catchup.check_acks`, the scheme-neutral part).

Only then does it store the state and finalize the round in its ledger.
"""

from __future__ import annotations

from collections.abc import Mapping

from fedsilo.errors import ContextMismatchError, InconsistentViewError
from fedsilo.protocol.catchup import bounded_survivors
from fedsilo.protocol.chain import ChainHead
from fedsilo.protocol.masking import checks
from fedsilo.protocol.masking.downloads import join_release, release_fetches
from fedsilo.protocol.masking.messages import (
    EvidenceNotice,
    RoundEvidence,
    Stage,
)
from fedsilo.protocol.masking.params import MaskingParams
from fedsilo.protocol.masking.payloads import SurvivorView
from fedsilo.protocol.masking.release import verify_release
from fedsilo.protocol.messages import AggregateResult
from fedsilo.protocol.outputs import Fetch
from fedsilo.protocol.roster import Roster


def evidence_fetches(
    notice: EvidenceNotice, *, params: MaskingParams, silos: int, vector_length: int
) -> list[Fetch]:
    """What a silo catching up downloads for ``notice``: its release's downloads, sized by
    a survivor list that could be genuine (checked before anything is fetched; its
    signatures are checked later)."""
    listed = bounded_survivors(notice.survivors.survivors, silos, params.quorum)
    return release_fetches(params, listed, vector_length)


def join_evidence(
    notice: EvidenceNotice,
    downloads: Mapping[str, bytes | bytearray],
    *,
    params: MaskingParams,
    vector_length: int,
) -> RoundEvidence:
    """``notice`` joined with what was fetched for it (refused if malformed or missing)."""
    release = join_release(
        notice.release,
        downloads,
        params=params,
        survivors=tuple(int(u) for u in notice.survivors.survivors),
        vector_length=vector_length,
    )
    return RoundEvidence(
        notice.context, notice.adverts, notice.survivors, notice.bundle, release, notice.acks
    )


def verify_evidence(
    evidence: RoundEvidence,
    *,
    roster: Roster,
    params: MaskingParams,
    federation: str,
    config_digest: bytes,
    chain: ChainHead,
    vector_length: int,
) -> AggregateResult:
    """The aggregate of a missed round, computed here from evidence verified end to end."""
    ctx = evidence.context
    if ctx.federation_id != federation or ctx.config_digest != config_digest:
        raise ContextMismatchError("the evidence is of another federation or config")
    chain.require_next(ctx.round, ctx.chain_head)
    parts = (evidence.adverts, evidence.survivors, evidence.bundle, evidence.release)
    if any(part.context != ctx for part in parts):
        raise ContextMismatchError("the evidence mixes messages of several sessions")
    adverts = checks.check_adverts(roster, ctx, evidence.adverts.adverts)
    checks.need(len(adverts), params.quorum, Stage.ADVERTISE_KEYS)
    listed = evidence.survivors
    survivors, dropped = _lists(roster, listed.survivors, listed.dropped, adverts)
    checks.need(len(survivors), params.quorum, Stage.MASKED_INPUT)
    commitments = checks.check_commitments(
        roster, ctx, listed.commitments, survivors, vector_length
    )
    view = SurvivorView(survivors, dropped, commitments, bytes(listed.sum_digest))
    bundle = evidence.bundle
    if (tuple(sorted(bundle.survivors)), tuple(sorted(bundle.dropped))) != (survivors, dropped):
        raise InconsistentViewError("the evidence's signature bundle is for other lists")
    signatures = checks.check_signatures(roster, ctx, view, bundle.signatures, params.quorum)
    total = verify_release(
        ctx=ctx,
        adverts=adverts,
        view=view,
        signatures=signatures,
        bundle=evidence.release,
        bits=params.bits,
        spot_checks=params.spot_checks,
        full=params.full_verification,
    )
    return AggregateResult(ctx, survivors, dropped, total)


def _lists(
    roster: Roster,
    survivors: tuple[int, ...],
    dropped: tuple[int, ...],
    adverts: Mapping[int, object],
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    # who shared keys is not in the evidence: the survivors and the dropped, all of whom
    # must have advertised
    shared = dict.fromkeys((*survivors, *dropped))
    alive, gone = checks.check_lists(roster, survivors, dropped, shared)
    if not set(alive) | set(gone) <= set(adverts):
        raise InconsistentViewError("the evidence lists silos that never advertised")
    return alive, gone
