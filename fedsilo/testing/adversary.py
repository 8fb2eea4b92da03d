"""A scriptable malicious aggregator and the accounting of what it learns.

The harness routes every silo -> aggregator message through
:meth:`Adversary.inbound` and every aggregator -> silo message through
:meth:`Adversary.outbound`; subclasses drop, alter, reorder or forge them.
The adversary also controls the declared colluding silos: it holds their
identity keys and can read every share sealed to them.

:func:`exposed_silos` is the security check of the tests: over everything
the adversary saw, counting the colluders' own shares, no honest silo may
have both ``t`` self-mask shares and ``t`` mask-key shares exposed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from fedsilo.crypto.signatures import IdentityKey
from fedsilo.protocol.masking.ledger import SignedView
from fedsilo.protocol.masking.silo import MaskingSilo
from fedsilo.protocol.messages import Outgoing, ShareUpload, SiloMessage, UnmaskingShares


@dataclass
class Adversary:
    """An aggregator that relays honestly unless a subclass overrides a hook."""

    colluders: Mapping[int, IdentityKey] = field(default_factory=dict)
    seen: list[SiloMessage] = field(default_factory=list)

    def inbound(self, message: SiloMessage) -> list[SiloMessage]:
        """A silo message on its way to the honest aggregator core."""
        self.seen.append(message)
        return [message]

    def outbound(self, outgoing: list[Outgoing]) -> list[Outgoing]:
        """The core's messages on their way to the silos."""
        return outgoing


def exposed_silos(adversary: Adversary, honest: Iterable[int], threshold: int) -> list[int]:
    """Honest silos for which the adversary holds >= t shares of *both* secrets."""
    self_holders: dict[int, set[int]] = {u: set() for u in honest}
    key_holders: dict[int, set[int]] = {u: set() for u in honest}
    for message in adversary.seen:
        if isinstance(message, ShareUpload) and message.sender in self_holders:
            for sealed in message.shares:  # colluders can open what was sealed to them
                if sealed.recipient in adversary.colluders:
                    self_holders[message.sender].add(sealed.recipient)
                    key_holders[message.sender].add(sealed.recipient)
        if isinstance(message, UnmaskingShares):
            for r in message.self_mask_shares:
                self_holders.get(r.owner, set()).add(message.sender)
            for r in message.mask_key_shares:
                key_holders.get(r.owner, set()).add(message.sender)
    return sorted(
        u
        for u in self_holders
        if len(self_holders[u]) >= threshold and len(key_holders[u]) >= threshold
    )


def views_with_quorum(
    silos: Mapping[int, MaskingSilo], honest: Iterable[int], colluders: int, threshold: int
) -> list[tuple[SignedView, bytes]]:
    """Signed (survivor view, model hash) pairs that could gather ``t`` signatures.

    Each honest silo signs at most one view; colluders sign anything, so every
    view gets ``n_C`` signatures for free.
    """
    counts = Counter(
        (silos[u]._view, silos[u]._model_hash) for u in honest if silos[u]._view is not None
    )
    return [v for v, c in counts.items() if c + colluders >= threshold]  # type: ignore[misc]
