"""What is signed, sealed and derived in the masking protocol, in one place.

Silo and aggregator sessions both call these, so the exact bytes that are
signed or bound as associated data are defined once:

* advert signature: ``encode("fedsilo/v1/advert", ctx, sender, c_pk, s_pk, C(b_u))`` with the
  mask public key ``s_pk = g^{sigma_u}`` and the self-seed commitment ``C(b_u) = g^{b_u}`` in
  the Schnorr group of :mod:`fedsilo.crypto.group` (each the ``C_0`` of its sharing);
* input commitment: ``encode("fedsilo/v1/input", ctx, sender, length, D_u, root_u)``;
* consistency signature: ``encode("fedsilo/v1/consistency", ctx, sender, survivors,
  dropped, [(v, length, D_v, root_v) for v in survivors], H(Y), z_u)``;
* share AEAD data: ``encode("fedsilo/v1/share-ad", ctx, "share-keys", sender, recipient)``,
  under a key derived for the direction sender -> recipient;
* pair mask of ``u`` with ``v``: ``+PRG(s_uv)`` if ``u < v`` else ``-PRG(s_uv)``, with
  ``s_uv = HKDF(g^{sigma_u sigma_v}, "fedsilo/v1/mask-seed", ctx, min, max)``;
  self mask of ``u``: ``+PRG(HKDF(b_u))``;
* dealer commitments: ``encode("fedsilo/v1/sharing", ctx, sender, C(b_u), C(sigma_u))``;
* unmasking response: ``encode("fedsilo/v1/unmasking", ctx, sender, [(owner, share,
  D_owner)] for the self-seed shares, the same for the mask-seed shares)``, where
  ``D_owner`` digests the owner's dealer commitments the sender checked its share against.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from fedsilo.crypto import aead, feldman, group, kdf
from fedsilo.crypto.encoding import Field, digest, encode
from fedsilo.crypto.entropy import Entropy
from fedsilo.crypto.prg import SignedMask
from fedsilo.crypto.signatures import IdentityKey, VerifyingKey
from fedsilo.errors import CryptoError
from fedsilo.protocol.masking.messages import (
    DealerCommitments,
    EncryptedShare,
    InputCommitment,
    KeyAdvert,
    ShareCheck,
    Stage,
    UnmaskingShares,
)
from fedsilo.protocol.messages import SessionContext

ADVERT_LABEL = "fedsilo/v1/advert"
INPUT_LABEL = "fedsilo/v1/input"
CONSISTENCY_LABEL = "fedsilo/v1/consistency"
SHARE_AD_LABEL = "fedsilo/v1/share-ad"
SHARING_LABEL = "fedsilo/v1/sharing"
DEALER_DIGEST_LABEL = "fedsilo/v1/dealer-commitments"
SEED_BYTES = 32


def public_of(seed: bytes) -> bytes:
    """``g^s`` for a seed ``s`` (a scalar mod ``q``, 32 bytes), encoded: both the mask
    public key (``s = sigma_u``) and the self-seed commitment (``s = b_u``) are this, which
    is also the first Feldman commitment ``C_0`` to the polynomial that shares ``s``."""
    return group.element_to_bytes(group.power_of_g(group.scalar_from_bytes(seed)))


def check_mask_public_key(key: bytes) -> None:
    """A mask public key is an element of the order-``q`` subgroup, other than 1 (raises
    CryptoError): a key outside it would make a pair seed guessable."""
    element = group.element_from_bytes(key)
    if element == 1 or group.power(element, group.Q) != 1:
        raise CryptoError("a mask public key is not an element of the prime-order subgroup")


def sign_dealer_commitments(
    identity: IdentityKey,
    ctx: SessionContext,
    sender: int,
    self_seed: feldman.Commitments,
    mask_seed: feldman.Commitments,
) -> DealerCommitments:
    b, s = self_seed.to_bytes(), mask_seed.to_bytes()
    return DealerCommitments(sender, b, s, identity.sign(SHARING_LABEL, ctx.fields(), sender, b, s))


def verify_dealer_commitments(key: VerifyingKey, ctx: SessionContext, c: DealerCommitments) -> None:
    """Verify the dealer's signature over its commitments (raises SignatureError)."""
    key.verify(c.signature, SHARING_LABEL, ctx.fields(), c.sender, c.self_seed, c.mask_seed)


SHARE_CHECK_LABEL = "fedsilo/v1/share-check"


def sign_share_check(
    identity: IdentityKey, ctx: SessionContext, sender: int, accused: tuple[int, ...]
) -> ShareCheck:
    signature = identity.sign(SHARE_CHECK_LABEL, ctx.fields(), sender, list(accused))
    return ShareCheck(ctx, sender, accused, signature)


def verify_share_check(key: VerifyingKey, ctx: SessionContext, check: ShareCheck) -> None:
    """Verify a silo's signed share check (raises SignatureError)."""
    key.verify(check.signature, SHARE_CHECK_LABEL, ctx.fields(), check.sender, list(check.accused))


def dealer_digest(c: DealerCommitments) -> bytes:
    """``D_owner``: what a revealer's signed response names as the commitments it used."""
    return digest(DEALER_DIGEST_LABEL, c.sender, c.self_seed, c.mask_seed)


def seed_commitment(seed: bytes) -> bytes:
    """``C(b_u) = g^{b_u}``: binds the self-mask seed before it is shared (hiding: the
    discrete logarithm of a fresh uniform scalar), so that a silo can check a reconstructed
    seed, and every recipient the dealer's commitments, against the signed advert."""
    return public_of(seed)


def sign_advert(
    identity: IdentityKey,
    ctx: SessionContext,
    sender: int,
    cipher_pk: bytes,
    mask_pk: bytes,
    commitment: bytes,
) -> KeyAdvert:
    signature = identity.sign(ADVERT_LABEL, ctx.fields(), sender, cipher_pk, mask_pk, commitment)
    return KeyAdvert(ctx, sender, cipher_pk, mask_pk, commitment, signature)


def verify_advert(key: VerifyingKey, ctx: SessionContext, advert: KeyAdvert) -> None:
    """Verify ``advert`` as made for *our* context ``ctx`` (raises SignatureError)."""
    key.verify(
        advert.signature,
        ADVERT_LABEL,
        ctx.fields(),
        advert.sender,
        advert.cipher_public_key,
        advert.mask_public_key,
        advert.seed_commitment,
    )


def sign_input_commitment(
    identity: IdentityKey, ctx: SessionContext, sender: int, length: int, d: bytes, root: bytes
) -> InputCommitment:
    signature = identity.sign(INPUT_LABEL, ctx.fields(), sender, length, d, root)
    return InputCommitment(ctx, sender, length, d, root, signature)


def verify_input_commitment(key: VerifyingKey, ctx: SessionContext, c: InputCommitment) -> None:
    """Verify a survivor's commitment to its masked vector (raises SignatureError)."""
    key.verify(c.signature, INPUT_LABEL, ctx.fields(), c.sender, c.total_length, c.digest, c.root)


def _commitment_fields(commitments: Iterable[InputCommitment]) -> list[Field]:
    return [[c.sender, c.total_length, c.digest, c.root] for c in commitments]


def view_digest(view: SurvivorView) -> bytes:
    """What a silo records in its ledger for the one view it signs in a session."""
    return digest(
        CONSISTENCY_LABEL,
        view.survivors,
        view.dropped,
        _commitment_fields(view.commitments),
        view.sum_digest,
    )


def sign_consistency(
    identity: IdentityKey,
    ctx: SessionContext,
    sender: int,
    view: SurvivorView,
    sketch: tuple[int, ...],
) -> bytes:
    return identity.sign(CONSISTENCY_LABEL, ctx.fields(), sender, *view.signed_fields(), sketch)


def verify_consistency(
    key: VerifyingKey,
    ctx: SessionContext,
    sender: int,
    view: SurvivorView,
    sketch: tuple[int, ...],
    signature: bytes,
) -> None:
    key.verify(signature, CONSISTENCY_LABEL, ctx.fields(), sender, *view.signed_fields(), sketch)


@dataclass(frozen=True)
class SurvivorView:
    """What a silo signs at the consistency check: the survivor and dropped lists, every
    survivor's input commitment (sorted by sender) and ``H(Y)``."""

    survivors: tuple[int, ...]
    dropped: tuple[int, ...]
    commitments: tuple[InputCommitment, ...]
    sum_digest: bytes

    def signed_fields(self) -> tuple[Field, ...]:
        return (
            self.survivors,
            self.dropped,
            _commitment_fields(self.commitments),
            self.sum_digest,
        )

    def commitment(self, sender: int) -> InputCommitment:
        return self.commitments[self.survivors.index(sender)]


@dataclass(frozen=True)
class SharePair:
    """A holder's shares of one owner's mask-key seed and of its self-mask seed."""

    mask_key: feldman.Share
    self_seed: feldman.Share


def _share_ad(ctx: SessionContext, sender: int, recipient: int) -> bytes:
    return encode(SHARE_AD_LABEL, ctx.fields(), Stage.SHARE_KEYS.value, sender, recipient)


def seal_share_pair(
    cipher_sk: kdf.X25519Key,
    recipient_cipher_pk: bytes,
    ctx: SessionContext,
    sender: int,
    recipient: int,
    pair: SharePair,
    entropy: Entropy,
) -> EncryptedShare:
    key = kdf.derive_share_key(
        kdf.agree(cipher_sk, recipient_cipher_pk), ctx.fields(), sender, recipient
    )
    plaintext = pair.mask_key.to_bytes() + pair.self_seed.to_bytes()
    sealed = aead.seal(key, plaintext, _share_ad(ctx, sender, recipient), entropy)
    return EncryptedShare(sender, recipient, sealed)


def open_share_pair(
    cipher_sk: kdf.X25519Key,
    sender_cipher_pk: bytes,
    ctx: SessionContext,
    share: EncryptedShare,
) -> SharePair:
    """Open a share bundle addressed to us; raises DecryptionError if tampered."""
    key = kdf.derive_share_key(
        kdf.agree(cipher_sk, sender_cipher_pk), ctx.fields(), share.sender, share.recipient
    )
    plaintext = aead.open_sealed(key, share.sealed, _share_ad(ctx, share.sender, share.recipient))
    if len(plaintext) != 2 * feldman.SHARE_BYTES:
        raise CryptoError("a decrypted share bundle has the wrong length")
    return SharePair(
        feldman.Share.from_bytes(plaintext[: feldman.SHARE_BYTES]),
        feldman.Share.from_bytes(plaintext[feldman.SHARE_BYTES :]),
    )


def pair_mask(
    mask_seed: bytes, peer_mask_pk: bytes, ctx: SessionContext, owner: int, peer: int
) -> SignedMask:
    """The mask ``owner`` adds for its pair with ``peer`` (cancels with the peer's): keyed by
    the Diffie-Hellman value ``g^(sigma_owner sigma_peer)`` in the group of the sharing, so
    that the key a silo masks with is the one its Feldman commitments bind. ``mask_seed``
    is either end's ``sigma``, ``peer_mask_pk`` the other end's ``g^sigma``."""
    shared = group.power(group.element_from_bytes(peer_mask_pk), group.scalar_from_bytes(mask_seed))
    seed = kdf.derive_mask_seed(group.element_to_bytes(shared), ctx.fields(), owner, peer)
    return SignedMask(seed, 1 if owner < peer else -1)


def self_mask(seed: bytes, ctx: SessionContext, owner: int) -> SignedMask:
    """The self mask ``owner`` adds, keyed from its seed ``b_u``."""
    return SignedMask(kdf.derive_self_mask_key(seed, ctx.fields(), owner), 1)


UNMASKING_LABEL = "fedsilo/v1/unmasking"


def _unmasking_fields(message: UnmaskingShares, digests: Mapping[int, bytes]) -> tuple[Field, ...]:
    return (
        message.context.fields(),
        message.sender,
        [[r.owner, r.share, digests[r.owner]] for r in message.self_mask_shares],
        [[r.owner, r.share, digests[r.owner]] for r in message.mask_key_shares],
    )


def sign_unmasking(
    identity: IdentityKey, unsigned: UnmaskingShares, digests: Mapping[int, bytes]
) -> UnmaskingShares:
    """``unsigned`` signed by its sender, naming the commitments (``digests`` by owner) it
    checked every revealed share against."""
    signature = identity.sign(UNMASKING_LABEL, *_unmasking_fields(unsigned, digests))
    return replace(unsigned, signature=signature)


def verify_unmasking(
    key: VerifyingKey, message: UnmaskingShares, digests: Mapping[int, bytes]
) -> None:
    """Verify a response as signed over these commitments (raises SignatureError)."""
    key.verify(message.signature, UNMASKING_LABEL, *_unmasking_fields(message, digests))


def unmasking_bytes(message: UnmaskingShares) -> bytes:
    """The exact record of an unmasking response, kept in the silo's ledger (its signature
    included: a resend after a crash must be the very same bytes)."""
    return encode(
        UNMASKING_LABEL,
        message.context.fields(),
        message.sender,
        [[r.owner, r.share] for r in message.self_mask_shares],
        [[r.owner, r.share] for r in message.mask_key_shares],
        message.signature,
    )


def negate(masks: Iterable[SignedMask]) -> list[SignedMask]:
    """The masks that remove ``masks``."""
    return [SignedMask(m.key, -m.sign) for m in masks]
