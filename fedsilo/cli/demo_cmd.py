"""`fedsilo demo`: provision a throwaway federation here and train a model across it."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from fedsilo.errors import ConfigError
from fedsilo.protocol.registry import runnable

DEMO_TASKS = ("breast-cancer", "digits", "credit-fraud")
MIN_SILOS, MAX_SILOS = 3, 12


def _drops(values: list[str], silos: tuple[str, ...]) -> dict[str, int]:
    drops = {}
    for value in values:
        name, _, at = value.rpartition(":")
        if name not in silos or not at.isdigit() or int(at) < 1:
            raise ConfigError(
                f"--drop {value!r}: write SILO:ROUND with SILO one of {', '.join(silos)}"
            )
        drops[name] = int(at)
    return drops


def _run(args: argparse.Namespace) -> int:
    if not MIN_SILOS <= args.silos <= MAX_SILOS:
        raise ConfigError(f"--silos must be between {MIN_SILOS} and {MAX_SILOS}")
    if not 1 <= args.rounds <= 200:
        raise ConfigError("--rounds must be between 1 and 200")
    # torch, the nodes and scikit-learn load only when the demo runs
    from fedsilo.demo.run import run_federation, summarize, table  # noqa: PLC0415
    from fedsilo.demo.workspace import prepare, silo_names  # noqa: PLC0415

    drops = _drops(args.drop, silo_names(args.task, args.silos))

    if args.out:
        root = Path(args.out)
        if root.exists() and any(root.iterdir()):
            raise ConfigError(f"{root} is not empty; give the demo a new directory")
        root.mkdir(parents=True, exist_ok=True)
    else:
        root = Path(tempfile.mkdtemp(prefix="fedsilo-demo-"))
    data = " (synthetic data)" if args.task == "credit-fraud" else ""
    print(f"fedsilo demo: {args.silos} silos train {args.task}{data} for {args.rounds} rounds")
    print(f"  scheme {args.scheme}, every node its own process over mutual TLS on 127.0.0.1")
    print(f"  workspace {root} (development PKI: for trying fedsilo out only)")
    space = prepare(root, args.task, args.silos, args.rounds, args.seed, args.scheme)
    seconds = run_federation(space, drops, sys.stdout, sys.stdout.isatty())
    print("computing the central and single-silo baselines ...", flush=True)
    result = summarize(space, seconds)
    print(table(result, args.task == "credit-fraud"))
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "demo",
        help="run a whole federation on this machine and compare it with central training",
    )
    p.add_argument("--task", default="breast-cancer", choices=DEMO_TASKS)
    p.add_argument("--silos", type=int, default=4, help="number of silos (3 to 12)")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument(
        "--scheme", default="masking", choices=runnable(), help="a registered protection scheme"
    )
    p.add_argument("--seed", type=int, default=0, help="data split and initial weights")
    p.add_argument(
        "--drop",
        action="append",
        default=[],
        metavar="SILO:ROUND",
        help="kill that silo's process (SIGKILL) before that round; repeatable",
    )
    p.add_argument("--out", help="keep everything here (default: a new temporary directory)")
    p.set_defaults(handler=_run)
