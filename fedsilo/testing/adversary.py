"""A scriptable malicious aggregator and the accounting of what it learns.

The harness routes every silo -> aggregator message through
:meth:`Adversary.inbound` and every aggregator -> silo message through
:meth:`Adversary.outbound`; subclasses drop, alter, reorder or forge them.
The adversary also controls the declared colluding silos: it holds their
identity keys and can read every share sealed to them.

Ready-made attacks (each a dataclass that calls ``super()``, so they combine
by inheritance):

* :class:`WithholdsRelease` unmasks and then claims "not released";
* :class:`DiscardsInputs` discards chosen silos' masked inputs, so the honest
  core lists them as dropped;
* :class:`ForgesSum` folds one silo's masked input plus a chosen difference,
  so the sum it announces and releases unmasks to an aggregate it chose, and
  optionally has a colluder lie in its sketch to hide that;
* :class:`RevealsFalseShare` has a colluding silo reveal one false share at unmasking;
* :class:`RewritesRelease` passes every release bundle through a function (to
  swap, drop or replace the masked inputs a full-verification release carries).

Accounting, over everything the adversary saw (pass :func:`merged` to count
several sessions at once):

* :func:`exposed_silos` is the security check of the tests: counting the
  colluders' own shares, no honest silo may have both ``t`` self-mask shares
  and ``t`` mask-key shares exposed;
* :func:`unmasked_sessions` lists the sessions in which the adversary holds
  ``t`` unmasking responses, i.e. could unmask a sum;
* :func:`views_with_quorum` lists the signed survivor views that could gather
  ``t`` consistency signatures.

:func:`wide_sum`, :func:`shift_sum` and :func:`resign_consistency` build
forged sums and re-signed colluder messages for tests that call the
release checks directly.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from fedsilo.crypto import feldman, group
from fedsilo.crypto.prg import UIntArray
from fedsilo.crypto.signatures import IdentityKey
from fedsilo.crypto.sketch import SKETCH_PRIME, WideSum, sketch
from fedsilo.protocol.masking import payloads
from fedsilo.protocol.masking.messages import (
    ConsistencySignature,
    InputCommitment,
    MaskedInput,
    MaskedInputStream,
    ReleaseBundle,
    RevealedShare,
    ShareUpload,
    SiloMessage,
    SurvivorList,
    UnmaskingShares,
)
from fedsilo.protocol.masking.payloads import SurvivorView, view_digest
from fedsilo.protocol.masking.release import sketch_seed
from fedsilo.protocol.masking.silo import MaskingSilo
from fedsilo.protocol.messages import Outgoing, SessionContext


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


@dataclass
class KeepsNothing(Adversary):
    """An honest relay that keeps nothing it relays (a benchmark must not hold n vectors)."""

    def inbound(self, message: SiloMessage) -> list[SiloMessage]:
        return [message]


# --- ready-made attacks --------------------------------------------------------------


@dataclass
class WithholdsRelease(Adversary):
    """Unmasks the sum, then tells the silos the round was "not released": no survivor
    receives the :class:`~fedsilo.protocol.messages.ReleaseBundle`, so none finalizes."""

    def outbound(self, outgoing: list[Outgoing]) -> list[Outgoing]:
        relayed = super().outbound(outgoing)
        return [o for o in relayed if not isinstance(o.message, ReleaseBundle)]


@dataclass
class DiscardsInputs(Adversary):
    """Discards the masked inputs and input commitments of ``victims`` (after seeing
    them), so the honest core lists the victims as dropped."""

    victims: frozenset[int] = frozenset()

    def inbound(self, message: SiloMessage) -> list[SiloMessage]:
        kinds = (MaskedInput, MaskedInputStream, InputCommitment)
        return [
            m
            for m in super().inbound(message)
            if not (isinstance(m, kinds) and m.sender in self.victims)
        ]


@dataclass
class ForgesSum(Adversary):
    """Folds ``carrier``'s masked input plus ``delta`` (mod ``2^k``, word by word) instead
    of the vector ``carrier`` committed to.

    The honest core then announces ``H(Y')`` for ``Y' = Σ y_u + (y'_carrier - y_carrier)``,
    gathers the survivors' signatures over it, unmasks ``A' = A + delta (mod 2^k)`` and
    releases ``Y'``: the fake release of an aggregator that chose ``A'``. With ``cover``
    (a colluder), that colluder lies in its sketch, re-signed with its identity key, so
    that the survivors' sketches sum to ``⟨rho_j, Y'⟩``: only the spot checks remain.
    """

    delta: UIntArray | None = None
    carrier: int = 1
    cover: int | None = None
    _genuine: UIntArray | None = field(default=None, init=False, repr=False)
    _forged: UIntArray | None = field(default=None, init=False, repr=False)
    _view: SurvivorView | None = field(default=None, init=False, repr=False)

    def inbound(self, message: SiloMessage) -> list[SiloMessage]:
        return [self._forge(m) for m in super().inbound(message)]

    def outbound(self, outgoing: list[Outgoing]) -> list[Outgoing]:
        relayed = super().outbound(outgoing)
        for o in relayed:
            if isinstance(o.message, SurvivorList):
                self._view = _view_of(o.message)
        return relayed

    def _forge(self, message: SiloMessage) -> SiloMessage:
        if isinstance(message, MaskedInput) and message.sender == self.carrier:
            return self._shifted(message)
        if isinstance(message, ConsistencySignature) and message.sender == self.cover:
            return self._covering(message)
        return message

    def _shifted(self, chunk: MaskedInput) -> MaskedInput:
        if self.delta is None:
            return chunk
        if self._genuine is None or self._forged is None:
            self._genuine = np.zeros(chunk.total_length, chunk.values.dtype)
            self._forged = np.zeros(chunk.total_length, chunk.values.dtype)
        span = slice(chunk.offset, chunk.offset + len(chunk.values))
        forged = chunk.values + self.delta[span].astype(chunk.values.dtype)  # wraps mod 2^k
        self._genuine[span], self._forged[span] = chunk.values, forged
        return dataclasses.replace(chunk, values=forged)

    def _covering(self, signature: ConsistencySignature) -> ConsistencySignature:
        view, genuine, forged = self._view, self._genuine, self._forged
        if view is None or genuine is None or forged is None or self.cover is None:
            return signature
        seed = sketch_seed(signature.context, view)
        lie = [
            (f - g) % SKETCH_PRIME
            for f, g in zip(sketch(forged, seed), sketch(genuine, seed), strict=True)
        ]
        covered = tuple((z + d) % SKETCH_PRIME for z, d in zip(signature.sketch, lie, strict=True))
        return resign_consistency(self.colluders[self.cover], signature, view, covered)


@dataclass
class RevealsFalseShare(Adversary):
    """A colluding silo ``liar`` that reveals one false share at unmasking: its share of
    ``owner``'s self-mask seed (``kind="self"``) or mask-key seed (``kind="mask"``) plus one,
    re-signed with its own key over the commitments it received (as a modified node would)."""

    liar: int = 1
    owner: int = 2
    kind: str = "self"

    def inbound(self, message: SiloMessage) -> list[SiloMessage]:
        relayed = super().inbound(message)
        return [self._lie(m) if isinstance(m, UnmaskingShares) else m for m in relayed]

    def _lie(self, response: UnmaskingShares) -> UnmaskingShares:
        if response.sender != self.liar:
            return response

        def falsified(shares: tuple[RevealedShare, ...]) -> tuple[RevealedShare, ...]:
            return tuple(
                RevealedShare(r.owner, _plus_one(r.share)) if r.owner == self.owner else r
                for r in shares
            )

        if self.kind == "self":
            lying = dataclasses.replace(
                response, self_mask_shares=falsified(response.self_mask_shares)
            )
        else:
            lying = dataclasses.replace(
                response, mask_key_shares=falsified(response.mask_key_shares)
            )
        digests = {
            m.sender: payloads.dealer_digest(m.commitments)
            for m in self.seen
            if isinstance(m, ShareUpload)
        }
        return payloads.sign_unmasking(self.colluders[self.liar], lying, digests)


def _plus_one(share: bytes) -> bytes:
    parsed = feldman.Share.from_bytes(share)
    return feldman.Share(parsed.x, (parsed.y + 1) % group.Q).to_bytes()


@dataclass
class RewritesRelease(Adversary):
    """Sends the silos ``rewrite(bundle)`` instead of each release bundle the core made."""

    rewrite: Callable[[ReleaseBundle], ReleaseBundle] | None = None

    def outbound(self, outgoing: list[Outgoing]) -> list[Outgoing]:
        relayed, rewrite = super().outbound(outgoing), self.rewrite
        if rewrite is None:
            return relayed
        return [
            Outgoing(o.recipient, rewrite(o.message)) if isinstance(o.message, ReleaseBundle) else o
            for o in relayed
        ]


def _view_of(message: SurvivorList) -> SurvivorView:
    commitments = tuple(sorted(message.commitments, key=lambda c: c.sender))
    return SurvivorView(
        tuple(sorted(message.survivors)),
        tuple(sorted(message.dropped)),
        commitments,
        bytes(message.sum_digest),
    )


# --- forging helpers -----------------------------------------------------------------


def resign_consistency(
    identity: IdentityKey,
    signature: ConsistencySignature,
    view: SurvivorView,
    sketch_values: Sequence[int],
) -> ConsistencySignature:
    """``signature`` with another sketch, re-signed over ``view`` by a colluder's key."""
    values = tuple(sketch_values)
    signed = payloads.sign_consistency(identity, signature.context, signature.sender, view, values)
    return dataclasses.replace(signature, sketch=values, signature=signed)


def wide_sum(vectors: Iterable[UIntArray], bits: int) -> WideSum:
    """The non-wrapped sum ``Y`` of ``vectors`` (as the aggregator folds them)."""
    vectors = list(vectors)
    total = WideSum.zeros(len(vectors[0]), bits)
    for vector in vectors:
        total.count_vector()
        total.add(vector)
    return total


def shift_sum(total: WideSum, delta: UIntArray) -> WideSum:
    """A forged ``Y'`` with ``Y' ≡ Y + delta (mod 2^k)`` in every word and the same count.

    ``Y'`` stays a valid non-wrapped sum (each word in ``[0, count · (2^k - 1)]``,
    carries fixed): a word that ``+ delta`` would push past that bound gets
    ``delta - 2^k`` instead, which removes the same masks to the same ``A'``.
    """
    if total.count < 1 or len(delta) != len(total.low):
        raise ValueError("shift a sum of at least one vector by a delta of its length")
    modulus = 1 << total.bits
    top = total.count * (modulus - 1)
    dtype: type = np.int64 if total.bits == 32 else object  # 32-bit sums fit in 41 bits
    where = np.flatnonzero(delta)  # only the changed words are recomputed
    words = total.low[where].astype(dtype) + (total.carries[where].astype(dtype) << total.bits)
    words = words + delta[where].astype(dtype)
    words[words > top] -= modulus
    low, carries = total.low.copy(), total.carries.copy()
    low[where] = (words % modulus).astype(total.low.dtype)
    carries[where] = (words // modulus).astype(np.uint8)
    return WideSum(total.bits, low, carries, total.count)


# --- accounting ----------------------------------------------------------------------


def merged(*adversaries: Adversary) -> Adversary:
    """One adversary's view of several sessions (for the accounting below)."""
    colluders: dict[int, IdentityKey] = {}
    for adversary in adversaries:
        colluders.update(adversary.colluders)
    return Adversary(colluders=colluders, seen=[m for a in adversaries for m in a.seen])


def exposed_silos(adversary: Adversary, honest: Iterable[int], threshold: int) -> list[int]:
    """Honest silos for which the adversary holds >= t shares of *both* secrets.

    Shares of every session it saw are counted together, which only
    over-approximates: secrets are fresh per session.
    """
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


def unmasked_sessions(
    adversary: Adversary, honest: Iterable[int], colluders: int, threshold: int
) -> list[SessionContext]:
    """The sessions in which the adversary could unmask a sum: those where the honest
    unmasking responses it saw, plus the ``n_C`` its colluders give for free, reach ``t``.
    """
    honest = set(honest)
    revealers: dict[SessionContext, set[int]] = {}
    for message in adversary.seen:
        if isinstance(message, UnmaskingShares) and message.sender in honest:
            revealers.setdefault(message.context, set()).add(message.sender)
    return [ctx for ctx, who in revealers.items() if len(who) + colluders >= threshold]


def views_with_quorum(
    silos: Mapping[int, MaskingSilo], honest: Iterable[int], colluders: int, threshold: int
) -> list[bytes]:
    """Digests of the signed survivor views that could gather ``t`` signatures.

    Each honest silo signs at most one view; colluders sign anything, so every
    view gets ``n_C`` signatures for free.
    """
    counts = Counter(
        view_digest(view) for u in honest if (view := silos[u].signed_view) is not None
    )
    return [v for v, c in counts.items() if c + colluders >= threshold]
