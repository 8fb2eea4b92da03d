"""Tasks: seeded non-IID splits, identical models everywhere, a pinned layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fedsilo.config.model import TrainingPlan
from fedsilo.errors import ConfigError, RemoteProtocolError
from fedsilo.tensors import Layout
from fedsilo.training.builtin import BreastCancerTask, DigitsTask
from fedsilo.training.datasets import breast_cancer, label_skewed_split
from fedsilo.training.local import LocalTrainer, check_served_layout
from fedsilo.training.task import SiloContext, load_task

SILOS = ("h1", "h2", "h3", "h4")
PLAN = TrainingPlan(rounds=2, task="breast-cancer", max_samples=1000)


def test_the_label_skewed_split_gives_every_sample_to_exactly_one_silo() -> None:
    labels = breast_cancer().labels
    parts = label_skewed_split(labels, 4, 0.2, seed=0)
    joined = np.concatenate(parts)
    assert len(joined) == len(labels) and len(np.unique(joined)) == len(labels)


def test_the_split_is_seeded_and_skews_the_labels() -> None:
    labels = breast_cancer().labels
    a, b = label_skewed_split(labels, 4, 0.2, 0), label_skewed_split(labels, 4, 0.2, 0)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    positive_share = [labels[p].mean() for p in a]
    assert max(positive_share) - min(positive_share) > 0.5  # silos see very different mixes


def test_every_party_builds_the_same_initial_model() -> None:
    one, two = BreastCancerTask(PLAN).build_model(), BreastCancerTask(PLAN).build_model()
    assert all(
        torch.equal(a, b)
        for a, b in zip(one.state_dict().values(), two.state_dict().values(), strict=True)
    )


def test_tasks_are_found_by_their_registered_name() -> None:
    assert isinstance(load_task(PLAN), BreastCancerTask)
    plan = TrainingPlan(rounds=1, task="digits")
    assert isinstance(load_task(plan), DigitsTask)
    with pytest.raises(ConfigError, match="not installed"):
        load_task(TrainingPlan(rounds=1, task="no-such-task"))


def test_a_local_round_is_reproducible_for_a_seed() -> None:
    def delta() -> np.ndarray:
        trainer = LocalTrainer.for_plan(PLAN, SiloContext("h2", SILOS))
        return trainer.local_round(1, trainer.initial_model()).delta

    assert np.array_equal(delta(), delta())


def test_a_local_round_reports_samples_and_evaluates_the_model_it_started_from() -> None:
    trainer = LocalTrainer.for_plan(PLAN, SiloContext("h1", SILOS))
    result = trainer.local_round(1, trainer.initial_model())
    data = trainer.data
    assert data is not None
    assert result.samples == len(data.train_y)
    assert result.evaluation.examples == len(data.test_y)
    assert np.abs(result.delta).max() > 0


def test_a_silo_whose_model_differs_refuses_naming_the_first_differing_tensor() -> None:
    pinned = Layout.of(BreastCancerTask(PLAN).build_model().state_dict())
    other = Layout.of(
        torch.nn.Sequential(
            torch.nn.Linear(30, 32), torch.nn.ReLU(), torch.nn.Linear(32, 2)
        ).state_dict()
    )
    with pytest.raises(ConfigError, match=r"'0\.weight'"):
        check_served_layout(pinned.document(), pinned.sha256(), other)


def test_a_served_layout_other_than_the_pinned_one_is_refused() -> None:
    pinned = Layout.of(BreastCancerTask(PLAN).build_model().state_dict())
    served = Layout.of(torch.nn.Linear(3, 1).state_dict())
    with pytest.raises(RemoteProtocolError, match="the config pins"):
        check_served_layout(served.document(), pinned.sha256(), pinned)


def test_a_node_refuses_a_config_without_a_pinned_layout() -> None:
    with pytest.raises(ConfigError, match="pin-layout"):
        LocalTrainer.for_plan(PLAN).check_layout(None)
    pinned = Layout.of(BreastCancerTask(PLAN).build_model().state_dict())
    with pytest.raises(ConfigError, match="pin-layout"):
        check_served_layout(pinned.document(), None, pinned)


def test_the_aggregator_refuses_a_config_pinning_another_layout() -> None:
    trainer = LocalTrainer.for_plan(PLAN)
    other = Layout.of(torch.nn.Linear(3, 1).state_dict()).sha256()
    with pytest.raises(ConfigError, match="a different architecture or task version"):
        trainer.check_layout(other)
    trainer.check_layout(trainer.layout.sha256())  # its own layout passes


def test_the_local_optimizer_takes_the_same_steps_as_torch_sgd_bit_for_bit() -> None:
    import torch
    from torch import nn

    from fedsilo.training.builtin import MomentumSGD

    def trained(make: object) -> torch.Tensor:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(30, 16), nn.ReLU(), nn.Linear(16, 2))
        optimizer = make(model)  # type: ignore[operator]
        x, y = torch.randn(64, 30), torch.randint(0, 2, (64,))
        for _ in range(20):
            optimizer.zero_grad()
            nn.CrossEntropyLoss()(model(x), y).backward()
            optimizer.step()
        return torch.cat([p.detach().ravel() for p in model.parameters()])

    ours = trained(lambda m: MomentumSGD(list(m.parameters()), lr=0.1, momentum=0.9))
    theirs = trained(lambda m: torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9))
    assert torch.equal(ours, theirs)
