"""YAML -> :class:`FederationConfig`, reporting every problem at once with its key path.

The YAML is read with a safe loader that also refuses duplicate keys (a
duplicate would make two readers see two configs). Tags such as
``!!python/object`` are refused. Unknown keys are refused. Loading checks
types and formats only; whether the values are *safe* is the auditor's
verdict (``fedsilo audit config``), which nodes also require before
running.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from fedsilo.config.model import (
    SERVER_OPTIMIZERS,
    SERVER_STEPS,
    AggregatorEntry,
    FederationConfig,
    MaskingScheme,
    Member,
    ModelPin,
    PaillierScheme,
    Quantization,
    Timeouts,
    TrainingPlan,
    default_slot_bits,
    default_threshold,
)
from fedsilo.errors import ConfigError, PKIError
from fedsilo.pki.identity import check_fingerprint, check_name
from fedsilo.protocol.masking.params import RELEASE_VERIFICATIONS

T = TypeVar("T")
_MISSING = object()
MAX_RESETS_LIMIT = 1_000
DEFAULT_TIMEOUTS = {
    "join": 120.0,
    "advertise_keys": 60.0,
    "share_keys": 60.0,
    "masked_input": 600.0,
    "consistency_check": 60.0,
    "unmasking": 120.0,
}


class ConfigProblemsError(ConfigError):
    """Every problem found in one config file, each prefixed by its key path."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s):\n{lines}")


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _no_duplicates,
)


def parse_yaml(text: str, source: str) -> Any:
    loader = _StrictLoader(text)  # a SafeLoader: no tags that construct Python objects
    try:
        return loader.get_single_data()
    except yaml.constructor.ConstructorError as exc:
        where = f" (line {exc.problem_mark.line + 1})" if exc.problem_mark else ""
        raise ConfigError(f"{source}: refused YAML{where}: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    finally:
        loader.dispose()


class _Reader:
    """Collects problems while reading; returns placeholders so reading goes on."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def mapping(self, value: Any, path: str, allowed: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.problems.append(f"{path or '<top>'}: must be a mapping")
            return {}
        for key in value:
            if key not in allowed:
                where = f"{path}.{key}" if path else str(key)
                self.problems.append(
                    f"{where}: unknown key (allowed: {', '.join(sorted(allowed))})"
                )
        return value

    def get(
        self,
        m: dict[str, Any],
        key: str,
        path: str,
        convert: Callable[[Any], T],
        default: Any = _MISSING,
    ) -> T | None:
        where = f"{path}.{key}" if path else key
        if key not in m or m[key] is None:
            if default is _MISSING:
                self.problems.append(f"{where}: required")
                return None
            return default  # type: ignore[no-any-return]
        try:
            return convert(m[key])
        except (ConfigError, PKIError, TypeError, ValueError) as exc:
            self.problems.append(f"{where}: {exc}")
            return None


def _text(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ConfigError("must be a non-empty string")
    return v


def _integer(low: int, high: int) -> Callable[[Any], int]:
    def convert(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"must be an integer, got {v!r}")
        if not low <= v <= high:
            raise ConfigError(f"must be between {low} and {high}, got {v}")
        return v

    return convert


def _number(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ConfigError(f"must be a finite number, got {v!r}")
    return float(v)


def _positive_number(v: Any) -> float:
    value = _number(v)
    if value <= 0:
        raise ConfigError(f"must be positive, got {v}")
    return value


def _options(v: Any) -> tuple[tuple[str, int | float | str], ...]:
    """A task's options: a flat mapping of names to scalars, kept sorted."""
    if not isinstance(v, dict):
        raise ConfigError("must be a mapping of option names to numbers or strings")
    for key, value in v.items():
        if (
            not isinstance(key, str)
            or isinstance(value, bool)
            or not isinstance(value, int | float | str)
        ):
            raise ConfigError(f"option {key!r} must be a number or a string")
    return tuple(sorted(v.items()))


def _name(v: Any) -> str:
    return check_name(_text(v))


def _fingerprint(v: Any) -> str:
    return check_fingerprint(_text(v))


def _address(v: Any) -> str:
    host, sep, port = _text(v).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"must be host:port, got {v!r}")
    return str(v)


def load_config(path: Path) -> FederationConfig:
    """Read and type-check a config file; raises ConfigProblemsError listing every problem."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from exc
    return config_from_document(parse_yaml(text, str(path)), str(path))


def config_from_document(doc: Any, source: str = "<config>") -> FederationConfig:
    r = _Reader()
    top = r.mapping(
        doc,
        "",
        {
            "federation",
            "ca_fingerprint",
            "aggregator",
            "silos",
            "scheme",
            "min_silos",
            "training",
            "timeouts",
            "model",
            "max_resets",
        },
    )
    federation = r.get(top, "federation", "", _name)
    ca_fp = r.get(top, "ca_fingerprint", "", _fingerprint, default=None)
    agg_doc = r.mapping(top.get("aggregator"), "aggregator", {"name", "address", "fingerprint"})
    aggregator = AggregatorEntry(
        name=r.get(agg_doc, "name", "aggregator", _name) or "",
        address=r.get(agg_doc, "address", "aggregator", _address) or "",
        fingerprint=r.get(agg_doc, "fingerprint", "aggregator", _fingerprint, default=None),
    )
    silos = _silos(r, top.get("silos"))
    scheme = _scheme(r, top.get("scheme"), len(silos))
    training_doc = r.mapping(
        top.get("training"),
        "training",
        {
            "rounds",
            "task",
            "options",
            "max_samples",
            "server_optimizer",
            "server_lr",
            "server_step",
        },
    )
    training = TrainingPlan(
        rounds=r.get(training_doc, "rounds", "training", _integer(1, 100_000), default=10) or 0,
        task=r.get(training_doc, "task", "training", _text) or "",
        options=r.get(training_doc, "options", "training", _options, default=()) or (),
        max_samples=r.get(
            training_doc, "max_samples", "training", _integer(1, 1 << 40), default=10_000
        )
        or 0,
        server_optimizer=r.get(
            training_doc, "server_optimizer", "training", _choice(SERVER_OPTIMIZERS), "fedavg"
        )
        or "",
        server_lr=r.get(training_doc, "server_lr", "training", _positive_number, default=1.0)
        or 0.0,
        server_step=r.get(training_doc, "server_step", "training", _choice(SERVER_STEPS), "v1")
        or "",
    )
    model_doc = r.mapping(top.get("model", {}), "model", {"layout_sha256", "initial_sha256"})
    model = ModelPin(
        layout_sha256=r.get(model_doc, "layout_sha256", "model", _fingerprint, default=None),
        initial_sha256=r.get(model_doc, "initial_sha256", "model", _fingerprint, default=None),
    )
    timeouts_doc = r.mapping(top.get("timeouts", {}), "timeouts", set(DEFAULT_TIMEOUTS))
    timeouts = Timeouts(
        **{
            k: r.get(timeouts_doc, k, "timeouts", _number, default=d) or 0.0
            for k, d in DEFAULT_TIMEOUTS.items()
        }
    )
    threshold = scheme.threshold if scheme else 0
    min_silos = r.get(top, "min_silos", "", _integer(1, 10_000), default=threshold)
    max_resets = r.get(top, "max_resets", "", _integer(0, MAX_RESETS_LIMIT), default=1)
    if r.problems or federation is None or scheme is None or min_silos is None:
        raise ConfigProblemsError(source, r.problems or ["incomplete config"])
    return FederationConfig(
        federation,
        ca_fp,
        aggregator,
        silos,
        scheme,
        min_silos,
        training,
        timeouts,
        model,
        max_resets if max_resets is not None else 1,
    )


def _silos(r: _Reader, value: Any) -> tuple[Member, ...]:
    if not isinstance(value, list) or not value:
        r.problems.append("silos: must be a non-empty list")
        return ()
    members = []
    for i, entry in enumerate(value):
        path = f"silos[{i}]"
        m = r.mapping(entry, path, {"name", "fingerprint", "organisation"})
        members.append(
            Member(
                name=r.get(m, "name", path, _name) or "",
                fingerprint=r.get(m, "fingerprint", path, _fingerprint, default=None),
                organisation=r.get(m, "organisation", path, _text, default=None),
            )
        )
    return tuple(members)


def _scheme(r: _Reader, value: Any, n: int) -> MaskingScheme | PaillierScheme | None:
    kind = value.get("kind", "masking") if isinstance(value, dict) else None
    if kind == "paillier":
        return _paillier(r, value, n)
    if kind != "masking":
        r.problems.append(f"scheme.kind: must be 'masking' or 'paillier', got {kind!r}")
        return None
    m = r.mapping(
        value,
        "scheme",
        {"kind", "threshold", "colluders", "modulus_bits", "quantization", "release_verification"},
    )
    q = r.mapping(m.get("quantization", {}), "scheme.quantization", {"clip", "levels"})
    bits = r.get(m, "modulus_bits", "scheme", _one_of(32, 64), default=32) or 32
    return MaskingScheme(
        threshold=r.get(m, "threshold", "scheme", _integer(1, 10_000), default=default_threshold(n))
        or 0,
        colluders=r.get(m, "colluders", "scheme", _integer(0, 10_000)) or 0,
        modulus_bits=bits,
        quantization=Quantization(
            clip=r.get(q, "clip", "scheme.quantization", _positive_number, default=1.0) or 1.0,
            levels=r.get(q, "levels", "scheme.quantization", _integer(2, 2**53), default=1 << 16)
            or 2,
        ),
        release_verification=r.get(
            m, "release_verification", "scheme", _choice(RELEASE_VERIFICATIONS), default="auto"
        )
        or "auto",
    )


def _paillier(r: _Reader, value: dict[str, Any], n: int) -> PaillierScheme:
    allowed = {
        "kind",
        "key_bits",
        "threshold",
        "colluders",
        "dealer",
        "value_bits",
        "slot_bits",
        "clip",
    }
    m = r.mapping(value, "scheme", allowed)
    value_bits = r.get(m, "value_bits", "scheme", _integer(2, 64), default=16) or 16
    return PaillierScheme(
        key_bits=r.get(m, "key_bits", "scheme", _integer(512, 16384), default=3072) or 0,
        threshold=r.get(m, "threshold", "scheme", _integer(1, 10_000), default=default_threshold(n))
        or 0,
        colluders=r.get(m, "colluders", "scheme", _integer(0, 10_000)) or 0,
        dealer=r.get(m, "dealer", "scheme", _name) or "",
        value_bits=value_bits,
        slot_bits=r.get(
            m, "slot_bits", "scheme", _integer(2, 4096), default=default_slot_bits(value_bits, n)
        )
        or 0,
        clip=r.get(m, "clip", "scheme", _positive_number, default=1.0) or 1.0,
    )


def _choice(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def convert(v: Any) -> str:
        if v not in choices:
            raise ConfigError(f"must be one of {', '.join(choices)}, got {v!r}")
        return str(v)

    return convert


def _one_of(*choices: int) -> Callable[[Any], int]:
    def convert(v: Any) -> int:
        if v not in choices or isinstance(v, bool):
            raise ConfigError(f"must be one of {', '.join(map(str, choices))}, got {v!r}")
        return int(v)

    return convert
