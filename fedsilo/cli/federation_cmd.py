"""`fedsilo federation reset {propose,sign,verify,apply}`: the audited epoch reset.

A round that can never be unmasked halts the federation; these commands are
the only way on (see :mod:`fedsilo.protocol.reset` and docs/auditing.md).
The aggregator host proposes the reset from its state directory, at least
``t`` silo operators sign it, anyone verifies it, and the host installs it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fedsilo.audit.operators import silo_roster
from fedsilo.audit.resets import (
    audit_reset,
    install_reset,
    load_reset,
    propose_reset,
    sign_reset_file,
)
from fedsilo.config.load import load_config
from fedsilo.errors import ConfigError


def _propose(args: argparse.Namespace) -> int:
    config = load_config(Path(args.config))
    out = Path(args.out)
    record = propose_reset(config, Path(args.state_dir), args.round)
    try:
        with out.open("x", encoding="utf-8") as handle:
            handle.write(record.to_json() + "\n")
    except FileExistsError as exc:
        raise ConfigError(f"{out} already exists; write the proposal to a new file") from exc
    except OSError as exc:
        raise ConfigError(f"cannot write {out}: {exc.strerror}") from exc
    print(
        f"proposed reset {record.reset_index} of round {record.failed_round}, resuming from "
        f"round {record.resume_round} (H_{record.resume_round} = "
        f"{record.resume_head.hex()[:16]}…): {out}"
    )
    print(
        f"it takes effect once t = {config.scheme.threshold} silo operators sign it "
        "(`fedsilo federation reset sign`); each reset is one more differencing sample"
    )
    return 0


def _sign(args: argparse.Namespace) -> int:
    config = load_config(Path(args.config))
    record, entry = sign_reset_file(Path(args.file), config, Path(args.key), Path(args.cert))
    print(
        f"{entry.name} (silo {entry.index}) signed the reset of round {record.failed_round}: "
        f"{len(record.signatures)} of t = {config.scheme.threshold} signatures in {args.file}"
    )
    return 0


def _verify(args: argparse.Namespace) -> int:
    config = load_config(Path(args.config))
    _, report = audit_reset(Path(args.file), config, Path(args.certs))
    print(report.as_json() if args.json else report.as_text())
    return report.exit_code


def _apply(args: argparse.Namespace) -> int:
    config = load_config(Path(args.config))
    record = load_reset(Path(args.file))
    roster = silo_roster(config, Path(args.certs))
    path = install_reset(Path(args.state_dir), record, config, roster)
    print(
        f"installed reset {record.reset_index} of round {record.failed_round} at {path}: "
        f"the aggregator may run round {record.failed_round} again — one more differencing "
        "sample"
    )
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    federation = commands.add_parser(
        "federation", help="federation-wide decisions signed by the silo operators"
    ).add_subparsers(dest="federation_command", required=True)
    reset = federation.add_parser(
        "reset",
        help="the audited epoch reset of a round that can never be unmasked",
        description="Each reset lets the aggregator run a failed round again: one more "
        "differencing sample. It takes effect only when t silo operators sign it, and at "
        "most max_resets times.",
    ).add_subparsers(dest="reset_command", required=True)

    p = reset.add_parser("propose", help="write the unsigned reset of the failed round")
    p.add_argument("--config", required=True)
    p.add_argument("--state-dir", required=True, help="the aggregator's state directory")
    p.add_argument("--round", required=True, type=int, help="the failed round R")
    p.add_argument("--out", required=True, help="the new reset record file")
    p.set_defaults(handler=_propose)

    p = reset.add_parser("sign", help="sign a reset as a silo's operator (writes FILE back)")
    p.add_argument("file")
    p.add_argument("--key", required=True, help="the silo's private key")
    p.add_argument("--cert", required=True, help="the silo's certificate")
    p.add_argument("--config", required=True)
    p.set_defaults(handler=_sign)

    p = reset.add_parser(
        "verify",
        help="one line per signer and a verdict: exit 0 valid (a warning), 1 invalid, 2 unusable",
    )
    p.add_argument("file")
    p.add_argument("--config", required=True)
    p.add_argument("--certs", required=True, help="directory with NAME.crt or NAME/NAME.crt")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_verify)

    p = reset.add_parser(
        "apply", help="verify a reset, then install it in the aggregator's state directory"
    )
    p.add_argument("file")
    p.add_argument("--config", required=True)
    p.add_argument("--certs", required=True, help="directory with NAME.crt or NAME/NAME.crt")
    p.add_argument("--state-dir", required=True, help="the aggregator's state directory")
    p.set_defaults(handler=_apply)
