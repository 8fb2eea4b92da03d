"""`fedsilo task list` and `fedsilo task check`: see and try a task before joining."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from fedsilo.config.load import load_config
from fedsilo.errors import ConfigError


def _list(args: argparse.Namespace) -> int:
    from fedsilo.training.task import installed_tasks  # noqa: PLC0415

    for name in installed_tasks():
        print(name)
    return 0


def _check(args: argparse.Namespace) -> int:
    # torch and the task load only for this command
    from fedsilo.training.local import LocalTrainer  # noqa: PLC0415
    from fedsilo.training.task import SiloContext  # noqa: PLC0415

    config = load_config(Path(args.config))
    if args.name not in config.silo_names:
        raise ConfigError(f"{args.name!r} is not a silo of {config.federation}")
    silo = SiloContext(args.name, config.silo_names, Path(args.data) if args.data else None)
    trainer = LocalTrainer.for_plan(config.training, silo)
    trainer.check_layout(config.model.layout_sha256)
    print(f"task {config.training.task}: layout {trainer.layout.sha256()} matches the config")
    result = trainer.local_round(1, trainer.initial_model())
    clip = config.scheme.clip
    clipped = float(np.mean(np.abs(result.delta) > clip)) if clip else 0.0
    cap = config.training.max_samples
    print(f"one local round on {args.name}'s data, nothing sent:")
    print(f"  trained on {result.samples} samples (weight {min(result.samples, cap)}, max {cap})")
    print(
        f"  initial model on the held-out split: {result.evaluation.correct}/"
        f"{result.evaluation.examples} correct"
    )
    print(
        f"  largest delta {float(np.abs(result.delta).max()):.4g}; "
        f"{clipped:.1%} of {len(result.delta)} values beyond the clip {clip}"
    )
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    task = commands.add_parser("task", help="the tasks installed here").add_subparsers(
        dest="task_command", required=True
    )
    p = task.add_parser("list", help="tasks registered in the fedsilo.tasks entry-point group")
    p.set_defaults(handler=_list)
    p = task.add_parser("check", help="run one local round on this silo's data; sends nothing")
    p.add_argument("--config", required=True)
    p.add_argument("--name", required=True, help="this silo's roster name")
    p.add_argument("--data", help="the directory handed to the task's load_data")
    p.set_defaults(handler=_check)
