"""The built-in tasks: small models on public data, split non-IID across silos.

``breast-cancer`` (Wisconsin diagnostic data, an MLP; the hospitals example),
``digits`` (8x8 handwritten digits, a small CNN) and ``credit-fraud`` (a
seeded **synthetic** imbalanced set, an MLP; the banks example). Options
(``training.options``): ``seed`` (data split and initial weights), ``alpha``
(label skew: smaller is more skewed), ``lr``, ``epochs`` (local epochs per
round) and ``batch_size``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from fedsilo.config.model import TrainingPlan
from fedsilo.training import datasets
from fedsilo.training.datasets import Dataset, SiloSplit
from fedsilo.training.task import Evaluation, SiloContext


class MomentumSGD:
    """``torch.optim.SGD(params, lr, momentum)`` (no dampening, weight decay or Nesterov),
    the same operations in the same order as its single-tensor CPU path, so the same bits.

    Not ``torch.optim`` itself: constructing any torch optimizer imports ``torch._dynamo``,
    about 3 s of every silo's start-up on this machine, for a loop of three tensor ops."""

    def __init__(self, params: list[nn.Parameter], lr: float, momentum: float) -> None:
        self._params, self._lr, self._momentum = params, lr, momentum
        self._buffers: list[torch.Tensor | None] = [None] * len(params)

    def zero_grad(self) -> None:
        for p in self._params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for i, p in enumerate(self._params):
            if p.grad is None:
                continue
            buffer = self._buffers[i]
            if buffer is None:
                buffer = self._buffers[i] = torch.clone(p.grad).detach()
            else:
                buffer.mul_(self._momentum).add_(p.grad, alpha=1)
            p.add_(buffer, alpha=-self._lr)


@dataclass(frozen=True)
class Hyperparameters:
    seed: int
    alpha: float
    lr: float
    epochs: int
    batch_size: int

    @classmethod
    def of(
        cls, plan: TrainingPlan, *, lr: float, epochs: int, batch_size: int, alpha: float = 0.5
    ) -> Hyperparameters:
        return cls(
            plan.option("seed", 0),
            plan.option("alpha", alpha),
            plan.option("lr", lr),
            plan.option("epochs", epochs),
            plan.option("batch_size", batch_size),
        )


class ClassifierTask(ABC):
    """A classification task on a public dataset, each silo holding a label-skewed part."""

    synthetic = False

    def __init__(self, plan: TrainingPlan, hyper: Hyperparameters) -> None:
        self.plan, self.hyper = plan, hyper
        self._dataset: Dataset | None = None

    @abstractmethod
    def dataset(self) -> Dataset:
        """The whole public dataset."""

    @abstractmethod
    def network(self) -> nn.Module:
        """The architecture (built under the task's seed)."""

    def build_model(self) -> nn.Module:
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(self.hyper.seed)  # every party builds the same initial weights
        try:
            return self.network()
        finally:
            torch.random.set_rng_state(generator_state)

    def _data(self) -> Dataset:
        if self._dataset is None:
            self._dataset = self.dataset()
        return self._dataset

    def splits(self, silos: Sequence[str]) -> list[SiloSplit]:
        """Every silo's split (for the demo's baselines; a real silo sees only its own)."""
        data = self._data()
        parts = datasets.label_skewed_split(
            data.labels, len(silos), self.hyper.alpha, self.hyper.seed
        )
        return [
            datasets.silo_split(data, part, self.hyper.seed + 1 + i) for i, part in enumerate(parts)
        ]

    def load_data(self, silo: SiloContext) -> SiloSplit:
        return self.splits(silo.silos)[silo.position]

    def train(self, model: nn.Module, data: SiloSplit, round_number: int) -> int:
        model.train()
        optimizer = MomentumSGD(list(model.parameters()), lr=self.hyper.lr, momentum=0.9)
        loss_of = nn.CrossEntropyLoss()
        n = len(data.train_y)
        for _ in range(self.hyper.epochs):
            order = torch.randperm(n)
            for start in range(0, n, self.hyper.batch_size):
                batch = order[start : start + self.hyper.batch_size]
                optimizer.zero_grad()
                loss_of(model(data.train_x[batch]), data.train_y[batch]).backward()
                optimizer.step()
        return n

    def evaluate(self, model: nn.Module, data: SiloSplit) -> Evaluation:
        model.eval()
        with torch.no_grad():
            predicted = model(data.test_x).argmax(dim=1)
        return Evaluation(int((predicted == data.test_y).sum()), len(data.test_y))


class BreastCancerTask(ClassifierTask):
    def __init__(self, plan: TrainingPlan) -> None:
        super().__init__(plan, Hyperparameters.of(plan, lr=0.1, epochs=2, batch_size=16, alpha=0.2))

    def dataset(self) -> Dataset:
        return datasets.breast_cancer()

    def network(self) -> nn.Module:
        return nn.Sequential(nn.Linear(30, 16), nn.ReLU(), nn.Linear(16, 2))


class _DigitsCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(16 * 2 * 2, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        image = x.reshape(-1, 1, 8, 8)
        return self.classifier(self.features(image).flatten(1))  # type: ignore[no-any-return]


class DigitsTask(ClassifierTask):
    def __init__(self, plan: TrainingPlan) -> None:
        super().__init__(plan, Hyperparameters.of(plan, lr=0.05, epochs=2, batch_size=32))

    def dataset(self) -> Dataset:
        return datasets.digits()

    def network(self) -> nn.Module:
        return _DigitsCNN()


class CreditFraudTask(ClassifierTask):
    """Synthetic data: an imbalanced stand-in for card transactions, not real bank data."""

    synthetic = True

    def __init__(self, plan: TrainingPlan) -> None:
        super().__init__(plan, Hyperparameters.of(plan, lr=0.05, epochs=1, batch_size=32))

    def dataset(self) -> Dataset:
        return datasets.credit_fraud(self.hyper.seed)

    def network(self) -> nn.Module:
        return nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 2))


BUILTIN: dict[str, Callable[[TrainingPlan], ClassifierTask]] = {
    "breast-cancer": BreastCancerTask,
    "digits": DigitsTask,
    "credit-fraud": CreditFraudTask,
}
