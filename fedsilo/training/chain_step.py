"""One step of the model chain: from a verified aggregate to the next global state and ``H_r``.

Every silo and the aggregator run this same function on the aggregate they
computed themselves, so they arrive at the same ``model_{r+1}``, optimizer
state and chain head bit for bit (the server step is float64 numpy, one IEEE
operation per ufunc: :mod:`fedsilo.training.server_optimizers`). A silo never
trains on a model it did not derive here.
"""

from __future__ import annotations

from dataclasses import dataclass

from fedsilo.protocol.chain import ChainLink, aggregate_sha256, genesis
from fedsilo.protocol.messages import AggregateResult
from fedsilo.tensors import FloatVector, Layout
from fedsilo.training.global_state import model_sha256, optimizer_sha256
from fedsilo.training.server_optimizers import OptimizerState, ServerOptimizer
from fedsilo.training.weighted import SecureFedAvg, WeightedAverage


@dataclass(frozen=True)
class GlobalState:
    """A party's position on the chain: the last final round, its head, and the model and
    optimizer state that the next round trains from."""

    round: int
    head: bytes
    model: FloatVector
    optimizer: OptimizerState


@dataclass(frozen=True)
class DerivedRound:
    """What one verified round yields."""

    link: ChainLink
    state: GlobalState
    average: WeightedAverage


@dataclass(frozen=True)
class ChainStep:
    """The federation's decode-and-step rule, bound to its model layout."""

    codec: SecureFedAvg
    optimizer: ServerOptimizer
    layout: Layout

    def genesis(self, config_digest: bytes, initial_model: FloatVector) -> GlobalState:
        """Round 0: the pinned initial model on ``H_0`` (the config digest)."""
        return GlobalState(
            0,
            genesis(config_digest),
            initial_model,
            self.optimizer.initial_state(len(initial_model)),
        )

    def derive(self, state: GlobalState, result: AggregateResult) -> DerivedRound:
        """The next state from ``result``, an aggregate of round ``state.round + 1``."""
        average = self.codec.decode(result.total, len(result.survivors))
        model, optimizer = self.optimizer.step(state.model, state.optimizer, average.mean_delta)
        ctx = result.context
        link = ChainLink(
            ctx.round,
            state.head,
            ctx.session_id,
            result.survivors,
            aggregate_sha256(result.total),
            model_sha256(self.layout, model),
            optimizer_sha256(optimizer),
        )
        return DerivedRound(link, GlobalState(ctx.round, link.head, model, optimizer), average)
