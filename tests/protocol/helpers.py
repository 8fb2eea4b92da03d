"""Shared checks for protocol tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from fedsilo.crypto.prg import UIntArray
from fedsilo.errors import ReleaseVerificationError
from fedsilo.protocol.chain import genesis
from fedsilo.protocol.ledger import InMemoryLedgerStore, LedgerRecord, RoundLedger
from fedsilo.protocol.masking.messages import AggregatorMessage, UnmaskingShares
from fedsilo.protocol.masking.states import SiloState
from fedsilo.protocol.messages import Outgoing
from fedsilo.testing.adversary import Adversary, exposed_silos, views_with_quorum
from fedsilo.testing.harness import Federation, RunResult, run_aggregation


def plain_sum(inputs: Sequence[UIntArray], members: Iterable[int], bits: int) -> UIntArray:
    """The survivors' quantized sum mod 2^bits, computed without any masking."""
    total = np.zeros(len(inputs[0]), dtype=object)
    for i in members:
        total = total + inputs[i - 1].astype(object)
    return (total % (1 << bits)).astype(inputs[0].dtype)


def assert_safe(run: RunResult, fed: Federation, colluders: Iterable[int]) -> None:
    """No honest silo exposed; at most one survivor view can reach quorum."""
    honest = [i for i in range(1, fed.roster.size + 1) if i not in set(colluders)]
    t = fed.params.threshold
    assert exposed_silos(run.adversary, honest, t) == []
    assert len(views_with_quorum(run.silos, honest, fed.params.colluders, t)) <= 1


def assert_each_honest_silo_aborts_or_completes(
    run: RunResult,
    honest: Iterable[int],
    allowed: tuple[type[Exception], ...],
    *,
    aggregator_abort: type[Exception] | None = None,
) -> None:
    """Every honest silo either aborted with one of ``allowed`` or completed.

    With ``aggregator_abort``, the aggregator must have aborted the session with that
    error, and a silo it left waiting must have revealed nothing.
    """
    if aggregator_abort is not None:
        assert isinstance(run.aggregator_error, aggregator_abort), run.aggregator_error
        assert run.result is None
    revealed = {m.sender for m in run.adversary.seen if isinstance(m, UnmaskingShares)}
    for i in honest:
        silo = run.silos[i]
        if silo.state is SiloState.ABORTED:
            assert isinstance(silo.error, allowed), (i, silo.error)
        elif aggregator_abort is not None and silo.state is not SiloState.DONE:
            assert i not in revealed, i
            assert run.ledgers[i].revealed(silo.context.session_id) is None, i
        else:
            assert silo.state is SiloState.DONE, (i, silo.state)


def ledger_at(fed: Federation, final_round: int, head: bytes) -> RoundLedger:
    """A silo ledger already final at ``final_round`` on ``head``.

    A colluder's ledger is whatever the aggregator needs (it joins any session),
    and a recording of another round needs silos that are at that round.
    """
    store = InMemoryLedgerStore()
    if final_round:
        store.save(LedgerRecord(final_round=final_round, head=head))
        return RoundLedger(store, genesis(fed.config_digest))
    return RoundLedger(store, head)


def flip_bit(value: bytes, bit: int = 0) -> bytes:
    """``value`` with one bit flipped (the analogue of a 1-bit-different model)."""
    flipped = bytearray(value)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


def chain_positions(ledgers: Mapping[int, RoundLedger]) -> dict[int, tuple[int, bytes]]:
    """Each silo's (last final round, chain head)."""
    return {i: (ledger.final_round, ledger.head) for i, ledger in ledgers.items()}


def assert_nothing_derived(
    run: RunResult, honest: Iterable[int], before: Mapping[int, tuple[int, bytes]]
) -> None:
    """No honest silo computed an aggregate, acked, or moved on its chain."""
    for i in honest:
        assert run.silos[i].aggregate is None, i
        assert i not in run.acks, i
        assert (run.ledgers[i].final_round, run.ledgers[i].head) == before[i], i


def recorded_messages(
    fed: Federation, inputs: Sequence[UIntArray], recipient: int = 1
) -> dict[type, AggregatorMessage]:
    """One genuine aggregator message of every kind, addressed to ``recipient``, from an
    honest run (silo entropy seeded as :func:`run_aggregation` seeds it)."""
    seen: dict[type, AggregatorMessage] = {}

    class Record(Adversary):
        def outbound(self, outgoing: list[Outgoing]) -> list[Outgoing]:
            for o in outgoing:
                if o.recipient == recipient:
                    seen.setdefault(type(o.message), o.message)
            return outgoing

    run_aggregation(fed, inputs, adversary=Record())
    return seen


def assert_refused_before_anything_is_derived(
    run: RunResult, says: str, everyone: Iterable[int]
) -> None:
    """Every survivor refused the release naming the check; none derived or acked."""
    members = list(everyone)
    fresh = {i: (0, run.silos[i].context.chain_head) for i in members}
    for i in members:  # a colluder's silo runs honest code: it refuses too
        error = run.silo_error(i)
        assert isinstance(error, ReleaseVerificationError), (i, error)
        assert says in str(error), (i, error)
        assert run.silos[i].state is SiloState.ABORTED
    assert_nothing_derived(run, members, fresh)
    assert run.acks == {}
