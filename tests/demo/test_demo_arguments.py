"""`fedsilo demo` refuses bad arguments in one line, before it creates anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedsilo.cli.main import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--silos", "2"], "--silos must be between 3 and 12"),
        (["--rounds", "0"], "--rounds must be between 1 and 200"),
        (["--drop", "nobody:2"], "write SILO:ROUND with SILO one of hospital-1"),
        (["--drop", "hospital-1:zero"], "write SILO:ROUND"),
    ],
)
def test_a_bad_demo_argument_is_refused_in_one_line_creating_nothing(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_the_demo_refuses_a_directory_that_is_not_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["demo", "--out", str(tmp_path)]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
