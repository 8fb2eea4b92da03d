"""Run `fedsilo` as a user does: a separate process, its exit code and its output."""

from __future__ import annotations

import subprocess
import sys


def fedsilo(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fedsilo.cli.main", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
