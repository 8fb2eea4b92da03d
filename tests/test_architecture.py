"""The folder layout is the architecture: imports point downward only."""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PROTOCOL = ROOT / "fedsilo" / "protocol"
IO_MODULES = {"grpc", "socket", "time", "logging", "yaml", "torch", "os", "threading", "asyncio"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted(PROTOCOL.rglob("*.py")), ids=lambda p: p.name)
def test_protocol_core_imports_no_io(path: Path) -> None:
    assert imported_roots(path) & IO_MODULES == set()


def test_no_module_imports_pickle_or_marshal() -> None:
    for path in (ROOT / "fedsilo").rglob("*.py"):
        assert imported_roots(path) & {"pickle", "marshal", "dill", "shelve"} == set(), path


def test_import_linter_contracts_hold() -> None:
    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed (it is in the dev extra)")
    result = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-2000:]


def test_no_insecure_channel_or_target_override_outside_the_test_kit() -> None:
    for path in (ROOT / "fedsilo").rglob("*.py"):
        if "testing" in path.relative_to(ROOT / "fedsilo").parts:
            continue
        text = path.read_text()
        assert "insecure_channel" not in text and "ssl_target_name_override" not in text, path


ABOVE_THE_SEAM = ("runtime", "transport", "training", "bench", "demo", "cli")


@pytest.mark.parametrize("package", ABOVE_THE_SEAM)
def test_nothing_above_the_seam_names_the_masking_package(package: str) -> None:
    """The issue's own check, literally: ``grep -rn protocol.masking`` finds nothing there
    (the import contract forbids the import; this also catches strings and lazy imports)."""
    for path in (ROOT / "fedsilo" / package).rglob("*"):
        if path.is_file() and path.suffix in {".py", ".proto", ".pyi", ".sh"}:
            text = path.read_text()
            assert "protocol.masking" not in text and "protocol/masking" not in text, path
