"""In-process references for a federation on public data: what it would compute in the clear.

Used by ``fedsilo demo`` (the central and single-silo baselines it compares
the federated model with) and by tests (the same run without protection, to
show that secure aggregation changes nothing but the privacy). Nothing here
is a deployment mode: it needs every silo's data in one process, which is
only possible because the built-in tasks use public data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from fedsilo.config.model import TrainingPlan
from fedsilo.crypto.quantize import Quantizer
from fedsilo.errors import ConfigError
from fedsilo.tensors import FloatVector
from fedsilo.training.builtin import ClassifierTask
from fedsilo.training.datasets import SiloSplit
from fedsilo.training.local import LocalTrainer, round_seed
from fedsilo.training.server_optimizers import server_optimizer
from fedsilo.training.task import Evaluation, SiloContext, load_task
from fedsilo.training.weighted import SecureFedAvg


def _classifier(plan: TrainingPlan) -> ClassifierTask:
    task = load_task(plan)
    if not isinstance(task, ClassifierTask):
        raise ConfigError(f"baselines need a built-in task on public data, not {plan.task!r}")
    return task


def pooled_evaluation(
    task: ClassifierTask, model: torch.nn.Module, splits: Sequence[SiloSplit]
) -> Evaluation:
    """The model on every silo's held-out split together (what federated evaluation sums)."""
    parts = [task.evaluate(model, s) for s in splits]
    return Evaluation(sum(p.correct for p in parts), sum(p.examples for p in parts))


def _train_on(
    task: ClassifierTask, plan: TrainingPlan, split: SiloSplit, label: str
) -> torch.nn.Module:
    model = task.build_model()
    for round_number in range(1, plan.rounds + 1):
        torch.manual_seed(round_seed(task.hyper.seed, label, round_number))
        task.train(model, split, round_number)
    return model


@dataclass(frozen=True)
class Baselines:
    """Accuracy on the pooled held-out data of a centrally trained model and each silo alone."""

    central: Evaluation
    alone: dict[str, Evaluation]

    @property
    def mean_alone(self) -> float:
        return float(np.mean([e.accuracy for e in self.alone.values()]))


def baselines(plan: TrainingPlan, silos: Sequence[str]) -> Baselines:
    """Train centrally on the union of the silos' training data, and on each silo alone,
    for as many epochs as the federation trains."""
    torch.set_num_threads(1)
    task = _classifier(plan)
    splits = task.splits(silos)
    union = SiloSplit(
        torch.cat([s.train_x for s in splits]),
        torch.cat([s.train_y for s in splits]),
        torch.cat([s.test_x for s in splits]),
        torch.cat([s.test_y for s in splits]),
    )
    central = pooled_evaluation(task, _train_on(task, plan, union, "central"), splits)
    alone = {
        name: pooled_evaluation(task, _train_on(task, plan, split, name), splits)
        for name, split in zip(silos, splits, strict=True)
    }
    return Baselines(central, alone)


def evaluate_model(plan: TrainingPlan, silos: Sequence[str], model: FloatVector) -> Evaluation:
    """A global model's accuracy on the pooled held-out data."""
    task = _classifier(plan)
    trainer = LocalTrainer(task, plan)
    return pooled_evaluation(task, trainer.load(model), task.splits(silos))


def plain_federation(
    plan: TrainingPlan, silos: Sequence[str], quantizer: Quantizer
) -> list[FloatVector]:
    """The global model after each round of the same federation with no protection:
    the same local training, the same clipping and weights, averaged in the clear."""
    server = LocalTrainer.for_plan(plan)
    trainers = [LocalTrainer.for_plan(plan, SiloContext(name, tuple(silos))) for name in silos]
    codec = SecureFedAvg(quantizer, plan.max_samples)
    optimizer = server_optimizer(plan)
    model, models = server.initial_model(), []
    state = optimizer.initial_state(len(model))
    for round_number in range(1, plan.rounds + 1):
        average = codec.plain_average([t.local_round(round_number, model) for t in trainers])
        model, state = optimizer.step(model, state, average.mean_delta)
        models.append(model)
    return models
