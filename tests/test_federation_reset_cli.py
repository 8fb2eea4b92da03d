"""`fedsilo federation reset`, run as operators run it: separate processes, exit codes, stderr."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cli_helpers import fedsilo
from tests.example_federation import EXAMPLE, SILOS, fresh_copy, halted_in_round_two

HEAD_1 = "ab" * 32


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    fed = tmp_path_factory.mktemp("provisioned") / "fed"
    out = fedsilo("certs", "provision", str(EXAMPLE), "--out", str(fed))
    assert out.returncode == 0, out.stderr
    return fed


@pytest.fixture
def fed(pristine: Path, tmp_path: Path) -> Path:
    return fresh_copy(pristine, tmp_path)


@pytest.fixture
def config(fed: Path) -> str:
    return str(fed / EXAMPLE.name)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """The aggregator completed round 1 (its head H_1 recorded) and halted in round 2."""
    return halted_in_round_two(tmp_path, HEAD_1)


def one_line_error(out: subprocess.CompletedProcess[str], code: int) -> str:
    assert out.returncode == code, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    message = out.stderr.strip()
    assert message.startswith("fedsilo: error: ") and "\n" not in message
    return message


def propose(config: str, state: Path, tmp_path: Path, round_number: int = 2) -> Path:
    path = tmp_path / "reset.json"
    out = fedsilo(
        "federation", "reset", "propose", "--config", config, "--state-dir", str(state),
        "--round", str(round_number), "--out", str(path),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return path


def sign(
    path: Path, fed: Path, config: str, name: str, key_of: str | None = None
) -> subprocess.CompletedProcess[str]:
    key = fed / (key_of or name) / f"{key_of or name}.key"
    cert = fed / name / f"{name}.crt"
    return fedsilo(
        "federation", "reset", "sign", str(path), "--key", str(key), "--cert", str(cert),
        "--config", config,
    )  # fmt: skip


def verify(path: Path, fed: Path, config: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return fedsilo(
        "federation", "reset", "verify", str(path), "--config", config, "--certs", str(fed), *extra
    )


def apply(path: Path, fed: Path, config: str, state: Path) -> subprocess.CompletedProcess[str]:
    return fedsilo(
        "federation", "reset", "apply", str(path), "--config", config, "--certs", str(fed),
        "--state-dir", str(state),
    )  # fmt: skip


def test_a_reset_signed_by_t_operators_is_verified_with_a_warning_and_installed(
    fed: Path, config: str, state: Path, tmp_path: Path
) -> None:
    path = propose(config, state, tmp_path)
    record = json.loads(path.read_text())
    assert (record["failed_round"], record["resume_round"], record["resume_head"]) == (2, 1, HEAD_1)
    assert record["reset_index"] == 1 and record["signatures"] == []
    for name in SILOS[:3]:
        out = sign(path, fed, config, name)
        assert out.returncode == 0, out.stderr
    assert "3 of t = 3 signatures" in out.stdout
    checked = verify(path, fed, config)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert (
        "reset of round 2: the aggregator may run round 2 again — one more differencing sample"
        in checked.stdout
    )
    assert "WARN" in checked.stdout and "verdict: SAFE" in checked.stdout
    installed = apply(path, fed, config, state)
    assert installed.returncode == 0, installed.stderr
    target = state / "resets" / "reset-0001.json"
    assert json.loads(target.read_text()) == json.loads(path.read_text())


def test_the_reset_audit_speaks_json(fed: Path, config: str, state: Path, tmp_path: Path) -> None:
    path = propose(config, state, tmp_path)
    for name in SILOS[:3]:
        sign(path, fed, config, name)
    report = json.loads(verify(path, fed, config, "--json").stdout)
    statuses = {(r["rule"], r["subject"]): r["status"] for r in report["results"]}
    assert statuses[("reset.record", "federation")] == "warn"
    assert statuses[("resets.bounded", "federation")] == "pass"
    assert report["exit_code"] == 0


def test_a_reset_without_t_signatures_fails_verification_and_is_never_installed(
    fed: Path, config: str, state: Path, tmp_path: Path
) -> None:
    path = propose(config, state, tmp_path)
    for name in SILOS[:2]:
        sign(path, fed, config, name)
    checked = verify(path, fed, config)
    assert checked.returncode == 1 and "FAIL" in checked.stdout
    assert "t = 3" in checked.stdout and "Traceback" not in checked.stderr
    message = one_line_error(apply(path, fed, config, state), 1)
    assert "signed by 2 silo operator(s) (st-marys, city-general)" in message
    assert not (state / "resets").exists()


def test_an_installed_reset_is_never_installed_again(
    fed: Path, config: str, state: Path, tmp_path: Path
) -> None:
    path = propose(config, state, tmp_path)
    for name in SILOS[:3]:
        sign(path, fed, config, name)
    assert apply(path, fed, config, state).returncode == 0
    assert "already installed" in one_line_error(apply(path, fed, config, state), 1)
    again = tmp_path / "again.json"
    out = fedsilo(
        "federation", "reset", "propose", "--config", config, "--state-dir", str(state),
        "--round", "2", "--out", str(again),
    )  # fmt: skip
    assert "max_resets = 1" in one_line_error(out, 1)


def test_an_operator_signs_once(fed: Path, config: str, state: Path, tmp_path: Path) -> None:
    path = propose(config, state, tmp_path)
    assert sign(path, fed, config, "st-marys").returncode == 0
    assert "already signed" in one_line_error(sign(path, fed, config, "st-marys"), 1)
    assert len(json.loads(path.read_text())["signatures"]) == 1


def test_a_key_that_does_not_match_the_certificate_is_refused(
    fed: Path, config: str, state: Path, tmp_path: Path
) -> None:
    path = propose(config, state, tmp_path)
    message = one_line_error(sign(path, fed, config, "city-general", key_of="st-marys"), 2)
    assert "is not the key of" in message
    assert json.loads(path.read_text())["signatures"] == []


def test_the_aggregator_cannot_sign_a_reset(
    fed: Path, config: str, state: Path, tmp_path: Path
) -> None:
    path = propose(config, state, tmp_path)
    message = one_line_error(sign(path, fed, config, "neutral-aggregator"), 2)
    assert "only silo operators sign epoch resets" in message


def test_only_the_round_the_aggregator_halted_in_can_be_reset(
    config: str, state: Path, tmp_path: Path
) -> None:
    for round_number, expected in [("1", "completed"), ("3", "never reached")]:
        out = fedsilo(
            "federation", "reset", "propose", "--config", config, "--state-dir", str(state),
            "--round", round_number, "--out", str(tmp_path / f"r{round_number}.json"),
        )  # fmt: skip
        assert expected in one_line_error(out, 1)


def test_a_proposal_never_overwrites_a_file(config: str, state: Path, tmp_path: Path) -> None:
    path = propose(config, state, tmp_path)
    out = fedsilo(
        "federation", "reset", "propose", "--config", config, "--state-dir", str(state),
        "--round", "2", "--out", str(path),
    )  # fmt: skip
    assert "already exists" in one_line_error(out, 2)


def test_a_malformed_record_is_a_one_line_error_naming_the_key(
    fed: Path, config: str, state: Path, tmp_path: Path
) -> None:
    path = propose(config, state, tmp_path)
    record = json.loads(path.read_text())
    record["failed_round"] = "two"
    path.write_text(json.dumps(record))
    for out in (verify(path, fed, config), sign(path, fed, config, "st-marys")):
        assert "failed_round" in one_line_error(out, 2)


def test_an_edited_record_fails_verification_naming_every_signer(
    fed: Path, config: str, state: Path, tmp_path: Path
) -> None:
    path = propose(config, state, tmp_path)
    for name in SILOS[:3]:
        sign(path, fed, config, name)
    record = json.loads(path.read_text())
    record["resume_head"] = "cd" * 32  # resume from another model, keeping the signatures
    path.write_text(json.dumps(record))
    checked = verify(path, fed, config)
    assert checked.returncode == 1
    failing = [line for line in checked.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failing) == 4 and all(f"[silo {n}]" in checked.stdout for n in SILOS[:3])
    assert "does not verify" in one_line_error(apply(path, fed, config, state), 1)


def test_a_missing_state_directory_is_a_one_line_error(config: str, tmp_path: Path) -> None:
    out = fedsilo(
        "federation", "reset", "propose", "--config", config, "--state-dir",
        str(tmp_path / "nowhere"), "--round", "1", "--out", str(tmp_path / "r.json"),
    )  # fmt: skip
    assert "no aggregator state directory" in one_line_error(out, 2)
