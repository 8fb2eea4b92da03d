"""Exit codes: a user's own bad input is the usage code; what a peer refused is not."""

from __future__ import annotations

import argparse

import grpc
import pytest

from fedsilo.cli.main import EXIT_FAILURE, EXIT_USAGE, run
from fedsilo.errors import FedsiloError, PKIError
from fedsilo.transport.status import ERROR_KEY, error_of


def raising(error: FedsiloError) -> argparse.Namespace:
    def handler(args: argparse.Namespace) -> int:
        raise error

    return argparse.Namespace(handler=handler)


def test_a_bad_certificate_of_ones_own_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(raising(PKIError("silo.crt is expired"))) == EXIT_USAGE
    assert capsys.readouterr().err == "fedsilo: error: silo.crt is expired\n"


def test_a_certificate_error_the_aggregator_reported_is_a_failure_not_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    relayed = error_of(grpc.StatusCode.PERMISSION_DENIED, "revoked", [(ERROR_KEY, "pki")])
    assert isinstance(relayed, PKIError)
    assert run(raising(relayed)) == EXIT_FAILURE
    assert capsys.readouterr().err == "fedsilo: error: the aggregator refused: revoked\n"
