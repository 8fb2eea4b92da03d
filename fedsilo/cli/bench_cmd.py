"""`fedsilo bench`."""

from __future__ import annotations

import argparse
import json

from fedsilo.bench.masking import run_masking_bench
from fedsilo.errors import ConfigError
from fedsilo.protocol.registry import runnable


def run(args: argparse.Namespace) -> int:
    if args.transport == "grpc":
        if args.dropouts:
            raise ConfigError("--dropouts is measured with --transport memory")
        # torch and the nodes load only for the commands that need them (keeps the CLI fast)
        from fedsilo.bench.grpc_round import run_grpc_bench  # noqa: PLC0415

        figures = run_grpc_bench(args.silos, args.params, args.repeat, args.scheme)
    elif args.scheme != "masking":
        raise ConfigError(
            f"--transport memory measures the masking protocol core; bench {args.scheme} "
            "with --transport grpc"
        )
    else:
        figures = run_masking_bench(
            args.silos, args.params, args.dropouts, args.repeat, args.seed
        ).as_dict()
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"fedsilo bench: {args.scheme} over {args.transport}, median of {args.repeat}")
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        print(f"  {key:<{width}}  {shown}")
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = commands.add_parser(
        "bench", help="measure one secure aggregation round against its floors"
    )
    # only schemes a node here runs are offered (the registry's runnable schemes)
    bench.add_argument("--scheme", default="masking", choices=runnable())
    bench.add_argument(
        "--transport",
        default="memory",
        choices=["memory", "grpc"],
        help="memory: one process; grpc: aggregator and silos as processes over mTLS",
    )
    bench.add_argument("--silos", type=int, default=10, help="number of silos (>= 3)")
    bench.add_argument("--params", type=int, default=1_000_000, help="vector length")
    bench.add_argument(
        "--dropouts", type=int, default=0, help="silos that drop after sharing keys (<= n - t)"
    )
    bench.add_argument("--repeat", type=int, default=1, help="interleaved repetitions (median)")
    bench.add_argument("--seed", type=int, default=0, help="seed of the random input vectors")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.set_defaults(handler=run)
