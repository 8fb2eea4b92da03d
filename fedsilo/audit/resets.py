"""Epoch-reset files: proposed from the aggregator's state, signed by operators, audited.

The record and its rules are :mod:`fedsilo.protocol.reset`; this module puts
them on disk and in front of people (``fedsilo federation reset ...``).

Layout of the aggregator's state directory (``--state-dir``), as far as resets
read or write it:

* ``rounds/round-NNNNNN.json``: one per completed round, written by the
  aggregator; its ``"chain_head"`` is ``H_r`` in hex. ``H_0`` is the config
  digest, so round 0 has no file;
* ``resets/reset-KKKK.json``: the installed epoch resets, ``KKKK`` their
  ``reset_index`` (from ``0001``), numbered without gaps. Only ``federation
  reset apply`` writes them, each verified first, created exclusively (an
  index is never overwritten) and fsynced. The aggregator serves them
  (:func:`installed_resets`; the latest is the one in force, the earlier ones
  let a silo that catches up count each reset where it was made); each silo
  passes them to :func:`fedsilo.protocol.reset.apply_reset_records`, which
  verifies them against its own config and roster and applies them to its
  ledger before it joins a new session of the failed round.

Silo certificates for verification come from ``--certs DIR`` and count only if
they are the certificates pinned in the config (see :mod:`fedsilo.audit.operators`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path

from fedsilo.audit.config_rules import reset_rules
from fedsilo.audit.operators import operator_identity, silo_roster
from fedsilo.audit.report import AuditReport, RuleResult, Status
from fedsilo.config.model import FederationConfig
from fedsilo.errors import ConfigError, ResetRefusedError, ResetReplayError
from fedsilo.protocol.chain import HEAD_BYTES
from fedsilo.protocol.reset import (
    ResetRecord,
    reset_digest,
    sign_reset,
    verify_operator_signature,
    verify_reset,
    verify_reset_terms,
)
from fedsilo.protocol.roster import Roster, SiloEntry

RESETS_DIR = "resets"
ROUNDS_DIR = "rounds"
_ROUND_FILE = re.compile(r"round-(\d{6})\.json")
_RESET_FILE = re.compile(r"reset-(\d{4,})\.json")


def config_digest_bytes(config: FederationConfig) -> bytes:
    """The raw 32 bytes of the config digest (``H_0``)."""
    return bytes.fromhex(config.digest().removeprefix("sha256:"))


def reset_path(state_dir: Path, reset_index: int) -> Path:
    """Where reset ``reset_index`` is installed: ``STATE_DIR/resets/reset-KKKK.json``."""
    return state_dir / RESETS_DIR / f"reset-{reset_index:04d}.json"


# --- reading ------------------------------------------------------------------------


def load_reset(path: Path) -> ResetRecord:
    """A reset record file; a missing or malformed file is a one-line ConfigError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the reset record {path}: {exc}") from exc
    try:
        return ResetRecord.from_json(text)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def installed_resets(state_dir: Path) -> tuple[ResetRecord, ...]:
    """Every installed reset, in index order (empty when there is no ``resets/``)."""
    directory = state_dir / RESETS_DIR
    if not directory.is_dir():
        return ()
    files = sorted(p for p in directory.iterdir() if _RESET_FILE.fullmatch(p.name))
    records = []
    for index, path in enumerate(files, 1):
        if path.name != reset_path(state_dir, index).name:
            raise ConfigError(
                f"{directory} holds {path.name} where reset-{index:04d}.json was expected: "
                "installed resets are numbered 1, 2, ... without gaps"
            )
        record = load_reset(path)
        if record.reset_index != index:
            raise ConfigError(f"{path} holds reset {record.reset_index}, not reset {index}")
        records.append(record)
    return tuple(records)


def latest_reset(state_dir: Path) -> ResetRecord | None:
    """The reset the aggregator serves to its silos, if any was installed."""
    resets = installed_resets(state_dir)
    return resets[-1] if resets else None


def completed_rounds(state_dir: Path) -> list[int]:
    """The rounds with a ``rounds/round-NNNNNN.json`` record, in order."""
    directory = state_dir / ROUNDS_DIR
    if not directory.is_dir():
        return []
    return sorted(
        int(m.group(1)) for p in directory.iterdir() if (m := _ROUND_FILE.fullmatch(p.name))
    )


def chain_head(config: FederationConfig, state_dir: Path, round_number: int) -> bytes:
    """``H_r`` as the aggregator recorded it (``H_0``: the config digest)."""
    if round_number == 0:
        return config_digest_bytes(config)
    path = state_dir / ROUNDS_DIR / f"round-{round_number:06d}.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(
            f"cannot read the record of round {round_number} ({path}): {exc}"
        ) from exc
    value = record.get("chain_head") if isinstance(record, dict) else None
    try:
        head = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        head = b""
    if len(head) != HEAD_BYTES:
        raise ConfigError(f"{path}: chain_head is not a {HEAD_BYTES}-byte hex chain head")
    return head


# --- proposing, signing, installing --------------------------------------------------


def _require_state_dir(state_dir: Path) -> None:
    if not state_dir.is_dir():
        raise ConfigError(f"no aggregator state directory at {state_dir}")


def _require_failed_round(config: FederationConfig, state_dir: Path, failed_round: int) -> None:
    """``failed_round`` is the aggregator's next round: the one it halted in."""
    last = max(completed_rounds(state_dir), default=0)
    if failed_round < 1 or failed_round > config.training.rounds:
        raise ResetRefusedError(
            f"round {failed_round} is not a round of this federation (1 to "
            f"{config.training.rounds})"
        )
    if failed_round <= last:
        raise ResetRefusedError(
            f"round {failed_round} completed (its chain head is in {state_dir / ROUNDS_DIR}): "
            "a completed round is never reset"
        )
    if failed_round != last + 1:
        raise ResetRefusedError(
            f"round {failed_round} was never reached: the aggregator's last completed round "
            f"is {last}, so only round {last + 1} can have failed"
        )


def propose_reset(config: FederationConfig, state_dir: Path, failed_round: int) -> ResetRecord:
    """The unsigned reset of ``failed_round``, resuming from the head of the round before."""
    _require_state_dir(state_dir)
    _require_failed_round(config, state_dir, failed_round)
    installed = len(installed_resets(state_dir))
    if installed >= config.max_resets:
        raise ResetRefusedError(
            f"max_resets = {config.max_resets} and {installed} reset(s) are installed: this "
            "federation accepts no further epoch reset"
        )
    return ResetRecord.propose(
        config.federation,
        config_digest_bytes(config),
        installed + 1,
        failed_round,
        chain_head(config, state_dir, failed_round - 1),
    )


def sign_reset_file(
    path: Path, config: FederationConfig, key_path: Path, cert_path: Path
) -> tuple[ResetRecord, SiloEntry]:
    """Add the signature of the operator of ``cert_path`` to the reset in ``path``."""
    record = load_reset(path)
    verify_reset_terms(
        record, config.max_resets, config.federation, config_digest_bytes(config)
    )  # never sign a record that could not take effect
    entry, identity = operator_identity(config, key_path, cert_path)
    signed = sign_reset(record, identity, entry.index)
    _write(path, signed.to_json(), replace=True)
    return signed, entry


def install_reset(
    state_dir: Path, record: ResetRecord, config: FederationConfig, roster: Roster
) -> Path:
    """Verify ``record`` and install it as ``resets/reset-KKKK.json``; returns the path."""
    _require_state_dir(state_dir)
    verify_reset(
        record,
        roster,
        config.scheme.threshold,
        config.max_resets,
        config.federation,
        config_digest_bytes(config),
    )
    installed = installed_resets(state_dir)
    if record.reset_index <= len(installed):
        raise ResetReplayError(
            f"reset {record.reset_index} is already installed at "
            f"{reset_path(state_dir, record.reset_index)}: an index is used once"
        )
    if record.reset_index != len(installed) + 1:
        raise ResetRefusedError(
            f"this is reset {record.reset_index}, but {len(installed)} reset(s) are installed: "
            f"the next one is reset {len(installed) + 1}"
        )
    _require_failed_round(config, state_dir, record.failed_round)
    head = chain_head(config, state_dir, record.resume_round)
    if head != record.resume_head:
        raise ResetRefusedError(
            f"the reset resumes from {record.resume_head.hex()[:16]}…, but the aggregator's "
            f"H_{record.resume_round} is {head.hex()[:16]}…: it names another model"
        )
    path = reset_path(state_dir, record.reset_index)
    path.parent.mkdir(exist_ok=True)
    _write(path, record.to_json(), replace=False)
    return path


def _write(path: Path, text: str, replace: bool) -> None:
    """Write ``text`` durably; with ``replace=False`` an existing file is never touched."""
    data = (text + "\n").encode("utf-8")
    try:
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if replace:
                os.replace(temp, path)
            else:
                os.link(temp, path)  # fails if the file exists: an index is never overwritten
        finally:
            with contextlib.suppress(OSError):
                os.unlink(temp)
        _fsync_directory(path.parent)
    except FileExistsError as exc:
        raise ResetReplayError(f"{path} already exists; it is never overwritten") from exc
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- the audit -----------------------------------------------------------------------


def reset_results(
    record: ResetRecord, config: FederationConfig, roster: Roster
) -> list[RuleResult]:
    """One ``reset.signature`` per signer, then the ``reset.record`` verdict (warn or fail)."""
    results = list(reset_rules(config))
    for signature in record.signatures:
        try:
            entry = verify_operator_signature(record, roster, signature)
        except ResetRefusedError as exc:
            name = roster.name(signature.silo) if signature.silo in roster.indices else None
            subject = f"silo {name}" if name else f"silo #{signature.silo}"
            results.append(
                RuleResult(
                    "reset.signature",
                    subject,
                    Status.FAIL,
                    str(exc),
                    "the operator signs again with `fedsilo federation reset sign`",
                )
            )
        else:
            results.append(
                RuleResult(
                    "reset.signature",
                    f"silo {entry.name}",
                    Status.PASS,
                    f"silo {entry.index} signed the reset of round {record.failed_round}",
                )
            )
    results.append(_record_result(record, config, roster))
    return results


def _record_result(record: ResetRecord, config: FederationConfig, roster: Roster) -> RuleResult:
    r = record.failed_round
    try:
        verify_reset(
            record,
            roster,
            config.scheme.threshold,
            config.max_resets,
            config.federation,
            config_digest_bytes(config),
        )
    except ResetRefusedError as exc:
        return RuleResult(
            "reset.record",
            "federation",
            Status.FAIL,
            f"the reset of round {r} may not take effect: {exc}",
            "collect t valid operator signatures, or propose the reset again",
        )
    return RuleResult(
        "reset.record",
        "federation",
        Status.WARN,
        f"reset of round {r}: the aggregator may run round {r} again — one more "
        "differencing sample",
        f"apply it only if every operator accepts that (reset {record.reset_index} of at "
        f"most {config.max_resets}, digest {reset_digest(record).hex()[:16]}…)",
    )


def audit_reset(
    record_path: Path, config: FederationConfig, certs_dir: Path
) -> tuple[ResetRecord, AuditReport]:
    """The verdict on a reset record; an unreadable record or certificate raises."""
    record = load_reset(record_path)
    roster = silo_roster(config, certs_dir)
    report = AuditReport(
        str(record_path),
        config.federation,
        config.digest(),
        tuple(reset_results(record, config, roster)),
    )
    return record, report
