"""The scheme a loaded config names, and what its sessions run with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from fedsilo.config.model import FederationConfig
from fedsilo.protocol.registry import scheme_named
from fedsilo.protocol.scheme import Scheme


def scheme_of(config: FederationConfig) -> Scheme:
    """The registered scheme of ``config`` (it was checked against the registry at load)."""
    return scheme_named(config.scheme.kind)


def scheme_params(config: FederationConfig, vector_length: int | None = None) -> Any:
    """The parameters ``config``'s scheme runs with; raises :class:`ConfigError` (rule
    first) if a node cannot run it. ``vector_length`` (the protected vector's length)
    resolves length-dependent settings, such as masking's release verification."""
    return scheme_of(config).params(config.scheme, config.facts, vector_length)


def stage_timeout(config: FederationConfig, stage: str) -> float:
    """The deadline in seconds of the stage called ``stage`` of ``config``'s scheme."""
    return config.timeouts.stage(scheme_of(config).stage(stage).timeout_key)


def scheme_yaml(kind: str) -> list[str]:
    """The ``scheme:`` block of a federation run on one machine, for scheme ``kind``."""
    section = scheme_named(kind).local_section()
    return [
        "scheme:",
        *("  " + line for line in yaml.safe_dump(section, sort_keys=False).splitlines()),
    ]


def timeouts_yaml(deadlines: Mapping[str, float], indent: str = "  ") -> list[str]:
    """The ``timeouts:`` block of a config file: ``join`` and each stage deadline given in
    ``deadlines`` by its timeout key (stages not given keep their scheme's default)."""
    stages = {k: v for k, v in deadlines.items() if k != "join"}
    lines = ["timeouts:"]
    if "join" in deadlines:
        lines.append(f"{indent}join: {deadlines['join']}")
    if stages:
        lines.append(f"{indent}stages:")
        lines += [f"{indent * 2}{key}: {seconds}" for key, seconds in stages.items()]
    return lines
