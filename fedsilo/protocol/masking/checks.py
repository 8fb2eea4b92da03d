"""The checks a silo makes of what the aggregator relays, as pure functions.

A silo in a session makes them stage by stage (:mod:`.silo`); a silo catching
up on a round it missed makes the very same ones over the round's evidence
(:mod:`.catchup`). Each raises a named error; none returns a bool.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fedsilo.errors import (
    ContextMismatchError,
    CryptoError,
    InconsistentViewError,
    SignatureError,
    TooFewSurvivorsError,
)
from fedsilo.protocol.masking import payloads
from fedsilo.protocol.masking.messages import (
    ConsistencySignature,
    InputCommitment,
    KeyAdvert,
    Stage,
)
from fedsilo.protocol.masking.payloads import SurvivorView
from fedsilo.protocol.messages import SessionContext
from fedsilo.protocol.roster import Roster


def need(have: int, threshold: int, stage: Stage) -> None:
    if have < threshold:
        raise TooFewSurvivorsError(stage.value, have, threshold)


def check_adverts(
    roster: Roster, ctx: SessionContext, adverts: Iterable[KeyAdvert]
) -> dict[int, KeyAdvert]:
    """Every advert is for ``ctx``, signed by its sender's roster key, with distinct keys."""
    listed = tuple(adverts)
    ids = roster.check_ids([a.sender for a in listed], "the advert list")
    by_sender = dict(zip(ids, listed, strict=True))
    for sender, advert in by_sender.items():
        if advert.context != ctx:
            raise ContextMismatchError(
                f"the advert of silo {roster.name(sender)!r} is from another session"
            )
        try:
            payloads.verify_advert(roster.entry(sender).verifying_key, ctx, advert)
        except SignatureError as exc:
            raise SignatureError(
                f"the advert of silo {roster.name(sender)!r} is not signed by its "
                "roster key: substituted or forged by the aggregator"
            ) from exc
        try:
            payloads.check_mask_public_key(advert.mask_public_key)
        except CryptoError as exc:
            raise InconsistentViewError(
                f"the advert of silo {roster.name(sender)!r}: {exc}"
            ) from exc
    keys = [k for a in by_sender.values() for k in (a.cipher_public_key, a.mask_public_key)]
    if len(set(keys)) != len(keys):
        raise InconsistentViewError("two adverts share a public key")
    return by_sender


def check_commitments(
    roster: Roster,
    ctx: SessionContext,
    commitments: Iterable[InputCommitment],
    survivors: tuple[int, ...],
    length: int,
) -> tuple[InputCommitment, ...]:
    """One commitment per survivor, for ``ctx`` and ``length``, each signed by its sender;
    returned in survivor order."""
    listed = tuple(commitments)
    by_sender = {c.sender: c for c in listed}
    if len(by_sender) != len(listed) or tuple(sorted(by_sender)) != survivors:
        raise InconsistentViewError(
            "the survivor list does not carry exactly one input commitment per survivor"
        )
    for sender, commitment in by_sender.items():
        if commitment.context != ctx or commitment.total_length != length:
            raise ContextMismatchError(
                f"the input commitment of {roster.name(sender)!r} is for another "
                "session or vector length"
            )
        try:
            payloads.verify_input_commitment(roster.entry(sender).verifying_key, ctx, commitment)
        except SignatureError as exc:
            raise SignatureError(
                f"the input commitment of silo {roster.name(sender)!r} is not signed "
                "by its roster key: forged by the aggregator"
            ) from exc
    return tuple(by_sender[s] for s in survivors)


def check_signatures(
    roster: Roster,
    ctx: SessionContext,
    view: SurvivorView,
    signatures: Iterable[ConsistencySignature],
    threshold: int,
) -> dict[int, ConsistencySignature]:
    """A consistency signature from every survivor, each over ``view`` and its own sketch."""
    listed = tuple(signatures)
    signers = roster.check_ids([s.sender for s in listed], "the signatures")
    if not set(signers) <= set(view.survivors):
        raise InconsistentViewError("a consistency signature comes from a non-survivor")
    need(len(signers), threshold, Stage.CONSISTENCY_CHECK)
    if set(signers) != set(view.survivors):
        missing = roster.names(set(view.survivors) - set(signers))
        raise InconsistentViewError(
            f"the signature bundle lacks the consistency signature of {', '.join(missing)}: "
            "without every survivor's sketch the release cannot be verified, so this silo "
            "reveals nothing"
        )
    for sig in listed:
        if sig.context != ctx:
            raise ContextMismatchError("a consistency signature is from another session")
        try:
            payloads.verify_consistency(
                roster.entry(sig.sender).verifying_key,
                ctx,
                sig.sender,
                view,
                sig.sketch,
                sig.signature,
            )
        except SignatureError as exc:
            raise InconsistentViewError(
                f"silo {roster.name(sig.sender)!r} did not sign the survivor view, input "
                "commitments and sum digest this silo signed: the aggregator showed silos "
                "different views"
            ) from exc
    return {s.sender: s for s in listed}


def check_lists(
    roster: Roster, survivors: Iterable[int], dropped: Iterable[int], shared: Mapping[int, object]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Survivor and dropped lists: known ids, disjoint, covering exactly ``shared``."""
    alive = set(roster.check_ids(survivors, "the survivor list"))
    gone = set(roster.check_ids(dropped, "the dropped list"))
    both = alive & gone
    if both:
        raise InconsistentViewError(
            f"silo(s) {', '.join(roster.names(both))} listed as both survivor and dropped"
        )
    if alive | gone != set(shared):
        raise InconsistentViewError(
            "the survivor and dropped lists do not cover exactly the silos that shared keys"
        )
    return tuple(sorted(alive)), tuple(sorted(gone))
