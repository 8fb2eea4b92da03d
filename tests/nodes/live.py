"""An aggregator node served in this process (real gRPC over real mTLS on 127.0.0.1, or
the in-memory transport), silos as threads, and helpers to act as a rogue member."""

from __future__ import annotations

import datetime as dt
import io
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from fedsilo.crypto.entropy import SystemEntropy
from fedsilo.crypto.quantize import Quantizer
from fedsilo.errors import FedsiloError
from fedsilo.pki.files import load_identity_key
from fedsilo.pki.trust import TrustStore
from fedsilo.protocol.chain import genesis
from fedsilo.protocol.ledger import InMemoryLedgerStore, RoundLedger
from fedsilo.protocol.masking.silo import MaskingSilo
from fedsilo.protocol.masking.wire import MaskingWire, SmallSiloMessage
from fedsilo.runtime.chain_store import ChainStore
from fedsilo.runtime.disputes import DisputeStore
from fedsilo.runtime.events import EventLog
from fedsilo.runtime.nodes import AggregatorNode, NodeFiles, SiloRunner
from fedsilo.runtime.session_vault import SessionVault
from fedsilo.runtime.silo import SiloNode
from fedsilo.training.local import LocalTrainer
from fedsilo.training.task import SiloContext
from fedsilo.training.weighted import SLOTS
from fedsilo.transport import codec
from fedsilo.transport.calls import CallContext, StageMessage
from fedsilo.transport.client import AggregatorClient, Backoff
from fedsilo.transport.codec import Announcement
from fedsilo.transport.handlers import AggregatorHandlers
from fedsilo.transport.link import AggregatorLink
from fedsilo.transport.memory import InMemoryAggregator
from fedsilo.transport.roster import trust_store
from tests.nodes.federation import Federation


def framed(message: SmallSiloMessage) -> StageMessage:
    """A masking silo's message as a silo node frames it for the transport."""
    stage, sender, body = MaskingWire().silo_body(message)
    return StageMessage(CallContext.of(message.context, stage, sender), body)


NOW = dt.datetime.now(dt.UTC)
DER = Encoding.DER


TRANSPORTS = ("grpc", "memory")


class LiveFederation:
    def __init__(
        self,
        root: Path,
        silos: int = 5,
        params: int = 20_000,
        rounds: int = 1,
        transport: str = "grpc",
        rogue: Callable[[AggregatorHandlers], AggregatorHandlers] | None = None,
        **timeouts: float,
    ) -> None:
        """``rogue`` wraps the honest aggregator's handlers (in-memory transport only): a
        malicious aggregator that runs the genuine code and changes what it serves."""
        times = {
            "join": 0.5,  # tests drive sessions by hand: open round 1 at once
            "advertise_keys": 3,
            "share_keys": 3,
            "masked_input": 3,
            "consistency_check": 3,
            "unmasking": 3,
        } | timeouts
        self.fed = Federation.provisioned(root, silos=silos, params=params, rounds=rounds, **times)
        self.root = root
        self.log_stream = io.StringIO()
        self.transport = transport
        self.hub: InMemoryAggregator | None = None

        def in_memory(trust: TrustStore, handlers: AggregatorHandlers) -> InMemoryAggregator:
            self.hub = InMemoryAggregator(trust, rogue(handlers) if rogue else handlers)
            return self.hub

        self.node = AggregatorNode(
            self.files("agg"),
            root / "fed",
            root / "agg-state",
            self.fed.config.aggregator.address,
            EventLog("aggregator", self.log_stream),
            serve=in_memory if transport == "memory" else None,
        )
        self.node.start()
        self.error: Exception | None = None
        self.threads: list[threading.Thread] = []
        self.silo_errors: dict[str, Exception] = {}

    @property
    def address(self) -> str:
        return str(self.fed.config.aggregator.address)

    def files(self, name: str) -> NodeFiles:
        fed = self.root / "fed"
        return NodeFiles(
            self.fed.config_path,
            fed / name / f"{name}.crt",
            fed / name / f"{name}.key",
            fed / "ca" / "ca.crt",
            fed / "ca" / "crl.pem",
        )

    def pem(self, name: str) -> tuple[bytes, bytes, bytes]:
        f = self.files(name)
        return f.ca.read_bytes(), f.key.read_bytes(), f.cert.read_bytes()

    def run_rounds(self) -> None:
        def run() -> None:
            try:
                self.node.run()
            except FedsiloError as exc:
                self.error = exc

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.threads.append(thread)
        deadline = time.monotonic() + 10
        while self.node.mailbox.progress is None:
            assert time.monotonic() < deadline, "no session opened"
            time.sleep(0.01)

    def start_silos(self, names: list[str]) -> None:
        for name in names:

            def run(name: str = name) -> None:
                try:
                    SiloRunner(
                        self.files(name),
                        name,
                        self.root / f"state-{name}",
                        EventLog(name, io.StringIO()),
                        client=self.client(name) if self.hub is not None else None,
                    ).run()
                except Exception as exc:
                    self.silo_errors[name] = exc

            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            self.threads.append(thread)

    def client(
        self, name: str | None = None, pems: tuple[bytes, bytes, bytes] | None = None
    ) -> AggregatorLink:
        """A connection for silo ``name`` (or the identity ``pems``) over this federation's
        transport."""
        ca, key, cert = pems or self.pem(name or "s1")
        if self.hub is not None:
            return self.hub.client(x509.load_pem_x509_certificate(cert).public_bytes(DER))
        return AggregatorClient(self.address, ca, key, cert, Backoff(patience=0))

    def finish(self, timeout: float = 60) -> None:
        for thread in self.threads:
            thread.join(timeout)
            assert not thread.is_alive(), "a node did not finish"

    def close(self) -> None:
        self.node.stop(grace=0)

    def announcement(self, client: AggregatorLink, name: str) -> Announcement:
        index = int(name.removeprefix("s"))
        config = self.fed.config
        digest = bytes.fromhex(config.digest()[7:])
        request = CallContext(config.federation, digest, b"", 1, codec.ANNOUNCE_STAGE, index)
        return codec.kept_announcement(client.await_signed(request, 5))

    def rogue_session(self, name: str, announcement: Announcement, seed: int = 0) -> MaskingSilo:
        """A genuine protocol session for ``name``, driven by the test instead of a node."""
        from fedsilo.testing.entropy import SeededEntropy

        service = self.node.mailbox
        params = service.params
        return MaskingSilo(
            context=announcement.context,
            roster=service.roster,
            params=params,
            index=int(name.removeprefix("s")),
            identity=load_identity_key(self.files(name).key),
            entropy=SeededEntropy(name, seed),
            ledger=RoundLedger(
                InMemoryLedgerStore(), genesis(bytes.fromhex(self.fed.config.digest()[7:]))
            ),
            quantized_input=np.zeros(announcement.vector_length, dtype=np.uint32),
        )

    def manual_silo(
        self,
        name: str,
        client: AggregatorLink | None = None,
        crl: Path | None = None,
        state: Path | None = None,
        log: EventLog | None = None,
    ) -> SiloNode:
        """A real silo node for ``name`` that the test drives round by round, with the client
        the test chooses, (with ``crl``) its own CRL file instead of the federation's, and
        (with ``state``) its own state directory."""
        files = self.files(name)
        config = self.fed.config
        trainer = LocalTrainer.for_plan(config.training, SiloContext(name, config.silo_names))
        here = state or self.root / f"manual-{name}"
        return SiloNode(
            config=config,
            name=name,
            identity=load_identity_key(files.key),
            client=client or self.client(name),
            trust=trust_store(config, files.ca, crl or files.crl),
            trainer=trainer,
            ledger=RoundLedger(InMemoryLedgerStore(), genesis(bytes.fromhex(config.digest()[7:]))),
            chain=ChainStore(here, trainer.layout),
            vault=SessionVault(
                here / "sessions",
                load_identity_key(files.key),
                config.federation,
                name,
                SystemEntropy(),
            ),
            log=log or EventLog(name, io.StringIO()),
            disputes=DisputeStore(here / "disputes"),
        )

    def assert_released_exactly(self, survivors: list[str], round_number: int = 1) -> None:
        assert self.error is None, self.error
        record = self.fed.released(round_number)
        assert record is not None and record["survivors"] == survivors
        q = Quantizer(1.0, 1 << 16)
        got = q.dequantize_sum(self.fed.aggregate(round_number), len(survivors))
        want = self.fed.expected_sum(survivors, round_number)
        assert np.abs(got - want).max() <= len(survivors) * q.step
        weight = int(self.fed.released_vector(round_number)[-len(SLOTS)])
        assert weight == len(survivors) * self.fed.config.training.max_samples
