"""YAML -> :class:`FederationConfig`, reporting every problem at once with its key path.

The YAML is read with a safe loader that also refuses duplicate keys (a
duplicate would make two readers see two configs). Tags such as
``!!python/object`` are refused. Unknown keys are refused. Loading checks
types and formats only; whether the values are *safe* is the auditor's
verdict (``fedsilo audit config``), which nodes also require before
running.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from fedsilo.config.model import (
    SERVER_OPTIMIZERS,
    SERVER_STEPS,
    AggregatorEntry,
    FederationConfig,
    Member,
    ModelPin,
    Timeouts,
    TrainingPlan,
)
from fedsilo.errors import ConfigError, ConfigProblemsError
from fedsilo.pki.identity import check_fingerprint, check_name
from fedsilo.protocol.fields import Reader, choice, integer, number, positive_number, text
from fedsilo.protocol.registry import scheme_named
from fedsilo.protocol.scheme import FederationFacts, Scheme, SchemeConfig

MAX_RESETS_LIMIT = 1_000
DEFAULT_JOIN_SECONDS = 120.0


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
    return check_name(text(v))


def _fingerprint(v: Any) -> str:
    return check_fingerprint(text(v))


def _address(v: Any) -> str:
    host, sep, port = text(v).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"must be host:port, got {v!r}")
    return str(v)


def load_config(path: Path) -> FederationConfig:
    """Read and type-check a config file; raises ConfigProblemsError listing every problem."""
    try:
        source = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from exc
    return config_from_document(parse_yaml(source, str(path)), str(path))


def config_from_document(doc: Any, source: str = "<config>") -> FederationConfig:
    r = Reader()
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
        rounds=r.get(training_doc, "rounds", "training", integer(1, 100_000), default=10) or 0,
        task=r.get(training_doc, "task", "training", text) or "",
        options=r.get(training_doc, "options", "training", _options, default=()) or (),
        max_samples=r.get(
            training_doc, "max_samples", "training", integer(1, 1 << 40), default=10_000
        )
        or 0,
        server_optimizer=r.get(
            training_doc, "server_optimizer", "training", choice(SERVER_OPTIMIZERS), "fedavg"
        )
        or "",
        server_lr=r.get(training_doc, "server_lr", "training", positive_number, default=1.0) or 0.0,
        server_step=r.get(training_doc, "server_step", "training", choice(SERVER_STEPS), "v1")
        or "",
    )
    model_doc = r.mapping(top.get("model", {}), "model", {"layout_sha256", "initial_sha256"})
    model = ModelPin(
        layout_sha256=r.get(model_doc, "layout_sha256", "model", _fingerprint, default=None),
        initial_sha256=r.get(model_doc, "initial_sha256", "model", _fingerprint, default=None),
    )
    given_min_silos = r.get(top, "min_silos", "", integer(1, 10_000), default=None)
    facts = FederationFacts(
        tuple(m.name for m in silos), aggregator.name, training.max_samples, given_min_silos
    )
    found = _scheme(r, top.get("scheme"), facts)
    scheme = found[1] if found else None
    timeouts = _timeouts(r, top.get("timeouts", {}), found[0] if found else None)
    min_silos = (
        given_min_silos if given_min_silos is not None else (scheme.threshold if scheme else None)
    )
    max_resets = r.get(top, "max_resets", "", integer(0, MAX_RESETS_LIMIT), default=1)
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


def _silos(r: Reader, value: Any) -> tuple[Member, ...]:
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
                organisation=r.get(m, "organisation", path, text, default=None),
            )
        )
    return tuple(members)


def _scheme(r: Reader, value: Any, facts: FederationFacts) -> tuple[Scheme, SchemeConfig] | None:
    """The registered scheme ``scheme.kind`` names, and its section as it parses it."""
    if not isinstance(value, dict):
        r.problems.append("scheme: must be a mapping")
        return None
    try:
        scheme = scheme_named(value.get("kind", "masking"))
    except ConfigError as exc:
        r.problems.append(f"scheme.kind: {exc}")
        return None
    config = scheme.parse(r, value, facts)
    return (scheme, config) if config is not None else None


def _timeouts(r: Reader, value: Any, scheme: Scheme | None) -> Timeouts:
    """``{join, stages: {<stage>: seconds}}``, the stages those of ``scheme``."""
    keys = [s.timeout_key for s in scheme.stages] if scheme is not None else []
    if isinstance(value, dict):
        flat = [k for k in value if k in keys]
        for key in flat:  # the layout before stage deadlines followed the scheme
            r.problems.append(f"timeouts.{key}: a stage deadline goes under timeouts.stages.{key}")
        value = {k: v for k, v in value.items() if k not in flat}
    doc = r.mapping(value, "timeouts", {"join", "stages"})
    join = r.get(doc, "join", "timeouts", number, default=DEFAULT_JOIN_SECONDS) or 0.0
    if scheme is None:
        return Timeouts(join, ())
    raw = doc.get("stages", {})
    if isinstance(raw, dict):
        for key in raw:
            if key not in keys:
                r.problems.append(
                    f"timeouts.stages.{key}: the {scheme.kind} scheme has no such stage "
                    f"(its stages: {', '.join(keys)})"
                )
        raw = {k: v for k, v in raw.items() if k in keys}
    stages = r.mapping(raw, "timeouts.stages", set(keys))
    return Timeouts(
        join,
        tuple(
            (
                s.timeout_key,
                r.get(stages, s.timeout_key, "timeouts.stages", number, default=s.default_seconds)
                or 0.0,
            )
            for s in scheme.stages
        ),
    )
