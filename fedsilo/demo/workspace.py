"""The demo's throwaway federation: a config for this machine, a development PKI, logs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from fedsilo.config.ports import free_port
from fedsilo.config.schemes import scheme_yaml, timeouts_yaml
from fedsilo.runtime.provisioning import ProvisionedFederation, provision_federation

SILO_NAMES = {"breast-cancer": "hospital", "credit-fraud": "bank", "digits": "school"}
# Short deadlines: every node runs here, and a killed silo costs one deadline per round.
# Advertising keys follows local training, whose first round pays torch's warm-up on a
# shared 2-core machine, so it gets the longest.
DEMO_TIMEOUTS = {
    "join": 30,
    "advertise_keys": 20,
    "share_keys": 8,
    "share_check": 8,
    "masked_input": 8,
    "consistency_check": 8,
    "unmasking": 8,
    "release": 8,
}
MAX_SAMPLES = 1000


@dataclass(frozen=True)
class Workspace:
    """Where the demo keeps everything it made."""

    root: Path
    silos: tuple[str, ...]

    @property
    def fed(self) -> Path:
        return self.root / "federation"

    @property
    def config(self) -> Path:
        return self.fed / "demo.yaml"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def aggregator_state(self) -> Path:
        return self.root / "aggregator-state"

    @property
    def nodes(self) -> ProvisionedFederation:
        return ProvisionedFederation(self.config, self.fed)


def demo_config(task: str, silos: tuple[str, ...], rounds: int, seed: int, scheme: str) -> str:
    lines = [
        "# Written by `fedsilo demo`: every node runs on this machine (development PKI).",
        "federation: fedsilo-demo",
        "aggregator:",
        "  name: aggregator",
        f"  address: 127.0.0.1:{free_port()}",
        "silos:",
        *[f"  - name: {name}" for name in silos],
        *scheme_yaml(scheme),
        "training:",
        f"  task: {task}",
        f"  rounds: {rounds}",
        f"  max_samples: {MAX_SAMPLES}",
        "  options:",
        f"    seed: {seed}",
        *timeouts_yaml(DEMO_TIMEOUTS),
    ]
    return "\n".join(lines) + "\n"


def silo_names(task: str, silos: int) -> tuple[str, ...]:
    return tuple(f"{SILO_NAMES.get(task, 'silo')}-{i}" for i in range(1, silos + 1))


def prepare(
    root: Path, task: str, silos: int, rounds: int, seed: int, scheme: str = "masking"
) -> Workspace:
    """Write the config and provision a development PKI under ``root``."""
    names = silo_names(task, silos)
    space = Workspace(root, names)
    space.logs.mkdir(parents=True, exist_ok=True)
    template = root / "demo.yaml"
    template.write_text(demo_config(task, names, rounds, seed, scheme))
    provision_federation(template, space.fed, dt.datetime.now(dt.UTC))
    template.unlink()
    return space
