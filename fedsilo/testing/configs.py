"""A federation config for this machine: aggregator on a free 127.0.0.1 port, the
`synthetic-vector` task, and silos named ``<prefix>1 .. <prefix>n``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fedsilo.testing.ports import free_port

TIMEOUTS = (
    "join",
    "advertise_keys",
    "share_keys",
    "masked_input",
    "consistency_check",
    "unmasking",
)


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
        "  kind: masking",
        "  colluders: 1",
        *(["  quantization:", f"    levels: {levels}"] if levels is not None else []),
        *([f"  release_verification: {release_verification}"] if release_verification else []),
        "training:",
        f"  task: {task}",
        f"  rounds: {rounds}",
        "  options:",
        f"    params: {params}",
        *[f"    {key}: {value}" for key, value in (options or {}).items()],
        "timeouts:",
        *[f"  {key}: {timeouts[key]}" for key in TIMEOUTS],
    ]
    path.write_text("\n".join(lines) + "\n")
    return path
