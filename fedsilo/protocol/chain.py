"""The round chain: every round is bound to the verified history before it.

Theory of operation
-------------------
The aggregator chooses session ids, round numbers and who "dropped". A
guarantee keyed on any of those is no guarantee, so each silo keys its
rules on a value it computes itself: the chain head

* ``H_0`` = the config digest;
* ``H_r = SHA-256(enc("fedsilo/chain/v1", H_{r-1}, r, session_id_r, U3_r,
  SHA-256(A_r), SHA-256(model_{r+1}), SHA-256(opt_state_{r+1})))``

where ``A_r`` is the released aggregate as little-endian words mod ``2^k``,
``model_{r+1}`` the safetensors bytes of the next global model (sorted keys)
and ``opt_state_{r+1}`` the safetensors bytes of the server optimizer's state.
A silo computes ``model_{r+1}`` and its optimizer state from an aggregate it
verified, so ``H_r`` is a value the aggregator cannot steer.

``H_{r-1}`` is in every session context (:class:`~fedsilo.protocol.messages.
SessionContext`), so every signature, associated data and mask derivation of
round ``r`` is bound to the chain position, and rounds are consecutive: a
silo whose last final round is ``f`` takes part only in round ``f + 1`` on
head ``H_f``. Silos sign ``ack_r(H_r)`` once they have verified round ``r``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from fedsilo.crypto.encoding import encode
from fedsilo.crypto.prg import UIntArray
from fedsilo.crypto.signatures import IdentityKey, VerifyingKey
from fedsilo.errors import ChainMismatchError, ConfigError, RoundOrderError

CHAIN_LABEL = "fedsilo/chain/v1"
ACK_LABEL = "fedsilo/v1/ack"
HEAD_BYTES = 32


def genesis(config_digest: bytes) -> bytes:
    """``H_0``: the config digest (so every chain is bound to one federation's config)."""
    if len(config_digest) != HEAD_BYTES:
        raise ConfigError(f"a config digest is {HEAD_BYTES} bytes, got {len(config_digest)}")
    return bytes(config_digest)


def aggregate_sha256(total: UIntArray) -> bytes:
    """SHA-256 of the released aggregate as little-endian words mod ``2^k``."""
    little = np.ascontiguousarray(total, dtype=total.dtype.newbyteorder("<"))
    return hashlib.sha256(little.data).digest()


@dataclass(frozen=True)
class ChainLink:
    """Everything ``H_r`` commits to, for one final round ``r``."""

    round: int
    previous: bytes
    session_id: bytes
    survivors: tuple[int, ...]
    aggregate_sha256: bytes
    model_sha256: bytes
    optimizer_sha256: bytes

    @property
    def head(self) -> bytes:
        """``H_r``."""
        return hashlib.sha256(
            encode(
                CHAIN_LABEL,
                self.previous,
                self.round,
                self.session_id,
                self.survivors,
                self.aggregate_sha256,
                self.model_sha256,
                self.optimizer_sha256,
            )
        ).digest()


@dataclass(frozen=True)
class ChainHead:
    """A party's position on the chain: its last final round and ``H`` of that round."""

    round: int
    head: bytes

    @classmethod
    def start(cls, config_digest: bytes) -> ChainHead:
        return cls(0, genesis(config_digest))

    @property
    def next_round(self) -> int:
        return self.round + 1

    def require_next(self, round_number: int, chain_head: bytes) -> None:
        """Refuse a session that is not for our next round on our head."""
        if round_number != self.next_round:
            raise RoundOrderError(
                f"the aggregator announced round {round_number}, but this silo's last final "
                f"round is {self.round}: only round {self.next_round} can run next"
            )
        if chain_head != self.head:
            raise ChainMismatchError(
                f"the aggregator announced round {round_number} on chain head "
                f"{chain_head.hex()[:16]}…, this silo is at {self.head.hex()[:16]}…: "
                "it derived another model or history"
            )

    def extend(self, link: ChainLink) -> ChainHead:
        """The head after ``link`` (which must continue this one)."""
        self.require_next(link.round, link.previous)
        return ChainHead(link.round, link.head)


def sign_ack(
    identity: IdentityKey, federation_id: str, round_number: int, head: bytes, sender: int
) -> bytes:
    """A silo's ``ack_r(H_r)``: it verified round ``r`` and derived the state ``H_r`` covers."""
    return identity.sign(ACK_LABEL, federation_id, round_number, head, sender)


def verify_ack(
    key: VerifyingKey,
    federation_id: str,
    round_number: int,
    head: bytes,
    sender: int,
    signature: bytes,
) -> None:
    """Raises :class:`~fedsilo.errors.SignatureError` unless ``sender`` acked ``H_r``."""
    key.verify(signature, ACK_LABEL, federation_id, round_number, head, sender)
