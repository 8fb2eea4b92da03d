"""Plain-data forms of masking messages, for a session's snapshot at rest.

A session that must survive a crash (a silo that signed a view or revealed,
an aggregator that collected unmasking responses) is written to disk between
steps and resumed from there, never re-run. These functions turn every
message a session holds into JSON-able values (hex strings, ints, lists) and
back. The session context is not stored per message: every message of a
session carries the session's own context, which the caller passes back in.

Parsing never trusts the data (a snapshot file may be damaged): anything
malformed raises :class:`~fedsilo.errors.ConfigError` naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import numpy as np

from fedsilo.crypto.prg import UIntArray, word_dtype
from fedsilo.errors import ConfigError
from fedsilo.protocol.masking.messages import (
    ConsistencySignature,
    DealerCommitments,
    InputCommitment,
    KeyAdvert,
    RevealedShare,
    SpotLeaf,
    UnmaskingShares,
)
from fedsilo.protocol.masking.payloads import SurvivorView
from fedsilo.protocol.messages import SessionContext

Record = dict[str, Any]
T = TypeVar("T")


def words_hex(words: UIntArray) -> str:
    return words.astype(words.dtype.newbyteorder("<"), copy=False).tobytes().hex()


def hex_words(text: str, bits: int) -> UIntArray:
    data = bytes.fromhex(text)
    dtype = word_dtype(bits)
    if len(data) % dtype.itemsize:
        raise ConfigError(f"a snapshot vector is not whole {bits}-bit words")
    return np.frombuffer(data, dtype=dtype.newbyteorder("<")).astype(dtype)


def parsed(what: str, build: Callable[[], T]) -> T:
    """``build()``, with any malformed-data error turned into one ConfigError."""
    try:
        return build()
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ConfigError(f"the session snapshot's {what} is malformed: {exc!r}") from exc


def advert_record(a: KeyAdvert) -> Record:
    return {
        "sender": a.sender,
        "cipher_pk": a.cipher_public_key.hex(),
        "mask_pk": a.mask_public_key.hex(),
        "commitment": a.seed_commitment.hex(),
        "signature": a.signature.hex(),
    }


def advert_from(r: Mapping[str, Any], ctx: SessionContext) -> KeyAdvert:
    return parsed(
        "advert",
        lambda: KeyAdvert(
            ctx,
            int(r["sender"]),
            bytes.fromhex(r["cipher_pk"]),
            bytes.fromhex(r["mask_pk"]),
            bytes.fromhex(r["commitment"]),
            bytes.fromhex(r["signature"]),
        ),
    )


def context_record(ctx: SessionContext) -> list[Any]:
    return [
        ctx.federation_id,
        ctx.config_digest.hex(),
        ctx.session_id.hex(),
        ctx.round,
        ctx.chain_head.hex(),
    ]


def context_from(r: Any) -> SessionContext:
    return parsed(
        "context",
        lambda: SessionContext(
            str(r[0]), bytes.fromhex(r[1]), bytes.fromhex(r[2]), int(r[3]), bytes.fromhex(r[4])
        ),
    )


def commitment_record(c: InputCommitment) -> Record:
    return {
        "sender": c.sender,
        "length": c.total_length,
        "digest": c.digest.hex(),
        "root": c.root.hex(),
        "signature": c.signature.hex(),
    }


def commitment_from(r: Mapping[str, Any], ctx: SessionContext) -> InputCommitment:
    return parsed(
        "input commitment",
        lambda: InputCommitment(
            ctx,
            int(r["sender"]),
            int(r["length"]),
            bytes.fromhex(r["digest"]),
            bytes.fromhex(r["root"]),
            bytes.fromhex(r["signature"]),
        ),
    )


def consistency_record(c: ConsistencySignature) -> Record:
    return {
        "sender": c.sender,
        "sketch": list(c.sketch),
        "spots": [
            [s.leaf, s.words.dtype.itemsize * 8, words_hex(s.words), [h.hex() for h in s.proof]]
            for s in c.spot_leaves
        ],
        "signature": c.signature.hex(),
    }


def consistency_from(r: Mapping[str, Any], ctx: SessionContext) -> ConsistencySignature:
    return parsed(
        "consistency signature",
        lambda: ConsistencySignature(
            ctx,
            int(r["sender"]),
            tuple(int(z) for z in r["sketch"]),
            tuple(
                SpotLeaf(int(leaf), hex_words(words, int(bits)), tuple(bytes.fromhex(h) for h in p))
                for leaf, bits, words, p in r["spots"]
            ),
            bytes.fromhex(r["signature"]),
        ),
    )


def unmasking_record(u: UnmaskingShares) -> Record:
    return {
        "sender": u.sender,
        "self": [[s.owner, s.share.hex()] for s in u.self_mask_shares],
        "keys": [[s.owner, s.share.hex()] for s in u.mask_key_shares],
        "signature": u.signature.hex(),
    }


def unmasking_from(r: Mapping[str, Any], ctx: SessionContext) -> UnmaskingShares:
    return parsed(
        "unmasking response",
        lambda: UnmaskingShares(
            ctx,
            int(r["sender"]),
            tuple(RevealedShare(int(o), bytes.fromhex(s)) for o, s in r["self"]),
            tuple(RevealedShare(int(o), bytes.fromhex(s)) for o, s in r["keys"]),
            bytes.fromhex(r["signature"]),
        ),
    )


def dealer_record(c: DealerCommitments) -> Record:
    return {
        "sender": c.sender,
        "self_seed": c.self_seed.hex(),
        "mask_seed": c.mask_seed.hex(),
        "signature": c.signature.hex(),
    }


def dealer_from(r: Mapping[str, Any]) -> DealerCommitments:
    return parsed(
        "dealer commitments",
        lambda: DealerCommitments(
            int(r["sender"]),
            bytes.fromhex(r["self_seed"]),
            bytes.fromhex(r["mask_seed"]),
            bytes.fromhex(r["signature"]),
        ),
    )


def view_record(v: SurvivorView) -> Record:
    return {
        "survivors": list(v.survivors),
        "dropped": list(v.dropped),
        "commitments": [commitment_record(c) for c in v.commitments],
        "sum_digest": v.sum_digest.hex(),
    }


def view_from(r: Mapping[str, Any], ctx: SessionContext) -> SurvivorView:
    return parsed(
        "survivor view",
        lambda: SurvivorView(
            tuple(int(i) for i in r["survivors"]),
            tuple(int(i) for i in r["dropped"]),
            tuple(commitment_from(c, ctx) for c in r["commitments"]),
            bytes.fromhex(r["sum_digest"]),
        ),
    )
