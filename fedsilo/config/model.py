"""The typed, frozen federation config and its canonical digest."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from fedsilo.config.jcs import canonical_json
from fedsilo.protocol.scheme import FederationFacts, SchemeConfig

T = TypeVar("T", int, float, str)


@dataclass(frozen=True)
class Member:
    """A silo on the roster; its position (1-based) is its protocol index."""

    name: str
    fingerprint: str | None
    organisation: str | None = None


@dataclass(frozen=True)
class AggregatorEntry:
    name: str
    address: str
    fingerprint: str | None


SERVER_OPTIMIZERS = ("fedavg", "fedadam")
SERVER_STEPS = ("v1",)


@dataclass(frozen=True)
class TrainingPlan:
    """How many rounds, which registered task and its scalar options, and how updates combine.

    Each silo sends its clipped delta weighted by ``min(samples, max_samples)``;
    the aggregator divides by the summed weight after unmasking, then applies
    the server optimizer (``fedavg``, or ``fedadam`` after Reddi et al. 2021)
    with step size ``server_lr``. ``server_step`` names the exact arithmetic of that
    step (``v1``: see ``fedsilo.training.server_optimizers``), which every party runs
    itself to derive the next global model; it is in the digest like every other field.
    """

    rounds: int
    task: str
    options: tuple[tuple[str, int | float | str], ...] = ()
    max_samples: int = 10_000
    server_optimizer: str = "fedavg"
    server_lr: float = 1.0
    server_step: str = "v1"

    def option(self, key: str, default: T) -> T:
        value = dict(self.options).get(key, default)
        return type(default)(value)


@dataclass(frozen=True)
class ModelPin:
    """What every party checks its model against, each written ``sha256:<hex>``.

    ``layout_sha256`` covers the layout (tensor names, shapes, dtypes; see
    ``fedsilo.tensors``); ``initial_sha256`` the initial global model ``model_1``, as the
    safetensors of its aggregated tensors (see ``fedsilo.training.global_state``)."""

    layout_sha256: str | None = None
    initial_sha256: str | None = None


@dataclass(frozen=True)
class Timeouts:
    """Deadlines in seconds: how long the aggregator waits for every silo to join before its
    first round, then each stage's deadline, by the stage's timeout key (every stage of the
    config's scheme, in the scheme's order; see :class:`fedsilo.protocol.scheme.StageSpec`)."""

    join: float
    stages: tuple[tuple[str, float], ...]

    def stage(self, key: str) -> float:
        """The deadline of the stage whose timeout key is ``key``."""
        for name, seconds in self.stages:
            if name == key:
                return seconds
        raise KeyError(f"no deadline for stage {key!r}")

    @property
    def every(self) -> tuple[tuple[str, float], ...]:
        """Every deadline, ``join`` first, each named by its key path."""
        return (("join", self.join), *((f"stages.{k}", v) for k, v in self.stages))

    @property
    def total(self) -> float:
        """The join window plus every stage deadline: the longest a round can take."""
        return self.join + sum(v for _, v in self.stages)


@dataclass(frozen=True)
class FederationConfig:
    """A whole federation, as every party must agree on it."""

    federation: str
    ca_fingerprint: str | None
    aggregator: AggregatorEntry
    silos: tuple[Member, ...]
    scheme: SchemeConfig
    min_silos: int
    training: TrainingPlan
    timeouts: Timeouts
    model: ModelPin = ModelPin()
    max_resets: int = 1
    """How many epoch resets (``fedsilo federation reset``) this federation will ever
    accept. A reset lets the aggregator run a failed round again, which is one more
    differencing sample; ``0`` means a round that cannot be unmasked ends the federation."""

    @property
    def silo_names(self) -> tuple[str, ...]:
        """Every silo, in roster order."""
        return tuple(s.name for s in self.silos)

    @property
    def facts(self) -> FederationFacts:
        """What the scheme's rules and parameters read of the rest of the config."""
        return FederationFacts(
            self.silo_names, self.aggregator.name, self.training.max_samples, self.min_silos
        )

    @property
    def member_names(self) -> list[str]:
        """The aggregator and every silo, in that order."""
        return [self.aggregator.name, *self.silo_names]

    def document(self) -> dict[str, Any]:
        """The normalized document: every default filled in, roster order kept."""
        doc = asdict(self)
        doc["silos"] = list(doc["silos"])
        doc["training"]["options"] = dict(self.training.options)
        doc["timeouts"]["stages"] = dict(self.timeouts.stages)
        return doc

    def canonical_json(self) -> str:
        return canonical_json(self.document())

    def digest(self) -> str:
        """``sha256:<hex>`` over the RFC 8785 JSON of the normalized document."""
        return "sha256:" + hashlib.sha256(self.canonical_json().encode()).hexdigest()
