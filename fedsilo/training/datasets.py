"""Public datasets for the built-in tasks, split across silos the way institutions differ.

Nothing is downloaded: the Wisconsin diagnostic breast-cancer data and the
8x8 digits ship with scikit-learn, and the credit-fraud set is generated
(seeded, imbalanced, and **synthetic**). Features are standardized with the
whole dataset's statistics, a fixed preprocessing every silo applies
identically.

Each sample goes to one silo by a label-skewed draw: for every class, the
shares of the silos come from a Dirichlet(alpha) distribution, so small
``alpha`` means silos see very different mixes of labels. Each silo then
holds out a quarter of its own samples for evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from fedsilo.errors import ConfigError

MIN_SILO_SAMPLES = 12
HELD_OUT = 0.25


@dataclass(frozen=True)
class Dataset:
    features: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int64]
    classes: int
    synthetic: bool = False


@dataclass(frozen=True)
class SiloSplit:
    """One silo's training and held-out tensors."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor


def _standardized(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    std = x.std(axis=0)
    scaled: npt.NDArray[np.float32] = ((x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)).astype(
        np.float32
    )
    return scaled


def breast_cancer() -> Dataset:
    from sklearn.datasets import load_breast_cancer  # noqa: PLC0415  slow import, on demand

    x, y = load_breast_cancer(return_X_y=True)
    return Dataset(_standardized(x), y.astype(np.int64), 2)


def digits() -> Dataset:
    from sklearn.datasets import load_digits  # noqa: PLC0415

    x, y = load_digits(return_X_y=True)
    return Dataset((x / 16.0).astype(np.float32), y.astype(np.int64), 10)


def credit_fraud(seed: int, samples: int = 6000) -> Dataset:
    """A synthetic, imbalanced (about 3 % positive) transaction set: not real bank data."""
    from sklearn.datasets import make_classification  # noqa: PLC0415

    x, y = make_classification(
        n_samples=samples,
        n_features=20,
        n_informative=8,
        n_redundant=4,
        weights=[0.97],
        flip_y=0.005,
        class_sep=1.2,
        random_state=seed,
    )
    return Dataset(_standardized(x), y.astype(np.int64), 2, synthetic=True)


def label_skewed_split(
    labels: npt.NDArray[np.int64], silos: int, alpha: float, seed: int
) -> list[npt.NDArray[np.int64]]:
    """Sample indices per silo, each class divided by Dirichlet(alpha) shares."""
    if silos < 1 or alpha <= 0:
        raise ConfigError(f"cannot split across {silos} silos with alpha {alpha}")
    rng = np.random.default_rng(seed)
    for _ in range(1000):
        parts: list[list[npt.NDArray[np.int64]]] = [[] for _ in range(silos)]
        for label in np.unique(labels):
            members = rng.permutation(np.flatnonzero(labels == label))
            cuts = (np.cumsum(rng.dirichlet([alpha] * silos))[:-1] * len(members)).astype(int)
            for part, chunk in zip(parts, np.split(members, cuts), strict=True):
                part.append(chunk)
        split = [np.sort(np.concatenate(p)) for p in parts]
        if min(len(s) for s in split) >= MIN_SILO_SAMPLES:
            return split
    raise ConfigError(
        f"{len(labels)} samples cannot give each of {silos} silos {MIN_SILO_SAMPLES}; "
        "use fewer silos or a larger alpha"
    )


def silo_split(data: Dataset, indices: npt.NDArray[np.int64], seed: int) -> SiloSplit:
    """Hold out a quarter of one silo's samples (seeded)."""
    order = np.random.default_rng(seed).permutation(indices)
    cut = max(1, round(len(order) * HELD_OUT))
    test, train = order[:cut], order[cut:]
    return SiloSplit(
        torch.from_numpy(data.features[train]),
        torch.from_numpy(data.labels[train]),
        torch.from_numpy(data.features[test]),
        torch.from_numpy(data.labels[test]),
    )
