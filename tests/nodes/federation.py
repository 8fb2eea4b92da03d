"""A provisioned federation on 127.0.0.1 whose nodes run as real processes."""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from fedsilo.audit.events import parse_events
from fedsilo.config.load import load_config
from fedsilo.protocol.events import AuditEvent
from fedsilo.runtime.provisioning import ProvisionedFederation, provision_federation
from fedsilo.testing.configs import write_local_config
from fedsilo.training.synthetic import SyntheticVectorTask
from fedsilo.training.weighted import SLOTS
from tests.nodes.zygote import Zygote, ZygoteProcess

REPO = Path(__file__).resolve().parents[2]
NodeProcess = subprocess.Popen[str] | ZygoteProcess
E = TypeVar("E", bound=AuditEvent)


@functools.cache
def zygote() -> Zygote:
    """The fork server of this test session, started on first use."""
    home = Path(tempfile.mkdtemp(prefix="fedsilo-zygote-"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "GRPC_VERBOSITY": "ERROR"}
    server = Zygote(home, env)
    atexit.register(server.close)
    return server


DEFAULT_TIMEOUTS = {
    "join": 5,
    "advertise_keys": 30,
    "share_keys": 10,
    "masked_input": 10,
    "consistency_check": 10,
    "unmasking": 10,
}


@dataclass
class Federation:
    root: Path
    config_path: Path
    procs: dict[str, NodeProcess] = field(default_factory=dict)

    @classmethod
    def provisioned(cls, root: Path, silos: int, params: int, **kw: float) -> Federation:
        """A federation on 127.0.0.1 with ``rounds`` and the stage timeouts in ``kw``."""
        return cls.provision(root, silos, params, kw)

    @classmethod
    def provision(
        cls,
        root: Path,
        silos: int,
        params: int,
        settings: Mapping[str, float],
        levels: int | None = None,
        options: Mapping[str, object] | None = None,
        release_verification: str | None = None,
    ) -> Federation:
        """:meth:`provisioned`, with the quantizer's ``levels``, task ``options`` and the
        release verification mode too."""
        timeouts = dict(settings)
        template = write_local_config(
            root / "template.yaml",
            federation="node-test",
            silos=silos,
            params=params,
            rounds=int(timeouts.pop("rounds", 1)),
            timeouts=DEFAULT_TIMEOUTS | timeouts,
            levels=levels,
            options=options,
            release_verification=release_verification,
        )
        pinned = provision_federation(template, root / "fed", dt.datetime.now(dt.UTC))
        return cls(root, pinned)

    @property
    def config(self):  # type: ignore[no-untyped-def]
        return load_config(self.config_path)

    @property
    def nodes(self) -> ProvisionedFederation:
        return ProvisionedFederation(self.config_path, self.root / "fed")

    def files(self, name: str) -> list[str]:
        return self.nodes.node_files(name)

    def _spawn(
        self,
        name: str,
        args: list[str],
        env_extra: dict[str, str] | None = None,
        module: str = "fedsilo.cli.main",
    ) -> NodeProcess:
        """Start a node: forked from the zygote (torch already imported), or, when the test
        changes what the interpreter sees at start-up (``env_extra``), a fresh interpreter."""
        # a restarted node appends, so its log keeps what it printed before the crash
        log = self.root / f"{name}.log"
        log.touch()  # exists from the start, whoever opens it
        env = {**os.environ, "GRPC_VERBOSITY": "ERROR", **(env_extra or {})}
        proc: NodeProcess
        if env_extra:
            with log.open("a") as out:  # the child keeps its own copy of the descriptor
                proc = subprocess.Popen(
                    [sys.executable, "-m", module, *args],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    text=True,
                    env=env,
                    cwd=self.root,
                )
        else:
            proc = zygote().spawn(module, args, env, self.root, log)
        self.procs[name] = proc
        return proc

    def start_aggregator(self, env: dict[str, str] | None = None) -> NodeProcess:
        return self._spawn(
            "agg", self.nodes.aggregator_command("agg", self.root / "agg-state"), env
        )

    def start_silo(self, name: str, env: dict[str, str] | None = None) -> NodeProcess:
        return self._spawn(name, self.nodes.silo_command(name, self.root / f"state-{name}"), env)

    def start_crashing(
        self, name: str, at: dict[str, str], then: str = "kill", count: int = 1
    ) -> NodeProcess:
        """Start ``name`` (``agg`` or a silo) so that it crashes (``kill``) or its disk
        fails (``fail-fsync``) right after it logs an event matching ``at``
        (the ``count``-th such event; :mod:`tests.nodes.crashing_node`)."""
        command = (
            self.nodes.aggregator_command("agg", self.root / "agg-state")
            if name == "agg"
            else self.nodes.silo_command(name, self.root / f"state-{name}")
        )
        conditions = [arg for key, value in at.items() for arg in ("--at", f"{key}={value}")]
        kit = [*conditions, "--then", then, "--count", str(count)]
        return self._spawn_kit(name, "crashing_node", kit, command)

    def start_rogue_aggregator(self, attack: str) -> NodeProcess:
        """Start the malicious aggregator of :mod:`tests.nodes.rogue_aggregator`."""
        command = self.nodes.aggregator_command("agg", self.root / "agg-state")
        return self._spawn_kit("agg", "rogue_aggregator", ["--attack", attack], command)

    def _spawn_kit(
        self, name: str, kit: str, kit_args: list[str], command: list[str]
    ) -> NodeProcess:
        return self._spawn(name, [*kit_args, "--", *command], module=f"tests.nodes.{kit}")

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text()

    def events(self, name: str) -> list[dict[str, object]]:
        out = []
        for line in self.log(name).splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def audit(self, name: str) -> list[AuditEvent]:
        """The typed audit events node ``name`` wrote, through the one reader."""
        return parse_events(self.log(name).splitlines())

    def wait_for(self, name: str, kind: type[E], timeout: float = 60, **fields: object) -> E:
        """The first audit event of type ``kind`` node ``name`` wrote with ``fields``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.audit(name):
                if isinstance(event, kind) and all(
                    getattr(event, k) == v for k, v in fields.items()
                ):
                    return event
            time.sleep(0.01)
        raise AssertionError(
            f"{name} never wrote {kind.__name__} {fields}:\n{self.log(name)[-3000:]}"
        )

    def wait_for_event(self, name: str, timeout: float = 60, **match: object) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events(name):
                if all(event.get(k) == v for k, v in match.items()):
                    return event
            time.sleep(0.01)
        raise AssertionError(f"{name} never logged {match}:\n{self.log(name)[-3000:]}")

    def wait(self, name: str, timeout: float = 120) -> int:
        return self.procs[name].wait(timeout)

    def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)

    def released(self, round_number: int = 1) -> dict[str, object] | None:
        path = self.root / "agg-state" / "rounds" / f"round-{round_number:06d}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def released_vector(self, round_number: int = 1) -> np.ndarray:
        """The whole released sum: the weighted deltas, then the integer slots."""
        path = self.root / "agg-state" / "rounds" / f"aggregate-{round_number:06d}.bin"
        return np.frombuffer(path.read_bytes(), dtype="<u4")

    def aggregate(self, round_number: int = 1) -> np.ndarray:
        """The released sum of the (weighted) deltas."""
        return self.released_vector(round_number)[: -len(SLOTS)]

    def expected_sum(self, survivors: list[str], round_number: int = 1) -> np.ndarray:
        task = SyntheticVectorTask(self.config.training)
        total = np.zeros(task.params, dtype=np.float64)
        for silo in survivors:
            total += task.update(silo, round_number)
        return total
