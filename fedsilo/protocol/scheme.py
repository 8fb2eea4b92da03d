"""The seam every protection scheme sits behind.

A scheme says what it is made of, and nothing above the protocol layer has to
know which scheme runs:

* its **stages** (:class:`StageSpec`): the name, who must speak before the stage
  closes, and the key of its deadline under ``timeouts.stages`` in the config.
  Every scheme ends with the scheme-neutral :data:`RELEASE_STAGE` (fetch the
  released aggregate, verify it, derive the next model, ack ``H_r``);
* its **config section** (:meth:`Scheme.parse`): ``scheme:`` of the config file,
  read with the same problem-collecting reader as the rest of the file;
* its **rules** (:meth:`Scheme.rules`): every safety rule, implemented once and
  used by config loading, the nodes and the auditor alike (:meth:`Scheme.check`
  raises the first failure as a one-line :class:`ConfigError`);
* its **parameters** (:meth:`Scheme.params`): what its sessions run with;
* its **sessions**: the silo and aggregator state machines
  (:class:`SiloSession`, :class:`AggregatorSession`).

The registry of schemes is :mod:`fedsilo.protocol.registry`; it is closed.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from fedsilo.crypto.quantize import Quantizer
from fedsilo.errors import ConfigError
from fedsilo.protocol.fields import Reader


class Verdict(enum.Enum):
    """What a rule says about a config."""

    PASS = "pass"  # noqa: S105 - a verdict, not a password
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Finding:
    """The verdict of one rule, with why and, unless it passes, what to change."""

    rule: str
    verdict: Verdict
    reason: str
    fix: str = ""


def passes(rule: str, reason: str) -> Finding:
    return Finding(rule, Verdict.PASS, reason)


def fails(rule: str, reason: str, fix: str) -> Finding:
    return Finding(rule, Verdict.FAIL, reason, fix)


def warns(rule: str, reason: str, fix: str) -> Finding:
    return Finding(rule, Verdict.WARN, reason, fix)


def raise_first_failure(findings: Sequence[Finding]) -> None:
    """The first failing finding as a one-line :class:`ConfigError` (rule, why, the fix)."""
    for finding in findings:
        if finding.verdict is Verdict.FAIL:
            raise ConfigError(f"{finding.rule}: {finding.reason}; {finding.fix}")


Speaker = Literal["silos", "aggregator"]


@dataclass(frozen=True)
class StageSpec:
    """One stage of a scheme's session.

    ``name`` is the stage's name on the wire and in logs; ``timeout_key`` its deadline's
    key under ``timeouts.stages``; ``speaker`` who must speak before the stage closes
    (the aggregator's stage deadline runs while it waits for them)."""

    name: str
    speaker: Speaker
    default_seconds: float

    @property
    def timeout_key(self) -> str:
        return self.name.replace("-", "_")


# Every scheme's last stage: the survivors fetch the released aggregate, verify it (the
# scheme's own check), derive the next model themselves and ack the chain head H_r.
RELEASE_STAGE = StageSpec("release", "silos", 120.0)


@dataclass(frozen=True)
class FederationFacts:
    """What a scheme's rules and parameters may read of the rest of the config."""

    silo_names: tuple[str, ...]
    aggregator: str
    max_samples: int
    min_silos: int | None  # None: not set in the file (it defaults to the threshold)

    @property
    def silos(self) -> int:
        return len(self.silo_names)


class SchemeConfig(Protocol):
    """What every scheme's typed config section has (a frozen dataclass)."""

    @property
    def kind(self) -> str: ...

    @property
    def threshold(self) -> int: ...

    @property
    def colluders(self) -> int: ...

    @property
    def clip(self) -> float:
        """Every silo clips each coordinate of its delta to ``[-clip, clip]``."""
        ...


class Scheme(ABC):
    """A protection scheme: stages, config section, rules, parameters and sessions."""

    kind: str
    stages: tuple[StageSpec, ...]
    # False for a scheme whose config and rules exist but whose sessions do not (yet):
    # a node refuses to run it and the auditor says so, so "safe" always means runnable
    runnable: bool = True

    @abstractmethod
    def parse(
        self, reader: Reader, section: dict[str, Any], facts: FederationFacts
    ) -> SchemeConfig | None:
        """Read the ``scheme:`` section (defaults filled in); problems go to ``reader``."""

    @abstractmethod
    def rules(self, config: Any, facts: FederationFacts) -> list[Finding]:
        """Every safety rule of this scheme on ``config`` (its own parsed section)."""

    @abstractmethod
    def quantizer(self, config: Any) -> Quantizer:
        """The fixed-point encoding of the plaintext every silo protects."""

    @abstractmethod
    def params(self, config: Any, facts: FederationFacts, vector_length: int | None) -> Any:
        """What the sessions run with; raises :class:`ConfigError` (key path first) if
        ``config`` cannot run. ``vector_length`` (the protected vector's length, when
        known) resolves length-dependent settings."""

    @abstractmethod
    def local_section(self) -> dict[str, Any]:
        """The ``scheme:`` section of a federation run on one machine (``fedsilo demo``,
        ``fedsilo bench``): safe settings for a handful of silos and a small model."""

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages)

    def stage(self, name: str) -> StageSpec:
        for spec in self.stages:
            if spec.name == name:
                return spec
        raise ConfigError(
            f"the {self.kind} scheme has no stage {name!r} (its stages: "
            f"{', '.join(self.stage_names)})"
        )

    def check(self, config: Any, facts: FederationFacts) -> None:
        """Raise the first failing rule as a one-line :class:`ConfigError`."""
        raise_first_failure(self.rules(config, facts))


@runtime_checkable
class SiloSession(Protocol):
    """A silo's side of one session: messages in, messages out, nothing else."""

    def start(self) -> Sequence[object]: ...

    def receive(self, message: Any) -> Sequence[object]: ...


@runtime_checkable
class AggregatorSession(Protocol):
    """The aggregator's side of one session: it folds messages, closes a stage at its
    deadline, and says whom it is waiting for."""

    def receive(self, message: Any) -> Sequence[object]: ...

    def close_stage(self) -> Sequence[object]: ...

    @property
    def waiting_for(self) -> frozenset[int]: ...
