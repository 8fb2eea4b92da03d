"""A real node process that crashes, or whose disk fails, at a chosen event.

``python -m tests.nodes.crashing_node --at stage=unmasking [--at silo=s2]
--then kill -- aggregator start ...`` runs exactly what ``fedsilo aggregator
start ...`` (or ``silo start``) runs, with one difference: the first (or, with
``--count N``, the N-th) time the node logs an event whose fields match every
``--at``, it finishes writing that line and then

* ``kill``: sends itself ``SIGKILL`` (no cleanup, no flush: a power cut as far
  as the node's files are concerned), or
* ``fail-fsync``: makes every later ``os.fsync`` fail with ``EIO``, as a dying
  disk would, and carries on.

Nodes log an event only after the action it reports (a stage's replies sent,
a message journaled), so the crash lands at a known protocol step without any
hook in the product code. Crash-recovery tests restart the node with the
ordinary CLI.
"""

from __future__ import annotations

import argparse
import errno
import functools
import os
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

from fedsilo.cli import node_cmd
from fedsilo.cli.main import build_parser, run
from fedsilo.runtime.events import EventLog

ACTIONS = ("kill", "fail-fsync")


def _failing_fsync(fd: object) -> NoReturn:
    raise OSError(errno.EIO, "Input/output error (fsync refused by fedsilo.testing)")


class CrashingEventLog(EventLog):
    """An event log that crashes its process (or its disk) at the first matching event."""

    def __init__(
        self, node: str, at: dict[str, str], then: str, count: int = 1, stream: TextIO | None = None
    ) -> None:
        super().__init__(node, stream)
        if then not in ACTIONS:
            raise ValueError(f"unknown action {then!r}; choose one of {', '.join(ACTIONS)}")
        self._at, self._then, self._left = at, then, count

    def __call__(self, event: str, **fields: object) -> None:
        super().__call__(event, **fields)
        seen = {"event": event, **{k: str(v) for k, v in fields.items()}}
        if self._left <= 0 or any(seen.get(k) != v for k, v in self._at.items()):
            return
        self._left -= 1
        if self._left:
            return
        if self._then == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        os.fsync = _failing_fsync


def _conditions(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--at takes FIELD=VALUE, got {pair!r}")
        out[key] = value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.nodes.crashing_node")
    parser.add_argument("--at", action="append", default=[], help="FIELD=VALUE of the event")
    parser.add_argument("--then", choices=ACTIONS, default="kill")
    parser.add_argument("--count", type=int, default=1, help="act on the N-th matching event")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- aggregator|silo start ...")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    node_args = build_parser().parse_args(command)
    at = _conditions(args.at)
    if node_args.command == "aggregator":
        log = CrashingEventLog("aggregator", at, args.then, args.count)
        node_args.handler = functools.partial(node_cmd.run_aggregator, log=log)
    elif node_args.command == "silo":
        log = CrashingEventLog(f"silo {node_args.name}", at, args.then, args.count)
        node_args.handler = functools.partial(node_cmd.run_silo, log=log)
    else:
        raise SystemExit("crashing_node runs `aggregator start` or `silo start`")
    return run(node_args)


if __name__ == "__main__":
    sys.exit(main())
