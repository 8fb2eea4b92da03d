"""The real aggregator and silo nodes complete rounds over the in-memory transport: the
same nodes, state directories, PKI checks and signed bytes as over mutual TLS, and no
socket anywhere."""

from __future__ import annotations

import io
import socket
import threading
from pathlib import Path

import grpc
import numpy as np
import pytest

from fedsilo.crypto.quantize import Quantizer
from fedsilo.errors import RemoteProtocolError
from fedsilo.pki.files import certificate_der, load_certificate
from fedsilo.pki.trust import TrustStore
from fedsilo.runtime.events import EventLog
from fedsilo.runtime.nodes import AggregatorNode, NodeFiles, SiloRunner
from fedsilo.training.weighted import SLOTS
from fedsilo.transport.calls import JoinRequest
from fedsilo.transport.handlers import AggregatorHandlers
from fedsilo.transport.memory import InMemoryAggregator, InMemoryClient
from fedsilo.transport.server import MAX_MESSAGE_BYTES
from tests.nodes.federation import Federation

SILOS = ["s1", "s2", "s3", "s4"]


class NoSocketError(AssertionError):
    pass


def refuse_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, opening a Python socket, a gRPC server or a gRPC channel (whose C
    core opens its own sockets) fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise NoSocketError("a socket, server or channel was opened")

    monkeypatch.setattr(socket.socket, "__init__", refuse)
    for name in ("server", "secure_channel", "insecure_channel"):
        monkeypatch.setattr(grpc, name, refuse)


def files(fed: Federation, name: str) -> NodeFiles:
    root = fed.root / "fed"
    return NodeFiles(
        fed.config_path,
        root / name / f"{name}.crt",
        root / name / f"{name}.key",
        root / "ca" / "ca.crt",
        root / "ca" / "crl.pem",
    )


def in_memory_aggregator(fed: Federation) -> tuple[AggregatorNode, InMemoryAggregator]:
    """The federation's real aggregator node, served in memory (not started yet)."""
    hubs: list[InMemoryAggregator] = []

    def serve(trust: TrustStore, handlers: AggregatorHandlers) -> InMemoryAggregator:
        hubs.append(InMemoryAggregator(trust, handlers))
        return hubs[0]

    node = AggregatorNode(
        files(fed, "agg"),
        fed.root / "fed",
        fed.root / "agg-state",
        None,
        EventLog("aggregator", io.StringIO()),
        serve=serve,
    )
    return node, hubs[0]


def link_of(hub: InMemoryAggregator, fed: Federation, name: str) -> InMemoryClient:
    """Silo ``name``'s in-memory connection, presenting its own certificate."""
    return hub.client(certificate_der(load_certificate(files(fed, name).cert)))


def run_silo_alone(fed: Federation, name: str) -> SiloRunner:
    """Silo ``name``'s runner, built as it starts (its files, its state directory, its
    scheme's secret checked) against an aggregator that is never started."""
    _, hub = in_memory_aggregator(fed)
    return SiloRunner(
        files(fed, name),
        name,
        fed.root / f"state-{name}",
        EventLog(name, io.StringIO()),
        client=link_of(hub, fed, name),
    )


def run_in_memory(fed: Federation, silos: list[str]) -> tuple[AggregatorNode, dict[str, Exception]]:
    node, hub = in_memory_aggregator(fed)
    node.start()
    errors: dict[str, Exception] = {}

    def silo(name: str) -> None:
        try:
            SiloRunner(
                files(fed, name),
                name,
                fed.root / f"state-{name}",
                EventLog(name, io.StringIO()),
                client=link_of(hub, fed, name),
            ).run()
        except Exception as exc:  # reported by the test
            errors[name] = exc

    threads = [threading.Thread(target=silo, args=(name,), daemon=True) for name in silos]
    for thread in threads:
        thread.start()
    try:
        node.run()
    finally:
        node.stop(grace=0)
        for thread in threads:
            thread.join(60)
    return node, errors


def test_aggregator_and_silo_nodes_complete_two_rounds_in_memory_with_no_socket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fed = Federation.provisioned(tmp_path, silos=4, params=3_000, rounds=2, join=10)
    refuse_sockets(monkeypatch)  # provisioning picked a free port; from here on, none
    node, errors = run_in_memory(fed, SILOS)
    assert node.port == 0
    assert errors == {}
    q = Quantizer(1.0, 1 << 16)
    for round_number in (1, 2):
        record = fed.released(round_number)
        assert record is not None and record["survivors"] == SILOS
        got = q.dequantize_sum(fed.aggregate(round_number), len(SILOS))
        want = fed.expected_sum(SILOS, round_number)
        assert np.abs(got - want).max() <= len(SILOS) * q.step
        weight = int(fed.released_vector(round_number)[-len(SLOTS)])
        assert weight == len(SILOS) * fed.config.training.max_samples


def test_the_in_memory_transport_refuses_what_the_wire_would(tmp_path: Path) -> None:
    """A message above gRPC's limit is refused in memory too, before the aggregator sees it."""
    fed = Federation.provisioned(tmp_path, silos=4, params=3_000, rounds=1, join=10)
    _, hub = in_memory_aggregator(fed)
    client = link_of(hub, fed, "s1")
    huge = JoinRequest("node-test", bytes(MAX_MESSAGE_BYTES), "s1")
    with pytest.raises(RemoteProtocolError, match=r"exceeds the \d+-byte message limit"):
        client.join(huge)
