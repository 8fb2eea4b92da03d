"""A whole development federation in one call: PKI, pinned config, pinned model."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from fedsilo.config.load import load_config
from fedsilo.config.model import ModelPin
from fedsilo.config.provision import provision
from fedsilo.training.global_state import model_sha256_text
from fedsilo.training.local import LocalTrainer


def model_pins(config_path: Path) -> ModelPin:
    """The SHA-256 of the layout and of the initial model the config's task builds here."""
    trainer = LocalTrainer.for_plan(load_config(config_path).training)
    return ModelPin(
        layout_sha256=trainer.layout.sha256(),
        initial_sha256=model_sha256_text(trainer.layout, trainer.initial_model()),
    )


def provision_federation(
    config_path: Path, out_dir: Path, now: dt.datetime, days: int = 365
) -> Path:
    """``certs provision`` with the model (layout and initial model) pinned too; returns
    the pinned config."""
    return provision(config_path, out_dir, now, days, model_pins(config_path))


@dataclass(frozen=True)
class ProvisionedFederation:
    """The files ``certs provision`` made under ``fed``, as node command lines."""

    config: Path
    fed: Path

    def node_files(self, name: str) -> list[str]:
        """``--config --cert --key --ca --crl`` for member ``name``."""
        return [
            "--config",
            str(self.config),
            "--cert",
            str(self.fed / name / f"{name}.crt"),
            "--key",
            str(self.fed / name / f"{name}.key"),
            "--ca",
            str(self.fed / "ca" / "ca.crt"),
            "--crl",
            str(self.fed / "ca" / "crl.pem"),
        ]

    def aggregator_command(self, name: str, state_dir: Path) -> list[str]:
        """``fedsilo`` arguments that start the aggregator."""
        return [
            "aggregator",
            "start",
            *self.node_files(name),
            "--certs",
            str(self.fed),
            "--state-dir",
            str(state_dir),
        ]

    def silo_command(self, name: str, state_dir: Path) -> list[str]:
        """``fedsilo`` arguments that start silo ``name``."""
        return [
            "silo",
            "start",
            *self.node_files(name),
            "--name",
            name,
            "--state-dir",
            str(state_dir),
        ]
