"""Who may talk to the aggregator, and to whom a silo listens: one test per case.

Every refused attempt must leave the protocol state exactly as it was
(the session progress is compared before and after).
"""

from __future__ import annotations

import datetime as dt
import io
import socket
import ssl
import tempfile
import threading
from pathlib import Path

import grpc
import h2.config
import h2.connection
import h2.events
import pytest

from fedsilo.errors import (
    ContextMismatchError,
    FedsiloError,
    PKIError,
    RosterError,
    SignatureError,
    TransportError,
)
from fedsilo.pki.ca import CertificateAuthority, init_ca
from fedsilo.pki.files import (
    certificate_der,
    certificate_from_pem,
    certificate_pem,
    crl_pem,
    load_certificate,
    load_csr,
    load_identity_key,
)
from fedsilo.pki.identity import Role
from fedsilo.pki.request import create_request
from fedsilo.protocol.masking.messages import KeyAdvert
from fedsilo.runtime.events import EventLog
from fedsilo.runtime.mailbox import Mailbox
from fedsilo.runtime.nodes import SiloRunner
from fedsilo.transport.calls import JoinRequest
from fedsilo.transport.proto import fedsilo_pb2 as pb
from fedsilo.transport.server import AggregationServicer, build_server, server_credentials
from fedsilo.transport.service import METHODS, SERVICE, AggregationStub
from tests.nodes.live import LiveFederation, framed

NOW = dt.datetime.now(dt.UTC)


def issue(
    live: LiveFederation,
    name: str,
    ca_dir: Path | None = None,
    now: dt.datetime = NOW,
    days: int = 30,
    role: Role = Role.SILO,
) -> tuple[bytes, bytes, bytes]:
    """(ca, key, cert) PEMs of a fresh certificate for ``name``."""
    ca = CertificateAuthority(ca_dir or live.root / "fed" / "ca")
    folder = live.root / f"extra-{name}-{now:%Y%m%d%H%M%S}-{ca.directory.name}"
    extra = {"ip_addresses": ("127.0.0.1",)} if role is Role.AGGREGATOR else {}
    files = create_request(ca.federation, name, role, folder, **extra)
    cert = ca.sign(load_csr(files.csr), now, days)
    return live.pem("s1")[0], files.key.read_bytes(), certificate_pem(cert)


def join(live: LiveFederation, pems: tuple[bytes, bytes, bytes], name: str = "s1") -> None:
    config = live.fed.config
    client = live.client(pems=pems)
    try:
        client.join(JoinRequest(config.federation, bytes.fromhex(config.digest()[7:]), name))
    finally:
        client.close()


# how each refusal reaches the silo: the aggregator's PKIError, or no TLS session at all
REFUSED_BY = {
    PKIError: (grpc.StatusCode.PERMISSION_DENIED, "the aggregator refused: "),
    TransportError: (grpc.StatusCode.UNAVAILABLE, "cannot reach the aggregator: "),
}


def assert_refused(
    live: LiveFederation,
    pems: tuple[bytes, bytes, bytes],
    name: str = "s1",
    error: type[FedsiloError] = PKIError,
) -> str:
    """Joining with ``pems`` raises ``error`` (that class) and changes nothing; returns
    its message."""
    before = live.node.mailbox.progress
    with pytest.raises(error) as caught:
        join(live, pems, name)
    code, prefix = REFUSED_BY[error]
    assert type(caught.value) is error, repr(caught.value)
    assert str(caught.value).startswith(prefix)
    wire = caught.value.__cause__
    assert isinstance(wire, grpc.RpcError) and wire.code() == code, wire
    assert live.node.mailbox.progress == before
    return str(caught.value)


def test_a_genuine_silo_is_accepted(live: LiveFederation) -> None:
    join(live, live.pem("s1"))


def test_a_certificate_from_another_ca_is_refused(live: LiveFederation) -> None:
    init_ca("node-test", live.root / "rogue-ca", NOW)
    assert_refused(live, issue(live, "s1", ca_dir=live.root / "rogue-ca"), error=TransportError)


def test_an_expired_certificate_is_refused(live: LiveFederation) -> None:
    expired = issue(live, "s1", now=NOW - dt.timedelta(days=40), days=30)
    assert_refused(live, expired, error=TransportError)  # by the TLS handshake


def test_a_not_yet_valid_certificate_is_refused(live: LiveFederation) -> None:
    early = issue(live, "s1", now=NOW + dt.timedelta(days=2))
    assert_refused(live, early, error=TransportError)  # by the TLS handshake


def test_a_revoked_certificate_is_refused(live: LiveFederation) -> None:
    ca = CertificateAuthority(live.root / "fed" / "ca")
    cert = load_certificate(live.files("s1").cert)
    ca.revoke(f"{cert.serial_number:x}", NOW)
    live.files("s1").crl.write_bytes(crl_pem(ca.crl(NOW)))  # reloaded because the file changed
    assert "revoked" in assert_refused(live, live.pem("s1"))


def test_a_stale_crl_fails_closed(live: LiveFederation) -> None:
    ca = CertificateAuthority(live.root / "fed" / "ca")
    live.files("s1").crl.write_bytes(crl_pem(ca.crl(NOW - dt.timedelta(days=10), days=1)))
    assert "stale" in assert_refused(live, live.pem("s1"))


def test_a_valid_certificate_whose_name_is_not_on_the_roster_is_refused(
    live: LiveFederation,
) -> None:
    assert "roster" in assert_refused(live, issue(live, "intruder"), name="intruder")


def test_a_certificate_other_than_the_pinned_one_is_refused(live: LiveFederation) -> None:
    assert "pinned" in assert_refused(live, issue(live, "s1"))


def test_the_ca_certificate_presented_as_a_leaf_is_refused(live: LiveFederation) -> None:
    ca_dir = live.root / "fed" / "ca"
    pems = (live.pem("s1")[0], (ca_dir / "ca.key").read_bytes(), (ca_dir / "ca.crt").read_bytes())
    assert_refused(live, pems, error=TransportError)  # no TLS session starts


def test_a_client_without_a_certificate_cannot_connect(live: LiveFederation) -> None:
    before = live.node.mailbox.progress
    credentials = grpc.ssl_channel_credentials(live.pem("s1")[0])
    with (
        grpc.secure_channel(live.address, credentials) as channel,
        pytest.raises(grpc.RpcError) as caught,
    ):
        stub = AggregationStub(channel)
        stub.Join(pb.JoinRequest(name="s1"), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert live.node.mailbox.progress == before


def test_a_silo_sending_messages_in_another_silos_name_is_refused(live: LiveFederation) -> None:
    client = live.client("s1")
    announcement = live.announcement(client, "s1")
    advert = live.rogue_session("s2", announcement).start()[0]  # silo 2's advert...
    assert isinstance(advert, KeyAdvert)
    before = live.node.mailbox.progress
    with pytest.raises(RosterError) as caught:
        client.submit(framed(advert))  # ...sent over silo 1's connection
    assert type(caught.value) is RosterError
    assert str(caught.value).startswith("the aggregator refused: ")
    assert "in the name of" in str(caught.value)
    wire = caught.value.__cause__
    assert isinstance(wire, grpc.RpcError) and wire.code() == grpc.StatusCode.PERMISSION_DENIED
    assert live.node.mailbox.progress == before
    client.close()


def rogue_aggregator(
    live: LiveFederation, send_pinned_certificate: bool
) -> tuple[grpc.Server, Mailbox]:
    """An aggregator with a valid certificate from the federation CA, but not the pinned one."""
    ca_pem, key_pem, cert_pem = issue(live, "agg", role=Role.AGGREGATOR)
    key_path = live.root / "rogue-agg.key"
    key_path.write_bytes(key_pem)
    node = live.node
    live.close()  # the genuine aggregator steps away; the rogue takes its address
    genuine = certificate_der(load_certificate(live.files("agg").cert))
    service = Mailbox(
        config=node.config,
        roster=node.mailbox.roster,
        params=node.mailbox.params,
        identity=load_identity_key(key_path),
        certificate_der=genuine
        if send_pinned_certificate
        else certificate_der(certificate_from_pem(cert_pem)),
        silo_certificates=[
            certificate_der(load_certificate(live.files(s.name).cert)) for s in node.config.silos
        ],
        model_layout=node.trainer.layout.document(),
        log=EventLog("rogue", io.StringIO()),
    )
    server, _ = build_server(
        AggregationServicer(node.trust, service),
        live.address,
        server_credentials(key_pem, cert_pem, ca_pem),
        workers=8,
    )
    server.start()
    return server, service


def test_silos_refuse_an_aggregator_whose_valid_certificate_is_not_the_pinned_one(
    live: LiveFederation,
) -> None:
    server, _ = rogue_aggregator(live, send_pinned_certificate=False)
    try:
        runner = SiloRunner(
            live.files("s1"), "s1", live.root / "state-s1", EventLog("s1", io.StringIO())
        )
        with pytest.raises(PKIError, match="pinned"):
            runner.node.connect()
        runner.client.close()
    finally:
        server.stop(0)


def test_silos_refuse_a_rogue_aggregator_that_relays_the_pinned_certificate(
    live: LiveFederation,
) -> None:
    server, service = rogue_aggregator(live, send_pinned_certificate=True)
    from fedsilo.runtime.driver import RoundDriver
    from fedsilo.runtime.rounds import RoundPlan

    driver = RoundDriver(service, config=live.node.config, log=EventLog("rogue", io.StringIO()))
    thread = threading.Thread(
        target=lambda: driver.run_round(RoundPlan(1, bytes(4 * 20_000), 20_000)), daemon=True
    )
    thread.start()
    try:
        runner = SiloRunner(
            live.files("s1"), "s1", live.root / "state-s1", EventLog("s1", io.StringIO())
        )
        runner.node.connect()  # the relayed certificate is the pinned one...
        with pytest.raises(SignatureError, match="pinned key"):
            runner.node.run_round(1)  # ...but its signatures are not
        runner.client.close()
    finally:
        service.stop()
        server.stop(0)


def test_a_silo_running_another_config_digest_is_refused_naming_both(live: LiveFederation) -> None:
    config = live.fed.config
    other = "ab" * 32
    client = live.client("s1")
    before = live.node.mailbox.progress
    with pytest.raises(ContextMismatchError) as caught:  # that class, not a TransportError
        client.join(JoinRequest(config.federation, bytes.fromhex(other), "s1"))
    assert type(caught.value) is ContextMismatchError
    message = str(caught.value)
    assert message.startswith("the aggregator refused: config digest mismatch: ")
    assert f"sha256:{other}" in message and config.digest() in message
    wire = caught.value.__cause__
    assert isinstance(wire, grpc.RpcError) and wire.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert live.node.mailbox.progress == before
    client.close()


def call_over_tls12(live: LiveFederation, method: str, request: bytes) -> dict[str, str]:
    """One gRPC call by a client that speaks at most TLS 1.2 (with a genuine roster
    certificate); returns the response's trailers (or headers of a trailers-only reply)."""
    ca, key, cert = live.pem("s1")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tls.maximum_version = ssl.TLSVersion.TLSv1_2
    tls.set_alpn_protocols(["h2"])
    tls.load_verify_locations(cadata=ca.decode())
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "key.pem").write_bytes(key)
        Path(tmp, "cert.pem").write_bytes(cert)
        tls.load_cert_chain(Path(tmp, "cert.pem"), Path(tmp, "key.pem"))
    host, port = live.address.rsplit(":", 1)
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        tls.wrap_socket(raw, server_hostname=host) as conn,
    ):
        assert conn.version() == "TLSv1.2"  # the server's TLS stack negotiates it
        h2c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        h2c.initiate_connection()
        h2c.send_headers(
            1,
            [
                (":method", "POST"),
                (":scheme", "https"),
                (":path", f"/{SERVICE}/{method}"),
                (":authority", live.address),
                ("content-type", "application/grpc"),
                ("te", "trailers"),
            ],
        )
        h2c.send_data(1, b"\x00" + len(request).to_bytes(4, "big") + request, end_stream=True)
        conn.sendall(h2c.data_to_send())
        fields: dict[str, str] = {}
        while True:
            data = conn.recv(65536)
            if not data:
                return fields
            for event in h2c.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived | h2.events.TrailersReceived):
                    fields |= {k.decode(): v.decode() for k, v in event.headers}
                if isinstance(event, h2.events.StreamEnded | h2.events.StreamReset):
                    return fields
            conn.sendall(h2c.data_to_send())


@pytest.mark.parametrize("method", [m.name for m in METHODS])
def test_a_tls_1_2_client_with_a_genuine_certificate_is_refused_on_every_call(
    live: LiveFederation, method: str
) -> None:
    before = live.node.mailbox.progress
    request = next(m for m in METHODS if m.name == method).request()
    trailers = call_over_tls12(live, method, request.SerializeToString())
    assert trailers.get("grpc-status") == str(grpc.StatusCode.PERMISSION_DENIED.value[0])
    assert "not TLS 1.3" in trailers.get("grpc-message", "")
    assert live.node.mailbox.progress == before
