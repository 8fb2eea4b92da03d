"""Shared checks for protocol tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from fedsilo.crypto.prg import UIntArray
from fedsilo.protocol.masking.states import SiloState
from fedsilo.testing.adversary import exposed_silos, views_with_quorum
from fedsilo.testing.harness import Federation, RunResult


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
    run: RunResult, honest: Iterable[int], allowed: tuple[type[Exception], ...]
) -> None:
    """Every honest silo either aborted with one of ``allowed`` or completed."""
    for i in honest:
        silo = run.silos[i]
        if silo.state is SiloState.ABORTED:
            assert isinstance(silo.error, allowed), (i, silo.error)
        else:
            assert silo.state is SiloState.DONE, (i, silo.state)
