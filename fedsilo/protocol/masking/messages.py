"""Every message of the masking protocol, as frozen dataclasses.

The scheme-neutral ones (the session context, the ack, the aggregate) are in
:mod:`fedsilo.protocol.messages`.

Each message carries its :class:`SessionContext` (federation, config digest,
session id, round, and the chain head ``H_{r-1}`` the round continues); its
stage is its type. A receiver refuses a message
whose context is not its own, so messages cannot be replayed across
sessions, rounds or federations, and the signed payloads carry a
per-stage label so they cannot be replayed across stages.

Silo indices are roster positions 1..n: they fix Shamir x-coordinates and
the sign of each pairwise mask.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from fedsilo.crypto.prg import DEFAULT_CHUNK_WORDS, UIntArray
from fedsilo.crypto.sketch import WideSum
from fedsilo.protocol.messages import Ack, SessionContext


class Stage(enum.Enum):
    """The stages of an aggregation session, in order."""

    ADVERTISE_KEYS = "advertise-keys"
    SHARE_KEYS = "share-keys"
    SHARE_CHECK = "share-check"
    MASKED_INPUT = "masked-input"
    CONSISTENCY_CHECK = "consistency-check"
    UNMASKING = "unmasking"
    RELEASE = "release"


@dataclass(frozen=True)
class KeyAdvert:
    """Stage 0: a silo's two ephemeral X25519 public keys, signed with its identity key."""

    context: SessionContext
    sender: int
    cipher_public_key: bytes
    mask_public_key: bytes
    seed_commitment: bytes  # commits to the self-mask seed b_u, checked at release
    signature: bytes


@dataclass(frozen=True)
class EncryptedShare:
    """Shamir shares of the sender's mask key and self-mask seed, sealed to ``recipient``."""

    sender: int
    recipient: int
    sealed: bytes


@dataclass(frozen=True)
class DealerCommitments:
    """Stage 1: the sender's Feldman commitments to the two polynomials that share its
    self-mask seed ``b_u`` and its mask-key seed ``sigma_u`` (``t`` group elements each,
    encoded), signed by the sender: any share it dealt can be checked against them."""

    sender: int
    self_seed: bytes
    mask_seed: bytes
    signature: bytes


@dataclass(frozen=True)
class ShareUpload:
    """Stage 1: one sealed share bundle for every other silo that advertised, and the
    signed commitments every bundle's shares are checked against."""

    context: SessionContext
    sender: int
    shares: tuple[EncryptedShare, ...]
    commitments: DealerCommitments


@dataclass(frozen=True)
class ShareCheck:
    """Stage 1b: the sender checked every share dealt to it against its dealer's signed
    commitments and accuses, by roster index, each dealer whose share failed (signed: an
    accusation is attributable to its sender). Usually ``accused`` is empty."""

    context: SessionContext
    sender: int
    accused: tuple[int, ...]
    signature: bytes


@dataclass(frozen=True, eq=False)
class MaskedInput:
    """Stage 2: words ``offset .. offset + len(values)`` of the sender's masked vector."""

    context: SessionContext
    sender: int
    offset: int
    total_length: int
    values: UIntArray = field(repr=False)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, MaskedInput)
            and (self.context, self.sender, self.offset, self.total_length)
            == (other.context, other.sender, other.offset, other.total_length)
            and self.values.dtype == other.values.dtype
            and bool(np.array_equal(self.values, other.values))
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class MaskedInputStream:
    """Stage 2: the sender's whole masked vector ``y_u``, delivered chunk by chunk.

    The vector is masked before anything is sent, because the silo signs its
    digest and Merkle root (:class:`InputCommitment`); a resumed upload sends
    exactly the same bytes from the resume offset.
    """

    context: SessionContext
    sender: int
    masked: UIntArray = field(repr=False)

    @property
    def total_length(self) -> int:
        return len(self.masked)

    def chunks(
        self, chunk_words: int = DEFAULT_CHUNK_WORDS, start: int = 0
    ) -> Iterator[MaskedInput]:
        for offset in range(start, self.total_length, chunk_words):
            values = self.masked[offset : offset + chunk_words]
            yield MaskedInput(self.context, self.sender, offset, self.total_length, values)


@dataclass(frozen=True)
class InputCommitment:
    """Stage 2: the sender's signature over the digest and Merkle root of its ``y_u``."""

    context: SessionContext
    sender: int
    total_length: int
    digest: bytes
    root: bytes
    signature: bytes


@dataclass(frozen=True, eq=False)
class SpotLeaf:
    """One Merkle leaf of a survivor's ``y_u`` with its proof (a release spot check)."""

    leaf: int
    words: UIntArray = field(repr=False)
    proof: tuple[bytes, ...]

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, SpotLeaf)
            and (self.leaf, self.proof) == (other.leaf, other.proof)
            and self.words.dtype == other.words.dtype
            and bool(np.array_equal(self.words, other.words))
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class ConsistencySignature:
    """Stage 3: the sender's signature over the survivor view, every survivor's input
    commitment and ``H(Y)``, together with its sketch of ``y_u`` and its spot leaves."""

    context: SessionContext
    sender: int
    sketch: tuple[int, ...]
    spot_leaves: tuple[SpotLeaf, ...]
    signature: bytes


@dataclass(frozen=True)
class RevealedShare:
    """A decrypted Feldman share of ``owner``'s secret, revealed at unmasking."""

    owner: int
    share: bytes


@dataclass(frozen=True)
class UnmaskingShares:
    """Stage 4: self-mask shares of survivors and mask-key shares of dropped silos, signed
    by the sender together with the digest of each owner's commitments it checked them
    against: a share that fails those commitments is the sender's doing, provably."""

    context: SessionContext
    sender: int
    self_mask_shares: tuple[RevealedShare, ...]
    mask_key_shares: tuple[RevealedShare, ...]
    signature: bytes


@dataclass(frozen=True)
class AdvertList:
    """The adverts of every silo that joined (U1)."""

    context: SessionContext
    adverts: tuple[KeyAdvert, ...]


@dataclass(frozen=True)
class ShareRelay:
    """The silos that shared keys (U2) and the shares they sealed to ``recipient``."""

    context: SessionContext
    recipient: int
    senders: tuple[int, ...]
    shares: tuple[EncryptedShare, ...]
    commitments: tuple[DealerCommitments, ...]  # every sender's, in sender order


@dataclass(frozen=True)
class MaskingSet:
    """Who masks with whom (U2'): the silos that shared keys and checked their shares,
    without any dealer accused by a signed :class:`ShareCheck` (included, for the record)."""

    context: SessionContext
    senders: tuple[int, ...]
    checks: tuple[ShareCheck, ...]


@dataclass(frozen=True)
class SurvivorList:
    """Whose masked input arrived (U3), who dropped after sharing keys (U2 minus U3),
    every survivor's signed input commitment, and the digest of the non-wrapped sum
    ``Y`` of their masked inputs (fixed before any silo draws its sketch challenge)."""

    context: SessionContext
    survivors: tuple[int, ...]
    dropped: tuple[int, ...]
    commitments: tuple[InputCommitment, ...]
    sum_digest: bytes


@dataclass(frozen=True)
class SignatureBundle:
    """The consistency signatures of every survivor over these survivor lists."""

    context: SessionContext
    survivors: tuple[int, ...]
    dropped: tuple[int, ...]
    signatures: tuple[ConsistencySignature, ...]


@dataclass(frozen=True)
class RevealedSecret:
    """A secret reconstructed at unmasking: a survivor's self-mask seed or a dropped
    silo's mask key."""

    owner: int
    secret: bytes


@dataclass(frozen=True)
class ReleaseNotice:
    """The release as the aggregator's message carries it: the revealed secrets and how
    many masked inputs ``Y`` sums. ``Y`` itself (and, with full verification, every
    survivor's ``y_u``) is fetched; the silo's session joins them into the
    :class:`ReleaseBundle` it verifies."""

    context: SessionContext
    self_seeds: tuple[RevealedSecret, ...]
    mask_keys: tuple[RevealedSecret, ...]
    sum_count: int


@dataclass(frozen=True, eq=False)
class ReleaseBundle:
    """After unmasking: the non-wrapped sum ``Y`` of the survivors' masked inputs and the
    secrets that remove their masks, so every survivor computes ``A`` itself.

    With full release verification, ``inputs`` also carries every survivor's masked vector
    ``y_u`` (sender, words of the modulus dtype), so each silo adds them up itself; it is
    empty in sketch mode."""

    context: SessionContext
    self_seeds: tuple[RevealedSecret, ...]
    mask_keys: tuple[RevealedSecret, ...]
    total: WideSum = field(repr=False)
    inputs: tuple[tuple[int, UIntArray], ...] = field(default=(), repr=False)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ReleaseBundle)
            and (self.context, self.self_seeds, self.mask_keys)
            == (other.context, other.self_seeds, other.mask_keys)
            and self.total == other.total
            and [s for s, _ in self.inputs] == [s for s, _ in other.inputs]
            and all(
                a.dtype == b.dtype and bool(np.array_equal(a, b))
                for (_, a), (_, b) in zip(self.inputs, other.inputs, strict=True)
            )
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class RoundEvidence:
    """Everything a silo that missed a round needs to verify it and derive its state: the
    silo-signed adverts, commitments and consistency signatures, the release, and the acks
    of ``H_r`` (which the catching-up silo checks against the head it derives itself)."""

    context: SessionContext
    adverts: AdvertList
    survivors: SurvivorList
    bundle: SignatureBundle
    release: ReleaseBundle
    acks: tuple[Ack, ...]


@dataclass(frozen=True)
class EvidenceNotice:
    """A final round's evidence as the aggregator's message carries it: everything but
    what its session served (``Y``, and with full verification every ``y_u``), which the
    catching-up silo fetches, sized by this notice, and joins into the
    :class:`RoundEvidence` it verifies."""

    context: SessionContext
    adverts: AdvertList
    survivors: SurvivorList
    bundle: SignatureBundle
    release: ReleaseNotice
    acks: tuple[Ack, ...]


SiloMessage = (
    KeyAdvert
    | ShareUpload
    | ShareCheck
    | MaskedInput
    | MaskedInputStream
    | InputCommitment
    | ConsistencySignature
    | UnmaskingShares
    | Ack
)
AggregatorMessage = (
    AdvertList | ShareRelay | MaskingSet | SurvivorList | SignatureBundle | ReleaseBundle
)

STAGE_OF_SILO_MESSAGE: dict[type, Stage] = {
    KeyAdvert: Stage.ADVERTISE_KEYS,
    ShareUpload: Stage.SHARE_KEYS,
    ShareCheck: Stage.SHARE_CHECK,
    MaskedInput: Stage.MASKED_INPUT,
    MaskedInputStream: Stage.MASKED_INPUT,
    InputCommitment: Stage.MASKED_INPUT,
    ConsistencySignature: Stage.CONSISTENCY_CHECK,
    UnmaskingShares: Stage.UNMASKING,
    Ack: Stage.RELEASE,
}
