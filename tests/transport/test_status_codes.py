"""At the transport boundary every error has its own status: a peer's fault is never
INTERNAL, which is kept for the aggregator's own failures."""

from __future__ import annotations

import importlib
import pkgutil

import grpc
import pytest

import fedsilo
from fedsilo.errors import (
    FedsiloError,
    PKIError,
    RemoteProtocolError,
    RosterError,
    SignatureError,
    TooFewSurvivorsError,
)
from fedsilo.transport.server import OWN_FAULTS, status_of


def every_error() -> list[type[FedsiloError]]:
    for module in pkgutil.walk_packages(fedsilo.__path__, "fedsilo."):
        importlib.import_module(module.name)  # so that every subclass is defined
    found, todo = [], [FedsiloError]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.append(sub)
            todo.append(sub)
    return found


@pytest.mark.parametrize("error", every_error(), ids=lambda e: e.__name__)
def test_only_the_aggregators_own_failures_are_internal(error: type[FedsiloError]) -> None:
    code = status_of(error.__new__(error))
    assert (code is grpc.StatusCode.INTERNAL) == issubclass(error, OWN_FAULTS), code


def test_a_peers_faults_get_the_status_that_names_them() -> None:
    assert status_of(SignatureError("x")) is grpc.StatusCode.UNAUTHENTICATED
    assert status_of(PKIError("x")) is grpc.StatusCode.PERMISSION_DENIED
    assert status_of(RosterError("x")) is grpc.StatusCode.PERMISSION_DENIED
    assert status_of(RemoteProtocolError("x")) is grpc.StatusCode.INVALID_ARGUMENT
    assert status_of(TooFewSurvivorsError("x", 1, 3)) is grpc.StatusCode.ABORTED
