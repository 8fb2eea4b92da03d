"""Catching up, the part every scheme shares: the survivor list and the acks of a round.

A silo that missed a round verifies it from the round's evidence before it moves
on (its scheme checks the release: :meth:`fedsilo.protocol.scheme.Scheme.
verify_evidence`). Two checks do not depend on the scheme: the survivor list the
silo sizes its downloads by is one that could be genuine
(:func:`bounded_survivors`), and after deriving ``model_{r+1}`` and ``H_r``
itself, at least ``max(t, min_silos)`` distinct roster silos acked that same
``H_r`` (:func:`check_acks`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from fedsilo.errors import ChainMismatchError, RemoteProtocolError, SignatureError
from fedsilo.protocol.chain import verify_ack
from fedsilo.protocol.messages import Ack, SessionContext
from fedsilo.protocol.roster import Roster


class AckedRound(Protocol):
    """A final round's evidence as far as its acks go (every scheme's evidence has them)."""

    @property
    def context(self) -> SessionContext: ...

    @property
    def acks(self) -> tuple[Ack, ...]: ...


def bounded_survivors(listed: Sequence[int], silos: int, threshold: int) -> tuple[int, ...]:
    """The survivor list of served evidence, refused unless it could be genuine (distinct,
    ascending roster indices, at least ``t``): a silo catching up sizes its download of the
    survivors' masked vectors by it, before the signatures over it are checked."""
    survivors = tuple(int(u) for u in listed)
    if (
        list(survivors) != sorted(set(survivors))
        or not all(1 <= u <= silos for u in survivors)
        or len(survivors) < threshold
    ):
        raise RemoteProtocolError(
            f"the evidence lists an impossible survivor set ({len(survivors)} entries for "
            f"{silos} silos, threshold {threshold}); refusing it"
        )
    return survivors


def check_acks(
    evidence: AckedRound,
    roster: Roster,
    head: bytes,
    quorum: int,
    revoked: Collection[int] = (),
) -> tuple[int, ...]:
    """The distinct roster silos whose valid ack is over ``head``; at least ``quorum``. The
    acks of ``revoked`` silos (whose certificates no longer verify) do not count."""
    ctx = evidence.context
    agreeing: set[int] = set()
    for ack in evidence.acks:
        entry = roster.entry(ack.sender)  # an ack of no roster silo is refused outright
        if ack.head != head or ack.sender in revoked:
            continue
        try:
            verify_ack(
                entry.verifying_key,
                ctx.federation_id,
                ctx.round,
                head,
                ack.sender,
                ack.signature,
            )
        except SignatureError as exc:
            raise SignatureError(
                f"the ack of silo {roster.name(ack.sender)!r} in round {ctx.round} is forged"
            ) from exc
        agreeing.add(ack.sender)
    if len(agreeing) < quorum:
        raise ChainMismatchError(
            f"round {ctx.round}: only {len(agreeing)} silos acknowledged the chain head this "
            f"silo derived{' (revoked silos do not count)' if revoked else ''}, {quorum} are "
            "needed; refusing to catch up on it"
        )
    return tuple(sorted(agreeing))
