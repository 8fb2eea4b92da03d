"""`fedsilo` entry point.

Commands are thin: they parse arguments, call the library and turn a
:class:`~fedsilo.errors.FedsiloError` into a message on stderr and an exit
code. A traceback is only ever shown for a bug, never for a user's mistake.
Exit codes: 0 success, 1 failure or unsafe verdict, 2 unusable input, 3
incomplete audit, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fedsilo import __version__
from fedsilo.cli import (
    bench_cmd,
    certs_cmd,
    config_cmd,
    demo_cmd,
    federation_cmd,
    node_cmd,
    task_cmd,
)
from fedsilo.errors import ConfigError, CryptoError, FedsiloError, PKIError

EXIT_FAILURE = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fedsilo",
        description="Cross-silo secure aggregation: a neutral aggregator learns only the sum.",
    )
    parser.add_argument("--version", action="version", version=f"fedsilo {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    bench_cmd.register(commands)
    certs_cmd.register(commands)
    config_cmd.register(commands)
    demo_cmd.register(commands)
    federation_cmd.register(commands)
    node_cmd.register(commands)
    task_cmd.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run the parsed command's handler; a user's mistake is one line and an exit code."""
    try:
        code: int = args.handler(args)
    except (ConfigError, PKIError, CryptoError) as exc:
        print(f"fedsilo: error: {exc}", file=sys.stderr)
        # the usage code points the operator at their own input: not for what a peer said
        return EXIT_FAILURE if exc.from_peer else EXIT_USAGE
    except FedsiloError as exc:
        print(f"fedsilo: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("fedsilo: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
