"""`fedsilo config pin-layout` pins the task's model: its layout and its initial model."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from fedsilo.cli import config_cmd
from fedsilo.config.load import load_config
from fedsilo.training.global_state import model_sha256_text
from fedsilo.training.local import LocalTrainer

LOCAL = Path(__file__).parents[2] / "federation_configs" / "local-hospitals.yaml"


def run_config_command(*words: str) -> int:
    """``fedsilo config WORDS`` in this process (the subcommand as the CLI registers it)."""
    parser = argparse.ArgumentParser(prog="fedsilo")
    config_cmd.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["config", *words])
    code: int = args.handler(args)
    return code


def test_pin_layout_pins_the_layout_and_the_initial_model_the_task_builds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / LOCAL.name
    shutil.copy(LOCAL, path)
    before = load_config(path).digest()
    assert run_config_command("pin-layout", str(path)) == 0
    out = capsys.readouterr().out
    config = load_config(path)
    trainer = LocalTrainer.for_plan(config.training)
    assert config.model.layout_sha256 == trainer.layout.sha256()
    assert config.model.initial_sha256 == model_sha256_text(trainer.layout, trainer.initial_model())
    assert f"model.initial_sha256 {config.model.initial_sha256}" in out
    assert config.digest() != before and config.digest() in out
    trainer.check_initial(config.model.initial_sha256)
    assert path.read_text().startswith(LOCAL.read_text().split("\n", 1)[0])  # comments kept


def test_pinning_twice_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / LOCAL.name
    shutil.copy(LOCAL, path)
    run_config_command("pin-layout", str(path))
    first = path.read_bytes()
    run_config_command("pin-layout", str(path))
    assert path.read_bytes() == first
    capsys.readouterr()
