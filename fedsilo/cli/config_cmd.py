"""`fedsilo config ...` and `fedsilo audit config`."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from fedsilo.audit.config_audit import audit_config
from fedsilo.audit.config_rules import config_rules
from fedsilo.audit.false_shares import audit_false_share
from fedsilo.audit.report import Status
from fedsilo.config.endorse import EndorsementStatus, check_endorsement, endorse
from fedsilo.config.load import load_config
from fedsilo.config.pin import pin_model
from fedsilo.errors import CryptoError
from fedsilo.pki.files import load_certificate


def _check(args: argparse.Namespace) -> int:
    config = load_config(Path(args.file))
    failed = [r for r in config_rules(config) if r.status is Status.FAIL]
    for r in failed:
        print(f"FAIL {r.rule}: {r.reason} (fix: {r.fix})")
    if failed:
        return 1
    print(f"ok: {args.file} is well formed and passes every config rule ({config.digest()})")
    return 0


def _digest(args: argparse.Namespace) -> int:
    print(load_config(Path(args.file)).digest())
    return 0


def _endorse(args: argparse.Namespace) -> int:
    path = Path(args.file)
    out = endorse(load_config(path), path, Path(args.key), Path(args.cert))
    print(f"endorsement written to {out}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    path = Path(args.file)
    config = load_config(path)
    ca = load_certificate(Path(args.ca)) if args.ca else None
    checks = [check_endorsement(config, path, name, ca) for name in config.member_names]
    for c in checks:
        print(f"{c.status.value.upper():<8} {c.name}: {c.reason}")
    return 0 if all(c.status is EndorsementStatus.VALID for c in checks) else 1


def _pin_layout(args: argparse.Namespace) -> int:
    from fedsilo.runtime.provisioning import model_pins  # noqa: PLC0415  loads torch

    path = Path(args.file)
    config = pin_model(path, model_pins(path))
    print(f"pinned model.layout_sha256 {config.model.layout_sha256} in {path}")
    print(f"pinned model.initial_sha256 {config.model.initial_sha256} in {path}")
    print(f"new config digest {config.digest()}: every member endorses it again")
    return 0


def _audit(args: argparse.Namespace) -> int:
    report = audit_config(
        Path(args.file),
        dt.datetime.now(dt.UTC),
        Path(args.certs) if args.certs else None,
        Path(args.crl) if args.crl else None,
    )
    print(report.as_json() if args.json else report.as_text())
    return report.exit_code


def _false_share(args: argparse.Namespace) -> int:
    config = load_config(Path(args.config))
    try:
        print(audit_false_share(Path(args.file), config, Path(args.certs)))
    except CryptoError as exc:
        print(f"NOT PROVEN: {exc}")
        return 1
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = commands.add_parser("config", help="federation configs").add_subparsers(
        dest="config_command", required=True
    )
    p = config.add_parser("check", help="validate a config and its security rules")
    p.add_argument("file")
    p.set_defaults(handler=_check)
    p = config.add_parser("digest", help="print the canonical digest every party must agree on")
    p.add_argument("file")
    p.set_defaults(handler=_digest)
    p = config.add_parser(
        "pin-layout",
        help="pin the SHA-256 of the task's model layout and initial model into the config",
    )
    p.add_argument("file")
    p.set_defaults(handler=_pin_layout)
    p = config.add_parser("endorse", help="sign the config digest with your certificate key")
    p.add_argument("file")
    p.add_argument("--key", required=True)
    p.add_argument("--cert", required=True)
    p.set_defaults(handler=_endorse)
    p = config.add_parser("verify-endorsements", help="check every member endorsed this config")
    p.add_argument("file")
    p.add_argument("--ca", help="CA certificate to check the endorsers' chains")
    p.set_defaults(handler=_verify)

    audit = commands.add_parser("audit", help="audit a federation").add_subparsers(
        dest="audit_command", required=True
    )
    p = audit.add_parser(
        "config",
        help="verdict per security rule; exit 0 safe, 1 unsafe, 2 unusable, 3 incomplete",
    )
    p.add_argument("file")
    p.add_argument("--certs", help="directory with ca.crt and the members' certificates")
    p.add_argument("--crl", help="the federation's CRL (default: found in --certs)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_audit)
    p = audit.add_parser(
        "false-share",
        help="check a logged false-share evidence against the roster; exit 0 proven, 1 not",
    )
    p.add_argument("file", help="the aggregator's false-share log line, or its evidence")
    p.add_argument("--config", required=True)
    p.add_argument("--certs", required=True, help="directory with the members' certificates")
    p.set_defaults(handler=_false_share)
