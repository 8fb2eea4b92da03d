"""A fork server for the node processes of the tests.

Every node process pays about 3 s of CPU importing torch before it does
anything, and a test federation starts six or more of them on two cores.
The zygote imports the heavy modules once and forks each node from that
state: every node is still its own OS process, running exactly what
``python -m fedsilo.cli.main ...`` runs (``runpy``, fresh ``__main__``), with
its own environment, working directory and log file, and it can be signalled
and ``kill -9``-ed like any other. Nothing that starts threads or opens
sockets (gRPC, torch kernels) runs before the fork.

The zygote serves one JSON request per connection on a Unix socket:
``{"op": "spawn", "module", "argv", "env", "cwd", "log"}`` answers
``{"pid"}``; ``{"op": "status", "pid"}`` answers ``{"returncode"}`` (``None``
while running, ``-N`` when killed by signal N, as :mod:`subprocess` reports).
It exits when the test process that started it goes away.
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

PRELOAD = (
    "numpy",
    "torch",
    "fedsilo.training.local",
    "fedsilo.training.chain_step",
    "fedsilo.training.checkpoint",
    "fedsilo.training.synthetic",
    "fedsilo.config.load",
    "fedsilo.protocol.masking.silo",
    "fedsilo.protocol.masking.aggregator",
)


def _request(path: Path, message: dict[str, Any]) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(str(path))
        conn.sendall(json.dumps(message).encode() + b"\n")
        return _read(conn)


class ZygoteProcess:
    """A node forked by the zygote, with the part of :class:`subprocess.Popen` tests use."""

    def __init__(self, zygote: Zygote, pid: int) -> None:
        self._zygote, self.pid = zygote, pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._zygote.status(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
            time.sleep(0.02)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Zygote:
    """The test process's handle on its zygote (started on first use)."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.socket = root / "zygote.sock"
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.nodes.zygote", str(self.socket), str(os.getpid())],
            env=env,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while not self.socket.exists():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the test zygote did not start")
            time.sleep(0.05)
        self._lock = threading.Lock()

    def spawn(
        self, module: str, argv: list[str], env: dict[str, str], cwd: Path, log: Path
    ) -> ZygoteProcess:
        with self._lock:
            reply = _request(
                self.socket,
                {
                    "op": "spawn",
                    "module": module,
                    "argv": argv,
                    "env": env,
                    "cwd": str(cwd),
                    "log": str(log),
                },
            )
        return ZygoteProcess(self, int(reply["pid"]))

    def status(self, pid: int) -> int | None:
        with self._lock:
            code = _request(self.socket, {"op": "status", "pid": pid})["returncode"]
        return None if code is None else int(code)

    def close(self) -> None:
        self._proc.kill()
        self._proc.wait(10)


# --- the zygote process itself ----------------------------------------------------------


def _child(request: dict[str, Any]) -> None:
    """In the forked child: become the node process the request describes, then exit."""
    code = 1
    try:
        os.setpgrp()
        fd = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        for name in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(name, signal.SIG_DFL)
        sys.argv = [request["module"], *request["argv"]]
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # a node's crash is reported as its exit code
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _returncode(status: int) -> int:
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _read(conn: socket.socket) -> dict[str, Any]:
    data = b""
    while not data.endswith(b"\n"):
        part = conn.recv(1 << 20)
        if not part:
            break
        data += part
    return json.loads(data)  # type: ignore[no-any-return]


def _fork(listener: socket.socket, conn: socket.socket, request: dict[str, Any]) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        listener.close()
        conn.close()
        _child(request)
    return pid


def _kill_children() -> None:
    """The tests are gone: take every node we forked with us."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                if int(stat.read().rsplit(")", 1)[1].split()[1]) == os.getpid():
                    os.kill(int(entry), signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            continue


def serve(path: Path, parent: int) -> None:
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    assert threading.active_count() == 1, "nothing may start a thread before the fork"
    finished: dict[int, int] = {}
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path) + ".tmp")
    os.rename(str(path) + ".tmp", path)
    listener.listen(64)
    listener.settimeout(1.0)
    while os.getppid() == parent:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        with conn:
            conn.settimeout(None)
            request = _read(conn)
            reply: dict[str, Any]
            if request["op"] == "spawn":
                reply = {"pid": _fork(listener, conn, request)}
            else:
                pid = int(request["pid"])
                if pid not in finished:
                    done, status = os.waitpid(pid, os.WNOHANG)
                    if done:
                        finished[pid] = _returncode(status)
                reply = {"returncode": finished.get(pid)}
            conn.sendall(json.dumps(reply).encode() + b"\n")
    _kill_children()


if __name__ == "__main__":
    serve(Path(sys.argv[1]), int(sys.argv[2]))
