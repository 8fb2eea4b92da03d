"""The two nodes built from files: what `fedsilo aggregator start` and `silo start` run."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fedsilo.audit.config_rules import config_rules
from fedsilo.audit.report import Status
from fedsilo.config.endorse import require_endorsements
from fedsilo.config.load import load_config
from fedsilo.config.model import FederationConfig
from fedsilo.crypto.signatures import VerifyingKey
from fedsilo.errors import ConfigError, FedsiloError
from fedsilo.pki.files import certificate_der, load_certificate, load_identity_key
from fedsilo.pki.identity import Role
from fedsilo.pki.trust import TrustStore
from fedsilo.protocol.roster import Roster, SiloEntry
from fedsilo.runtime.aggregator import AggregatorService
from fedsilo.runtime.events import EventLog
from fedsilo.runtime.ledger import FileUnmaskLedger
from fedsilo.runtime.memory import return_large_buffers_to_the_os
from fedsilo.runtime.rounds import RoundPlan
from fedsilo.runtime.silo import SiloNode, masking_params
from fedsilo.runtime.state import AggregatorState
from fedsilo.training.task import load_task
from fedsilo.transport.client import AggregatorClient, Backoff
from fedsilo.transport.roster import trust_store
from fedsilo.transport.server import AggregationServicer, build_server, server_credentials


@dataclass(frozen=True)
class NodeFiles:
    """The files every node needs: the config and its own identity, the CA and the CRL."""

    config: Path
    cert: Path
    key: Path
    ca: Path
    crl: Path


def load_checked_config(files: NodeFiles) -> FederationConfig:
    """The config, refused unless every security rule passes and every member endorsed it."""
    config = load_config(files.config)
    failed = [f"{r.rule}: {r.reason}" for r in config_rules(config) if r.status is Status.FAIL]
    if failed:
        raise ConfigError(f"{files.config} is unsafe; refusing to run: " + "; ".join(failed))
    require_endorsements(config, files.config, load_certificate(files.ca))
    return config


def _member_certificate(certs_dir: Path, name: str) -> Path:
    for path in (certs_dir / f"{name}.crt", certs_dir / name / f"{name}.crt"):
        if path.is_file():
            return path
    raise ConfigError(f"no certificate for {name} in {certs_dir} (NAME.crt or NAME/NAME.crt)")


class AggregatorNode:
    """The aggregator: serves silos over mTLS and runs the configured rounds."""

    def __init__(
        self, files: NodeFiles, certs_dir: Path, state_dir: Path, listen: str | None, log: EventLog
    ) -> None:
        self.config = load_checked_config(files)
        return_large_buffers_to_the_os()
        self.trust: TrustStore = trust_store(self.config, files.ca, files.crl)
        cert = load_certificate(files.cert)
        self.trust.verify(cert, Role.AGGREGATOR)
        silo_certs = [
            load_certificate(_member_certificate(certs_dir, s.name)) for s in self.config.silos
        ]
        for silo_cert in silo_certs:
            self.trust.verify(silo_cert, Role.SILO)
        roster = Roster(
            tuple(
                SiloEntry(i, s.name, VerifyingKey.from_public_key(c.public_key()))
                for i, (s, c) in enumerate(zip(self.config.silos, silo_certs, strict=True), 1)
            )
        )
        self.log = log
        self.service = AggregatorService(
            config=self.config,
            roster=roster,
            params=masking_params(self.config),
            identity=load_identity_key(files.key),
            certificate_der=certificate_der(cert),
            silo_certificates=[certificate_der(c) for c in silo_certs],
            log=log,
        )
        self.state = AggregatorState(state_dir)
        credentials = server_credentials(
            files.key.read_bytes(), files.cert.read_bytes(), files.ca.read_bytes()
        )
        address = listen or self.config.aggregator.address
        self.server, self.port = build_server(
            AggregationServicer(self.trust, self.service),
            address,
            credentials,
            workers=3 * len(self.config.silos) + 8,
        )

    def start(self) -> None:
        self.server.start()
        self.log("listening", port=self.port)

    def run(self) -> None:
        """Run every configured round not yet completed; raises if a round is aborted."""
        task = load_task(self.config.training)
        model = task.initial_model()
        if self.state.completed_rounds():
            saved = self.state.model(len(model))
            model = model if saved is None else saved
        done = self.state.completed_rounds()
        quantizer = self.service.params.quantizer
        for round_number in range((done[-1] + 1) if done else 1, self.config.training.rounds + 1):
            plan = RoundPlan(round_number, model.astype("<f4").tobytes(), len(model))
            record = self.service.run_round(plan)
            if record.error is not None or record.total is None:
                missing = f"; missing silos: {', '.join(record.missing)}" if record.missing else ""
                raise FedsiloError(
                    f"round {round_number} aborted, nothing released: {record.error}{missing}"
                )
            mean_delta = quantizer.dequantize_sum(record.total, len(record.survivors)) / len(
                record.survivors
            )
            model = (model + mean_delta).astype(np.float32)  # FedAvg of the survivors' deltas
            aggregate = record.total.astype(record.total.dtype.newbyteorder("<")).tobytes()
            self.state.save_round(
                round_number,
                {
                    "round": round_number,
                    "session": record.session_id.hex(),
                    "survivors": list(record.survivors),
                    "dropped": list(record.dropped),
                    "config_digest": self.config.digest(),
                    "aggregate_sha256": hashlib.sha256(aggregate).hexdigest(),
                },
                aggregate,
                model,
            )
        self.service.await_fetches(self.config.timeouts.unmasking)

    def stop(self, grace: float = 2.0) -> None:
        self.service.stop()
        self.server.stop(grace).wait()


class SiloRunner:
    """A silo: connects out and takes part in every round."""

    def __init__(self, files: NodeFiles, name: str, state_dir: Path, log: EventLog) -> None:
        self.config = load_checked_config(files)
        trust = trust_store(self.config, files.ca, files.crl)
        cert = load_certificate(files.cert)
        member = trust.verify(cert, Role.SILO)
        if member.name != name:
            raise ConfigError(f"{files.cert} belongs to {member.name}, not {name}")
        self.client = AggregatorClient(
            self.config.aggregator.address,
            files.ca.read_bytes(),
            files.key.read_bytes(),
            files.cert.read_bytes(),
            Backoff(patience=max(60.0, self.config.timeouts.advertise_keys)),
        )
        self.node = SiloNode(
            config=self.config,
            name=name,
            identity=load_identity_key(files.key),
            client=self.client,
            trust=trust,
            task=load_task(self.config.training),
            ledger=FileUnmaskLedger(state_dir / "ledger.json"),
            log=log,
        )

    def run(self) -> None:
        round_number = 1
        try:
            while round_number <= self.config.training.rounds:
                result = self.node.run_round(round_number)
                round_number = result.round + 1
        finally:
            self.client.close()


__all__ = ["AggregatorNode", "NodeFiles", "SiloRunner"]
