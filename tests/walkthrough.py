"""Run the shell blocks of docs pages, in order, in a fresh directory, as a reader would."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
SHELL_BLOCK = re.compile(r"```sh\n(.*?)```", re.DOTALL)
INSTALL_AND_RUN = 'pip install torch==2.13.0 && pip install -e ".[dev]" && fedsilo demo'


def shell_blocks(doc: str) -> list[str]:
    return SHELL_BLOCK.findall((ROOT / "docs" / doc).read_text())


def walkthrough(docs: list[str]) -> str:
    """The pages' shell blocks joined, minus the README's install command (CI runs it)."""
    blocks = [b for doc in docs for b in shell_blocks(doc)]
    return "\n".join(b for b in blocks if b.strip() != INSTALL_AND_RUN)


def run_walkthrough(docs: list[str], directory: Path) -> subprocess.CompletedProcess[str]:
    shutil.copytree(ROOT / "federation_configs", directory / "federation_configs")
    script = walkthrough(docs)
    assert "fedsilo" in script
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
