"""Every message of the masking protocol, as frozen dataclasses.

Each message carries its :class:`SessionContext` (federation, config digest,
session id, round); its stage is its type. A receiver refuses a message
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

from fedsilo.crypto.encoding import Field
from fedsilo.crypto.prg import DEFAULT_CHUNK_WORDS, SignedMask, UIntArray, apply_masks


class Stage(enum.Enum):
    """The five stages of an aggregation session, in order."""

    ADVERTISE_KEYS = "advertise-keys"
    SHARE_KEYS = "share-keys"
    MASKED_INPUT = "masked-input"
    CONSISTENCY_CHECK = "consistency-check"
    UNMASKING = "unmasking"


@dataclass(frozen=True)
class SessionContext:
    """What every message of one aggregation session is bound to."""

    federation_id: str
    config_digest: bytes
    session_id: bytes
    round: int

    def fields(self) -> tuple[Field, ...]:
        """The context as encodable fields (for signatures, KDF info and AEAD data)."""
        return (self.federation_id, self.config_digest, self.session_id, self.round)


# --- silo -> aggregator -------------------------------------------------------------


@dataclass(frozen=True)
class KeyAdvert:
    """Stage 0: a silo's two ephemeral X25519 public keys, signed with its identity key."""

    context: SessionContext
    sender: int
    cipher_public_key: bytes
    mask_public_key: bytes
    signature: bytes


@dataclass(frozen=True)
class EncryptedShare:
    """Shamir shares of the sender's mask key and self-mask seed, sealed to ``recipient``."""

    sender: int
    recipient: int
    sealed: bytes


@dataclass(frozen=True)
class ShareUpload:
    """Stage 1: one sealed share bundle for every other silo that advertised."""

    context: SessionContext
    sender: int
    shares: tuple[EncryptedShare, ...]


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
    """Stage 2, produced lazily: the sender's masked vector, chunk by chunk from any offset.

    Masking is pure computation done as the caller pulls chunks, so a node can send
    each chunk while the next is masked, and a resumed upload regenerates exactly the
    same bytes from the resume offset.
    """

    context: SessionContext
    sender: int
    total_length: int
    bits: int
    masked_input: UIntArray = field(repr=False)
    masks: tuple[SignedMask, ...] = field(repr=False)

    def chunks(
        self, chunk_words: int = DEFAULT_CHUNK_WORDS, start: int = 0
    ) -> Iterator[MaskedInput]:
        for offset in range(start, self.total_length, chunk_words):
            values = self.masked_input[offset : offset + chunk_words].copy()
            apply_masks(values, self.masks, self.bits, offset=offset)
            yield MaskedInput(self.context, self.sender, offset, self.total_length, values)


@dataclass(frozen=True)
class ConsistencySignature:
    """Stage 3: the sender's signature over the survivor lists and its model hash."""

    context: SessionContext
    sender: int
    signature: bytes


@dataclass(frozen=True)
class RevealedShare:
    """A decrypted Shamir share of ``owner``'s secret, revealed at unmasking."""

    owner: int
    share: bytes


@dataclass(frozen=True)
class UnmaskingShares:
    """Stage 4: self-mask shares of survivors and mask-key shares of dropped silos."""

    context: SessionContext
    sender: int
    self_mask_shares: tuple[RevealedShare, ...]
    mask_key_shares: tuple[RevealedShare, ...]


# --- aggregator -> silo -------------------------------------------------------------


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


@dataclass(frozen=True)
class SurvivorList:
    """Whose masked input arrived (U3) and who dropped after sharing keys (U2 minus U3)."""

    context: SessionContext
    survivors: tuple[int, ...]
    dropped: tuple[int, ...]


@dataclass(frozen=True)
class SignatureBundle:
    """The consistency signatures gathered (U4) over these survivor lists."""

    context: SessionContext
    survivors: tuple[int, ...]
    dropped: tuple[int, ...]
    signatures: tuple[ConsistencySignature, ...]


@dataclass(frozen=True)
class Outgoing:
    """A message the aggregator sends to silo ``recipient``."""

    recipient: int
    message: AdvertList | ShareRelay | SurvivorList | SignatureBundle


@dataclass(frozen=True, eq=False)
class AggregateResult:
    """The unmasked sum of the survivors' quantized inputs, mod 2^k."""

    context: SessionContext
    survivors: tuple[int, ...]
    dropped: tuple[int, ...]
    total: UIntArray = field(repr=False)


SiloMessage = (
    KeyAdvert
    | ShareUpload
    | MaskedInput
    | MaskedInputStream
    | ConsistencySignature
    | UnmaskingShares
)
AggregatorMessage = AdvertList | ShareRelay | SurvivorList | SignatureBundle

STAGE_OF_SILO_MESSAGE: dict[type, Stage] = {
    KeyAdvert: Stage.ADVERTISE_KEYS,
    ShareUpload: Stage.SHARE_KEYS,
    MaskedInput: Stage.MASKED_INPUT,
    MaskedInputStream: Stage.MASKED_INPUT,
    ConsistencySignature: Stage.CONSISTENCY_CHECK,
    UnmaskingShares: Stage.UNMASKING,
}
