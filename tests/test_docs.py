"""Every Python block and every `fedsilo` command in docs/ and the README runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.walkthrough import INSTALL_AND_RUN, SHELL_BLOCK, run_walkthrough, walkthrough

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
    assert [b.strip() for b in blocks] == [INSTALL_AND_RUN, "pytest"]


def test_ci_runs_exactly_the_readme_commands() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert f"\n{INSTALL_AND_RUN}\n" in ci
    assert "\npytest\n" in ci


# Each walkthrough runs in a fresh directory; the operator guides share one federation,
# the aggregator host's page first. The quickstart's walkthrough runs in tests/demo, where
# its output is checked too.
WALKTHROUGHS = {
    "pki": ["pki.md"],
    "auditing": ["auditing.md"],
    "operators": ["aggregator-host.md", "silo-operator.md"],
}
QUICKSTART = ["quickstart.md"]
OPERATOR_DOCS = ["quickstart.md", "silo-operator.md", "aggregator-host.md", "threat-model.md"]


@pytest.mark.slow
@pytest.mark.parametrize("name", WALKTHROUGHS)
def test_every_command_of_the_walkthrough_runs_in_order(name: str, tmp_path: Path) -> None:
    result = run_walkthrough(WALKTHROUGHS[name], tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def help_exits_cleanly(words: list[str]) -> bool:
    from fedsilo.cli.main import build_parser

    try:
        build_parser().parse_args([*words, "--help"])
    except SystemExit as exit_:
        return exit_.code == 0
    return False


def test_every_fedsilo_command_the_operator_docs_name_exists(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for doc in OPERATOR_DOCS:
        text = (ROOT / "docs" / doc).read_text()
        for command in re.findall(r"`fedsilo ([a-z][a-z-]*(?: [a-z][a-z-]*)?)", text):
            assert help_exits_cleanly(command.split()), (
                f"{doc} names `fedsilo {command}`, which is not a command"
            )
    capsys.readouterr()


def test_every_command_in_the_operator_docs_runs_in_a_walkthrough() -> None:
    executed = "\n".join(walkthrough(docs) for docs in [*WALKTHROUGHS.values(), QUICKSTART])
    for doc in OPERATOR_DOCS:
        for block in SHELL_BLOCK.findall((ROOT / "docs" / doc).read_text()):
            assert block.strip() == INSTALL_AND_RUN or block in executed, doc


def test_every_test_the_docs_cite_exists() -> None:
    sources = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("*.py"))
    for doc in DOCS:
        text = doc.read_text()
        for name in re.findall(r"`(test_[a-z0-9_]+)`", text):
            assert f"def {name}(" in sources, f"{doc.name} cites {name}, which does not exist"
        for path in re.findall(r"`(tests/[a-z0-9_/]+\.py)`", text):
            assert (ROOT / path).exists(), f"{doc.name} cites {path}, which does not exist"


def test_every_test_the_docs_cite_as_evidence_exists() -> None:
    """A security claim in docs/ names the test that backs it; a renamed or deleted test
    would leave the claim unbacked."""
    defined: set[str] = set()
    for path in (ROOT / "tests").rglob("*.py"):
        defined |= set(re.findall(r"def (test_[a-z0-9_]+)\(", path.read_text()))
    for doc in sorted((ROOT / "docs").glob("*.md")):
        cited = set(re.findall(r"`(test_[a-z0-9_]+)`", doc.read_text()))
        assert cited <= defined, (doc.name, sorted(cited - defined))
        if doc.name == "threat-model.md":  # where every claim names its test
            assert len(cited) > 50, "the threat model cites no tests any more"
