"""The task interface and its registry (the ``fedsilo.tasks`` entry-point group).

A task is what an institution plugs in: it builds the model, loads this
silo's data, trains locally and evaluates. fedsilo never sees the data; it
sees the model's parameters before and after local training. A config names
a task by its registered name, never by a Python path, so what runs is what
the operator installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

import torch

from fedsilo.config.model import TrainingPlan
from fedsilo.errors import ConfigError

TASK_GROUP = "fedsilo.tasks"


@dataclass(frozen=True)
class SiloContext:
    """Who is asking for data: this silo, the roster, and an optional local data directory."""

    name: str
    silos: Sequence[str]
    data_dir: Path | None = None

    @property
    def position(self) -> int:
        """This silo's 0-based position on the roster."""
        return list(self.silos).index(self.name)


@dataclass(frozen=True)
class Evaluation:
    """Counts from evaluating a model on held-out data (summed securely across silos)."""

    correct: int
    examples: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.examples if self.examples else float("nan")


class Task(Protocol):
    """What a federation trains. Implement this in your own package and register it."""

    def build_model(self) -> torch.nn.Module:
        """A fresh model. Every party builds the same architecture (its layout is pinned);
        the aggregator's freshly built weights are the global model of round 1."""
        ...

    def load_data(self, silo: SiloContext) -> Any:
        """This silo's training and held-out data, in whatever form ``train`` expects."""
        ...

    def train(self, model: torch.nn.Module, data: Any, round_number: int) -> int:
        """Train ``model`` in place on this silo's data; returns the samples used."""
        ...

    def evaluate(self, model: torch.nn.Module, data: Any) -> Evaluation:
        """Evaluate ``model`` on this silo's held-out split."""
        ...


class TaskFactory(Protocol):
    def __call__(self, plan: TrainingPlan) -> Task: ...


def installed_tasks() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=TASK_GROUP)})


def load_task(plan: TrainingPlan) -> Task:
    """Instantiate the task the config names, from the installed entry points."""
    found = [ep for ep in entry_points(group=TASK_GROUP) if ep.name == plan.task]
    if not found:
        raise ConfigError(
            f"task {plan.task!r} is not installed (installed: "
            f"{', '.join(installed_tasks()) or 'none'}); install the package that provides it"
        )
    factory: TaskFactory = found[0].load()
    return factory(plan)
