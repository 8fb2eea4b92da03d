"""A federation config for this machine: aggregator on a free 127.0.0.1 port, the
`synthetic-vector` task, and silos named ``<prefix>1 .. <prefix>n``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fedsilo.config.ports import free_port
from fedsilo.config.schemes import timeouts_yaml
from fedsilo.protocol.masking.scheme import MASKING

# join, then every masking stage's deadline by its timeout key
TIMEOUTS = ("join", *(stage.timeout_key for stage in MASKING.stages))
# checking the shares is one more ShareKeys round trip, and the release (fetch Y, verify,
# derive, ack) one more Unmasking one: unless given, they take those stages' deadlines
_FOLLOWS = {"share_check": "share_keys", "release": "unmasking"}


def stage_deadlines(timeouts: Mapping[str, float]) -> dict[str, float]:
    """``timeouts`` with the share check and release deadlines filled in from the stages
    they follow, unless given."""
    out = dict(timeouts)
    for stage, source in _FOLLOWS.items():
        if stage not in out and source in out:
            out[stage] = out[source]
    return {k: out[k] for k in TIMEOUTS if k in out} | out


def write_local_config(
    path: Path,
    *,
    federation: str,
    silos: int,
    params: int,
    rounds: int,
    timeouts: Mapping[str, float],
    silo_prefix: str = "s",
    task: str = "synthetic-vector",
    levels: int | None = None,
    options: Mapping[str, object] | None = None,
    release_verification: str | None = None,
    scheme: str = "masking",
) -> Path:
    """Write the config (nothing pinned yet: ``certs provision`` pins it)."""
    lines = [
        f"federation: {federation}",
        "aggregator:",
        "  name: agg",
        f"  address: 127.0.0.1:{free_port()}",
        "silos:",
        *[f"  - name: {silo_prefix}{i}" for i in range(1, silos + 1)],
        "scheme:",
        f"  kind: {scheme}",
        "  colluders: 1",
        *(["  quantization:", f"    levels: {levels}"] if levels is not None else []),
        *([f"  release_verification: {release_verification}"] if release_verification else []),
        "training:",
        f"  task: {task}",
        f"  rounds: {rounds}",
        "  options:",
        f"    params: {params}",
        *[f"    {key}: {value}" for key, value in (options or {}).items()],
        *timeouts_yaml(stage_deadlines(timeouts)),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path
