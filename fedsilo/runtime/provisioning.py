"""A whole development federation in one call: PKI, pinned config, pinned model layout."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fedsilo.config.load import load_config
from fedsilo.config.provision import provision
from fedsilo.training.local import LocalTrainer


def layout_sha256(config_path: Path) -> str:
    """The SHA-256 of the layout of the model the config's task builds here."""
    return LocalTrainer.for_plan(load_config(config_path).training).layout.sha256()


def provision_federation(
    config_path: Path, out_dir: Path, now: dt.datetime, days: int = 365
) -> Path:
    """``certs provision`` with the model layout pinned too; returns the pinned config."""
    return provision(config_path, out_dir, now, days, layout_sha256(config_path))
