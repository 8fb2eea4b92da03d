"""Pin the task's model into a config file (``fedsilo config pin-layout``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from fedsilo.config.load import load_config
from fedsilo.config.model import FederationConfig, ModelPin
from fedsilo.pki.files import write_public


def pin_model(path: Path, model: ModelPin, out: Path | None = None) -> FederationConfig:
    """Rewrite the config (normalized, leading comments kept) with ``model``: the layout's
    and the initial model's SHA-256 (``model.layout_sha256``, ``model.initial_sha256``).

    The digest changes, so members endorse the new file afterwards."""
    config = dataclasses.replace(load_config(path), model=model)
    lines = Path(path).read_text().splitlines(keepends=True)
    body = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    header = "".join(lines[:body])
    target = out or Path(path)
    write_public(target, (header + yaml.safe_dump(config.document(), sort_keys=False)).encode())
    return config
