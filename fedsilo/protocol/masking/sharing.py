"""Verifiable sharing of a silo's two seeds, and evidence that names whoever lies about a share.

Theory of operation
-------------------
Each silo ``u`` draws two uniform scalars mod ``q`` (:mod:`fedsilo.crypto.group`):
its self-mask seed ``b_u`` and its mask-key seed ``sigma_u`` (its X25519 mask key is
derived from ``sigma_u``, :func:`~.payloads.mask_key`). In ShareKeys it deals both
with Feldman VSS (:mod:`fedsilo.crypto.feldman`) and signs the two commitment
vectors (:class:`~fedsilo.protocol.messages.DealerCommitments`); the aggregator
relays every dealer's signed commitments with the sealed shares.

* **On receipt** (:func:`check_received`) a recipient checks the dealer's
  signature and both of its shares against the commitments, and refuses the dealer
  by name when one fails: the dealer, not the recipient, is at fault.
* **At unmasking** each revealer signs its response together with the digest of
  every owner's commitments it checked its shares against
  (:func:`~.payloads.sign_unmasking`). The aggregator checks every revealed share
  (:func:`check_revealed`); a share that fails was changed by its revealer, which had
  accepted the commitments its own signature names. That is offline-verifiable
  evidence (:class:`FalseShareEvidence`, :func:`verify_false_share`): two signatures
  (the revealer's and the dealer's) and one exponentiation check, with nothing but the
  roster's certificates. Reconstruction uses only shares that verified, so one liar
  cannot spoil a round that ``t`` honest responses can finish.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fedsilo.crypto import feldman, group
from fedsilo.crypto.entropy import Entropy
from fedsilo.crypto.signatures import IdentityKey
from fedsilo.errors import CryptoError, FalseShareError, SignatureError
from fedsilo.protocol.masking import payloads, records
from fedsilo.protocol.masking.messages import DealerCommitments, KeyAdvert, UnmaskingShares
from fedsilo.protocol.masking.payloads import SharePair
from fedsilo.protocol.messages import SessionContext
from fedsilo.protocol.roster import Roster

SELF_SEED, MASK_SEED = "self-mask seed", "mask-key seed"


def random_seed(entropy: Entropy) -> bytes:
    """A fresh seed: a uniform scalar mod ``q``, as 32 bytes."""
    return group.scalar_to_bytes(feldman.random_scalar(entropy))


@dataclass(frozen=True)
class Dealt:
    """A dealer's share pair for every holder and its signed commitments."""

    pairs: dict[int, SharePair]
    commitments: DealerCommitments


def deal(
    identity: IdentityKey,
    ctx: SessionContext,
    dealer: int,
    self_seed: bytes,
    mask_seed: bytes,
    threshold: int,
    holders: Sequence[int],
    entropy: Entropy,
) -> Dealt:
    """Share both seeds among ``holders`` and sign the commitments."""
    b_shares, b_commit = feldman.deal(
        group.scalar_from_bytes(self_seed), threshold, holders, entropy
    )
    s_shares, s_commit = feldman.deal(
        group.scalar_from_bytes(mask_seed), threshold, holders, entropy
    )
    pairs = {h: SharePair(s, b) for h, s, b in zip(holders, s_shares, b_shares, strict=True)}
    signed = payloads.sign_dealer_commitments(identity, ctx, dealer, b_commit, s_commit)
    return Dealt(pairs, signed)


def parsed_commitments(
    c: DealerCommitments, threshold: int
) -> tuple[feldman.Commitments, feldman.Commitments]:
    """The self-seed and mask-seed commitments, each exactly ``threshold`` elements."""
    return (
        feldman.Commitments.from_bytes(c.self_seed, threshold),
        feldman.Commitments.from_bytes(c.mask_seed, threshold),
    )


def check_dealer(
    roster: Roster,
    ctx: SessionContext,
    advert: KeyAdvert,
    c: DealerCommitments,
    threshold: int,
) -> tuple[feldman.Commitments, feldman.Commitments]:
    """The dealer signed these commitments, of the right shape, and they share the very
    secrets its signed advert committed to: ``C_0`` of the self-seed polynomial is the
    advert's ``g^{b_u}`` and ``C_0`` of the mask-seed polynomial its mask public key
    ``g^{sigma_u}``. Otherwise ``t`` valid shares could rebuild another secret than the one
    the dealer masks with, and the round would fail only after everyone revealed."""
    payloads.verify_dealer_commitments(roster.entry(c.sender).verifying_key, ctx, c)
    b_commit, s_commit = parsed_commitments(c, threshold)
    if advert.sender != c.sender or (
        group.element_to_bytes(b_commit.values[0]) != advert.seed_commitment
        or group.element_to_bytes(s_commit.values[0]) != advert.mask_public_key
    ):
        raise CryptoError("the dealer's commitments share other secrets than its advert commits to")
    return b_commit, s_commit


def check_received(
    roster: Roster,
    ctx: SessionContext,
    threshold: int,
    recipient: int,
    advert: KeyAdvert,
    commitments: DealerCommitments,
    pair: SharePair,
) -> bytes:
    """A recipient's check of the pair a dealer sealed to it; returns the commitments'
    digest (what its unmasking response will name). Raises
    :class:`~fedsilo.errors.CryptoError` naming the dealer, who is at fault."""
    dealer = roster.name(commitments.sender)
    try:
        b_commit, s_commit = check_dealer(roster, ctx, advert, commitments, threshold)
        if pair.self_seed.x != recipient or pair.mask_key.x != recipient:
            raise CryptoError("the shares are for another holder")
        feldman.verify_share(pair.self_seed, b_commit)
        feldman.verify_share(pair.mask_key, s_commit)
    except CryptoError as exc:
        raise CryptoError(
            f"silo {dealer!r} dealt this silo a share that fails its own signed commitments "
            f"({exc}): the dealer is at fault"
        ) from exc
    return payloads.dealer_digest(commitments)


@dataclass(frozen=True)
class FalseShareEvidence:
    """A signed unmasking response with a share that fails the commitments it names.

    ``dealers`` holds the signed commitments of every owner the response reveals a share
    of (what its signature covers); ``owner`` and ``kind`` say which share is false."""

    context: SessionContext
    response: UnmaskingShares
    dealers: tuple[DealerCommitments, ...]
    owner: int
    kind: str

    @property
    def revealer(self) -> int:
        return self.response.sender

    def record(self) -> dict[str, Any]:
        """This evidence as JSON-able data (:func:`evidence_record`)."""
        return evidence_record(self)


def _digests(dealers: Mapping[int, DealerCommitments]) -> dict[int, bytes]:
    return {owner: payloads.dealer_digest(c) for owner, c in dealers.items()}


def check_revealed(
    roster: Roster,
    ctx: SessionContext,
    threshold: int,
    response: UnmaskingShares,
    dealers: Mapping[int, DealerCommitments],
) -> None:
    """The aggregator's check of an unmasking response: signed by its sender over these
    commitments, and every share valid against them. A false share raises
    :class:`~fedsilo.errors.FalseShareError` carrying the evidence."""
    try:
        payloads.verify_unmasking(
            roster.entry(response.sender).verifying_key, response, _digests(dealers)
        )
    except (SignatureError, KeyError) as exc:
        raise SignatureError(
            f"the unmasking response of {roster.name(response.sender)!r} is not validly "
            "signed over the dealers' commitments"
        ) from exc
    for kind, revealed in (
        (SELF_SEED, response.self_mask_shares),
        (MASK_SEED, response.mask_key_shares),
    ):
        for r in revealed:
            try:
                share = feldman.Share.from_bytes(r.share)
                if share.x != response.sender:
                    raise CryptoError("a revealed share carries another holder's index")
                b_commit, s_commit = parsed_commitments(dealers[r.owner], threshold)
                feldman.verify_share(share, b_commit if kind == SELF_SEED else s_commit)
            except CryptoError as exc:
                evidence = FalseShareEvidence(
                    ctx, response, tuple(dealers[o] for o in sorted(dealers)), r.owner, kind
                )
                raise FalseShareError(
                    f"silo {roster.name(response.sender)!r} revealed a false share of the "
                    f"{kind} of {roster.name(r.owner)!r} ({exc}); its signed response is the "
                    "evidence",
                    evidence,
                ) from exc


def evidence_record(e: FalseShareEvidence) -> dict[str, Any]:
    """``e`` as JSON-able data (what the aggregator logs, and an auditor checks)."""
    return {
        "context": records.context_record(e.context),
        "response": records.unmasking_record(e.response),
        "dealers": [records.dealer_record(c) for c in e.dealers],
        "owner": e.owner,
        "kind": e.kind,
    }


def evidence_from(r: Mapping[str, Any]) -> FalseShareEvidence:
    """Parse :func:`evidence_record` (raises ConfigError on malformed data)."""
    ctx = records.context_from(records.parsed("context", lambda: r["context"]))
    return records.parsed(
        "false-share evidence",
        lambda: FalseShareEvidence(
            ctx,
            records.unmasking_from(r["response"], ctx),
            tuple(records.dealer_from(c) for c in r["dealers"]),
            int(r["owner"]),
            str(r["kind"]),
        ),
    )


def verify_false_share(evidence: FalseShareEvidence, roster: Roster, threshold: int) -> str:
    """Check ``evidence`` with nothing but the roster's keys; returns the liar's name.

    Raises :class:`~fedsilo.errors.CryptoError` if the evidence does not prove that the
    revealer signed a share failing the commitments its dealer signed."""
    ctx = evidence.context
    dealers = {c.sender: c for c in evidence.dealers}
    if len(dealers) != len(evidence.dealers) or evidence.response.context != ctx:
        raise CryptoError("the evidence is malformed")
    for c in dealers.values():
        payloads.verify_dealer_commitments(roster.entry(c.sender).verifying_key, ctx, c)
    try:
        check_revealed(roster, ctx, threshold, evidence.response, dealers)
    except FalseShareError as exc:
        named = exc.evidence
        assert isinstance(named, FalseShareEvidence)
        if (named.owner, named.kind) == (evidence.owner, evidence.kind):
            return roster.name(evidence.revealer)
        raise CryptoError("the evidence names another false share than the one it shows") from exc
    raise CryptoError("every share in the evidence is valid: it proves nothing")
