"""A silo whose installed task builds another architecture refuses to start (real processes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fedsilo.testing.configs import write_local_config
from tests.nodes.federation import Federation

pytestmark = pytest.mark.slow

TASK = """
import torch
from torch import nn
from fedsilo.training.task import Evaluation


class ProbeTask:
    def __init__(self, plan):
        pass

    def build_model(self):
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(4, {hidden}), nn.ReLU(), nn.Linear({hidden}, 2))

    def load_data(self, silo):
        return silo.name

    def train(self, model, data, round_number):
        return 1

    def evaluate(self, model, data):
        return Evaluation(0, 0)
"""
PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "layout-probe"
version = "{version}"

[project.entry-points."fedsilo.tasks"]
layout-probe = "layout_probe:ProbeTask"
"""


def install_task(root: Path, version: str, hidden: int) -> dict[str, str]:
    """Install one version of a task package into its own directory; its PYTHONPATH."""
    source = root / f"src-{version}"
    (source / "layout_probe").mkdir(parents=True)
    (source / "pyproject.toml").write_text(PYPROJECT.format(version=version))
    (source / "layout_probe" / "__init__.py").write_text(TASK.format(hidden=hidden))
    target = root / f"site-{version}"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    return {"PYTHONPATH": str(target)}


def test_a_silo_whose_task_builds_another_layout_refuses_naming_the_first_differing_tensor(
    tmp_path: Path,
) -> None:
    v1 = install_task(tmp_path, "1.0", hidden=8)
    v2 = install_task(tmp_path, "2.0", hidden=16)
    template = write_local_config(
        tmp_path / "template.yaml",
        federation="layout-test",
        silos=3,
        params=1,
        rounds=1,
        timeouts={
            "join": 5,
            "advertise_keys": 10,
            "share_keys": 5,
            "masked_input": 5,
            "consistency_check": 5,
            "unmasking": 5,
        },
        task="layout-probe",
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "fedsilo.cli.main",
            "certs",
            "provision",
            str(template),
            "--out",
            str(tmp_path / "fed"),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, **v1},
    )
    fed = Federation(tmp_path, tmp_path / "fed" / "template.yaml")
    try:
        fed.start_aggregator(env=v1)
        silo = fed.start_silo("s1", env=v2)
        assert silo.wait(60) != 0
        log = fed.log("s1")
        assert "model layout differs at tensor '0.weight'" in log
        assert "Traceback" not in log
    finally:
        fed.stop_all()
