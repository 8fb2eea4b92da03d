"""`fedsilo aggregator start` and `fedsilo silo start`: the two long-running nodes."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from fedsilo.runtime.events import EventLog

if TYPE_CHECKING:
    from fedsilo.runtime.nodes import NodeFiles


def _files(args: argparse.Namespace) -> NodeFiles:
    # the nodes (and torch) load only when a node starts, so other commands stay fast
    from fedsilo.runtime.nodes import NodeFiles  # noqa: PLC0415

    return NodeFiles(
        Path(args.config), Path(args.cert), Path(args.key), Path(args.ca), Path(args.crl)
    )


def _on_sigterm(stop: threading.Event, log: EventLog) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        log("shutdown", signal="SIGTERM")
        stop.set()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, handler)


def run_aggregator(args: argparse.Namespace, log: EventLog | None = None) -> int:
    """`fedsilo aggregator start` with parsed ``args``, logging to ``log`` (stderr)."""
    from fedsilo.runtime.nodes import AggregatorNode  # noqa: PLC0415

    log = log or EventLog("aggregator")
    node = AggregatorNode(_files(args), Path(args.certs), Path(args.state_dir), args.listen, log)
    stop = threading.Event()
    _on_sigterm(stop, log)
    node.start()
    try:
        node.run()
        log("done", rounds=node.config.training.rounds)
    finally:
        node.stop()
    return 0


def run_silo(args: argparse.Namespace, log: EventLog | None = None) -> int:
    """`fedsilo silo start` with parsed ``args``, logging to ``log`` (stderr)."""
    from fedsilo.runtime.nodes import SiloRunner  # noqa: PLC0415

    log = log or EventLog(f"silo {args.name}")
    data = Path(args.data) if args.data else None
    runner = SiloRunner(_files(args), args.name, Path(args.state_dir), log, data)
    _on_sigterm(threading.Event(), log)
    runner.run()
    log("done", silo=args.name)
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="the pinned, endorsed federation config")
    p.add_argument("--cert", required=True, help="this node's certificate")
    p.add_argument("--key", required=True, help="this node's private key")
    p.add_argument("--ca", required=True, help="the federation CA certificate")
    p.add_argument("--crl", required=True, help="the federation CRL (re-read when it changes)")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    aggregator = commands.add_parser("aggregator", help="the neutral aggregator's node")
    p = aggregator.add_subparsers(dest="aggregator_command", required=True).add_parser(
        "start", help="serve the silos over mutual TLS and run the configured rounds"
    )
    _common(p)
    p.add_argument("--certs", required=True, help="directory with every silo's certificate")
    p.add_argument("--state-dir", default="aggregator-state", help="completed rounds and model")
    p.add_argument("--listen", help="host:port to listen on (default: the config's address)")
    p.set_defaults(handler=run_aggregator)

    silo = commands.add_parser("silo", help="an institution's node")
    p = silo.add_subparsers(dest="silo_command", required=True).add_parser(
        "start", help="connect out to the aggregator and take part in every round"
    )
    _common(p)
    p.add_argument("--name", required=True, help="this silo's roster name")
    p.add_argument("--state-dir", default="silo-state", help="the unmask ledger lives here")
    p.add_argument("--data", help="a directory handed to the task's load_data (task-specific)")
    p.set_defaults(handler=run_silo)
