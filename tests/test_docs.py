"""Every Python block and every `fedsilo` command in docs/ and the README runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def python_blocks() -> list[tuple[str, str]]:
    return [
        (f"{doc.name}#{i}", block)
        for doc in DOCS
        for i, block in enumerate(PYTHON_BLOCK.findall(doc.read_text()))
    ]


@pytest.mark.parametrize(("where", "code"), python_blocks(), ids=[w for w, _ in python_blocks()])
def test_python_blocks_in_the_docs_run(where: str, code: str) -> None:
    exec(compile(code, where, "exec"), {"__name__": "__docs__"})


def test_readme_gives_exactly_two_commands_install_and_test() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    assert [b.strip() for b in blocks] == [
        'pip install torch==2.13.0 && pip install -e ".[dev]" && '
        "fedsilo bench --silos 10 --params 1000000",
        "pytest",
    ]


def test_ci_runs_exactly_the_readme_commands() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert (
        'pip install torch==2.13.0 && pip install -e ".[dev]" && '
        "fedsilo bench --silos 10 --params 1000000"
    ) in ci
    assert "\npytest\n" in ci


SHELL_BLOCK = re.compile(r"```sh\n(.*?)```", re.DOTALL)
WALKTHROUGHS = ["pki.md", "auditing.md", "deployment.md"]


@pytest.mark.parametrize("doc", WALKTHROUGHS)
def test_every_command_of_the_walkthrough_runs_in_order(doc: str, tmp_path: Path) -> None:
    import os
    import shutil
    import subprocess
    import sys

    shutil.copytree(ROOT / "federation_configs", tmp_path / "federation_configs")
    script = "\n".join(SHELL_BLOCK.findall((ROOT / "docs" / doc).read_text()))
    assert "fedsilo" in script
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_every_test_the_docs_cite_exists() -> None:
    sources = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("*.py"))
    for doc in DOCS:
        text = doc.read_text()
        for name in re.findall(r"`(test_[a-z0-9_]+)`", text):
            assert f"def {name}(" in sources, f"{doc.name} cites {name}, which does not exist"
        for path in re.findall(r"`(tests/[a-z0-9_/]+\.py)`", text):
            assert (ROOT / path).exists(), f"{doc.name} cites {path}, which does not exist"
