"""The task interface and its registry (the ``fedsilo.tasks`` entry-point group)."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Protocol

import numpy as np
import numpy.typing as npt

from fedsilo.config.model import TrainingPlan
from fedsilo.errors import ConfigError

TASK_GROUP = "fedsilo.tasks"
FloatVector = npt.NDArray[np.float32]


class Task(Protocol):
    """What a federation trains. Vectors are flat float32 (see ``fedsilo.tensors``)."""

    def initial_model(self) -> FloatVector:
        """The global model before round 1."""
        ...

    def local_update(
        self, silo: str, round_number: int, model: FloatVector
    ) -> tuple[FloatVector, int]:
        """This silo's model delta for ``round_number`` and its sample count."""
        ...


class TaskFactory(Protocol):
    def __call__(self, plan: TrainingPlan) -> Task: ...


def load_task(plan: TrainingPlan) -> Task:
    """Instantiate the task the config names, from the installed entry points."""
    found = [ep for ep in entry_points(group=TASK_GROUP) if ep.name == plan.task]
    if not found:
        installed = sorted(ep.name for ep in entry_points(group=TASK_GROUP))
        raise ConfigError(
            f"task {plan.task!r} is not installed (installed: {', '.join(installed) or 'none'}); "
            "install the package that provides it"
        )
    factory: TaskFactory = found[0].load()
    return factory(plan)
