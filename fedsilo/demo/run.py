"""Run the demo federation: separate node processes over mutual TLS, live progress, a table.

The aggregator and every silo are their own OS processes (``fedsilo aggregator
start`` / ``fedsilo silo start``) talking gRPC over mutual TLS on 127.0.0.1,
exactly as in a deployment. Progress comes from their structured logs. When
the rounds are done, the demo trains the same model centrally and on each
silo alone (possible only because the data is public) and compares.
Interrupting the demo stops every process it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from fedsilo.audit.events import EventTail
from fedsilo.config.load import load_config
from fedsilo.demo.workspace import Workspace
from fedsilo.errors import FedsiloError
from fedsilo.protocol.events import (
    AuditEvent,
    RoundAborted,
    RoundCompleted,
    RoundFinalized,
    RoundOpened,
    StageAnswered,
)
from fedsilo.runtime.state import MODEL_FILE
from fedsilo.tensors import flatten
from fedsilo.training.checkpoint import load_checkpoint
from fedsilo.training.local import LocalTrainer
from fedsilo.training.reference import Baselines, baselines, evaluate_model
from fedsilo.training.task import Evaluation

STOP_GRACE_SECONDS = 3.0


@dataclass
class Nodes:
    """The processes the demo started (and must stop)."""

    space: Workspace
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, args: list[str]) -> None:
        log = open(self.space.logs / f"{name}.log", "wb")  # noqa: SIM115  owned by the child
        self.procs[name] = subprocess.Popen(  # noqa: S603  our own CLI, fixed arguments
            [sys.executable, "-m", "fedsilo.cli.main", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "GRPC_VERBOSITY": "ERROR"},
        )
        log.close()

    def start_all(self) -> None:
        nodes = self.space.nodes
        for name in self.space.silos:  # silos first: they wait for the aggregator
            self.start(name, nodes.silo_command(name, self.space.root / "silo-state" / name))
        self.start(
            "aggregator", nodes.aggregator_command("aggregator", self.space.aggregator_state)
        )

    def alive(self) -> list[str]:
        return [n for n in self.space.silos if self.procs[n].poll() is None]

    def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait()

    def wait_silos(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for name in self.space.silos:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.procs[name].wait(max(0.0, deadline - time.monotonic()))

    def stop_all(self) -> None:
        """SIGTERM everything still running, then SIGKILL what did not stop."""
        running = [p for p in self.procs.values() if p.poll() is None]
        for proc in running:
            proc.terminate()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for proc in running:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class Progress:
    """What the display shows, updated from the aggregator's events."""

    rounds: int
    silos: tuple[str, ...]
    round: int = 0
    stage: str = "starting"

    def update(self, event: AuditEvent) -> bool:
        """Apply one event; True when it says a round's global model was written."""
        if isinstance(event, RoundOpened):
            self.round, self.stage = event.round, "opened"
        elif isinstance(event, StageAnswered):
            self.stage = event.stage
        elif isinstance(event, RoundAborted):
            self.stage = "aborted"
        elif isinstance(event, RoundCompleted):
            self.stage = "round done"
            return True
        return False


@dataclass(frozen=True)
class DemoResult:
    space: Workspace
    seconds: float
    federated: Evaluation
    baselines: Baselines
    absences: dict[str, list[int]]
    rounds: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 1),
            "federated_accuracy": self.federated.accuracy,
            "central_accuracy": self.baselines.central.accuracy,
            "alone_accuracy": {k: v.accuracy for k, v in self.baselines.alone.items()},
            "mean_alone_accuracy": self.baselines.mean_alone,
            "test_examples": self.federated.examples,
            "absences": self.absences,
            "rounds": self.rounds,
            "model": str(self.space.aggregator_state / MODEL_FILE),
            "config": str(self.space.config),
            "logs": str(self.space.logs),
        }


def _status(progress: Progress, nodes: Nodes, started: float) -> str:
    return (
        f"round {progress.round}/{progress.rounds} | stage {progress.stage} | "
        f"silos alive {len(nodes.alive())}/{len(progress.silos)} | "
        f"{time.monotonic() - started:5.1f} s"
    )


def _round_line(space: Workspace, done: AuditEvent) -> str:
    record = json.loads(
        (space.aggregator_state / "rounds" / f"round-{done.round:06d}.json").read_text()
    )
    evaluation = record["evaluation"]
    accuracy = (
        f"{evaluation['correct'] / evaluation['examples']:.3f}" if evaluation["examples"] else "-"
    )
    missing = [s for s in space.silos if s not in record["survivors"]]
    note = f", without {', '.join(missing)}" if missing else ""
    return (
        f"round {record['round']}: {len(record['survivors'])} silos summed{note}; "
        f"federated evaluation of the round-{evaluation['model_of_round']} model: {accuracy}"
    )


@dataclass
class SiloDrop:
    """A silo to kill before it can take part in ``round``: as soon as it logs that the
    previous round is final for it (its masked input for ``round`` is several stages away)."""

    name: str
    round: int
    tail: EventTail

    def due(self) -> bool:
        if self.round <= 1:
            return True
        return any(
            isinstance(e, RoundFinalized) and e.round == self.round - 1 for e in self.tail.events()
        )


class Display:
    """Round lines that stay, and (on a terminal) one status line that updates in place."""

    def __init__(self, out: TextIO, interactive: bool) -> None:
        self.out, self.interactive = out, interactive

    def line(self, text: str) -> None:
        print(("\r\033[K" if self.interactive else "") + text, file=self.out, flush=True)

    def status(self, text: str) -> None:
        if self.interactive:
            print("\r\033[K" + text, end="", file=self.out, flush=True)

    def clear(self) -> None:
        if self.interactive:
            print("\r\033[K", end="", file=self.out, flush=True)


def run_federation(
    space: Workspace, drop: Mapping[str, int], out: TextIO, interactive: bool
) -> float:
    """Start every node, follow the rounds, kill silos as ``drop`` says; returns seconds."""
    progress = Progress(load_config(space.config).training.rounds, space.silos)
    tail = EventTail(space.logs / "aggregator.log")
    display = Display(out, interactive)
    nodes = Nodes(space)
    started = time.monotonic()
    drops = {
        name: SiloDrop(name, at, EventTail(space.logs / f"{name}.log")) for name, at in drop.items()
    }
    try:
        nodes.start_all()
        aggregator = nodes.procs["aggregator"]
        ticks = 0
        while aggregator.poll() is None:
            for name, pending in list(drops.items()):
                if pending.due():
                    nodes.kill(name)
                    del drops[name]
                    display.line(f"killed {name} (SIGKILL) before round {pending.round}")
            ticks += 1
            if ticks % 5 == 0:  # the display every 0.1 s; dropouts are watched every 20 ms
                for event in tail.events():
                    if progress.update(event):
                        display.line(_round_line(space, event))
                display.status(_status(progress, nodes, started))
            time.sleep(0.02)
        for event in tail.events():  # the last rounds' events
            if progress.update(event):
                display.line(_round_line(space, event))
        display.clear()
        if aggregator.returncode != 0:
            raise FedsiloError(
                f"the aggregator stopped with exit code {aggregator.returncode}: "
                f"{_last_error(space.logs / 'aggregator.log')} (logs in {space.logs})"
            )
        nodes.wait_silos(10.0)  # silos exit once they hold the last round's sum
        return time.monotonic() - started
    finally:
        nodes.stop_all()


def _last_error(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("fedsilo: error:"):
            return line.removeprefix("fedsilo: error:").strip()
    return lines[-1] if lines else "no output"


def absences(space: Workspace, rounds: int) -> dict[str, list[int]]:
    """For each silo, the rounds whose released sum it was not part of."""
    out: dict[str, list[int]] = {}
    for r in range(1, rounds + 1):
        record = json.loads((space.aggregator_state / "rounds" / f"round-{r:06d}.json").read_text())
        for name in space.silos:
            if name not in record["survivors"]:
                out.setdefault(name, []).append(r)
    return out


def summarize(space: Workspace, seconds: float) -> DemoResult:
    config = load_config(space.config)
    plan = config.training
    trainer = LocalTrainer.for_plan(plan)
    final = flatten(load_checkpoint(space.aggregator_state / MODEL_FILE), trainer.layout)
    federated = evaluate_model(plan, space.silos, final)
    rounds = [
        json.loads((space.aggregator_state / "rounds" / f"round-{r:06d}.json").read_text())
        for r in range(1, plan.rounds + 1)
    ]
    result = DemoResult(
        space,
        seconds,
        federated,
        baselines(plan, space.silos),
        absences(space, plan.rounds),
        rounds,
    )
    (space.root / "summary.json").write_text(json.dumps(result.as_dict(), indent=2))
    return result


def table(result: DemoResult, task_is_synthetic: bool) -> str:
    b = result.baselines
    rows = [
        ("federated, secure aggregation", result.federated.accuracy),
        ("trained centrally on pooled data", b.central.accuracy),
        *((f"{name} alone", e.accuracy) for name, e in b.alone.items()),
        ("mean of the silos alone", b.mean_alone),
    ]
    width = max(len(r[0]) for r in rows)
    data = " (synthetic data)" if task_is_synthetic else ""
    lines = [
        f"accuracy on the silos' pooled held-out data ({result.federated.examples} "
        f"examples){data}:",
        *(f"  {label:<{width}}  {value:.3f}" for label, value in rows),
    ]
    if result.absences:
        for name, missing in result.absences.items():
            lines.append(
                f"dropped: {name} in round {missing[0]} (absent from rounds "
                f"{', '.join(map(str, missing))}); the others went on without it"
            )
    else:
        lines.append("dropouts: none")
    lines += [
        f"finished {len(result.rounds)} rounds in {result.seconds:.1f} s",
        f"global model: {result.space.aggregator_state / MODEL_FILE}",
        f"config:       {result.space.config}",
        f"logs:         {result.space.logs}",
        f"summary:      {result.space.root / 'summary.json'}",
    ]
    return "\n".join(lines)
