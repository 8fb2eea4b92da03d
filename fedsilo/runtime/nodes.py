"""The two nodes built from files: what `fedsilo aggregator start` and `silo start` run."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

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
from fedsilo.runtime.rounds import RoundPlan, RoundRecord
from fedsilo.runtime.silo import SiloNode, masking_params, secure_fedavg
from fedsilo.runtime.state import AggregatorState
from fedsilo.tensors import FloatVector, flatten
from fedsilo.training.checkpoint import arrays_bytes, checkpoint_bytes
from fedsilo.training.local import LocalTrainer
from fedsilo.training.server_optimizers import server_optimizer
from fedsilo.training.task import SiloContext
from fedsilo.training.weighted import WeightedAverage
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
        self.trainer = LocalTrainer.for_plan(self.config.training)
        self.trainer.check_layout(self.config.model.layout_sha256)
        self.codec = secure_fedavg(self.config)
        self.optimizer = server_optimizer(self.config.training)
        self.service = AggregatorService(
            config=self.config,
            roster=roster,
            params=masking_params(self.config),
            identity=load_identity_key(files.key),
            certificate_der=certificate_der(cert),
            silo_certificates=[certificate_der(c) for c in silo_certs],
            model_layout=self.trainer.layout.document(),
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

    def _resume(self) -> tuple[int, FloatVector]:
        """The last completed round and the global model after it (round 0: the initial)."""
        done = self.state.completed_rounds()
        if not done:
            return 0, self.trainer.initial_model()
        model = flatten(self.state.model(done[-1]), self.trainer.layout)
        self.optimizer.restore(self.state.optimizer_state(done[-1]))
        self.log("resumed", after_round=done[-1])
        return done[-1], model

    def run(self) -> None:
        """Run every configured round not yet completed; raises if a round is aborted."""
        done, model = self._resume()
        absent = self.service.await_joins(self.config.timeouts.join)
        if absent:
            self.log("starting-without", missing=absent)
        for round_number in range(done + 1, self.config.training.rounds + 1):
            plan = RoundPlan(
                round_number,
                model.astype("<f4").tobytes(),
                self.codec.vector_length(len(model)),
            )
            record = self.service.run_round(plan)
            if record.error is not None or record.total is None:
                missing = f"; missing silos: {', '.join(record.missing)}" if record.missing else ""
                raise FedsiloError(
                    f"round {round_number} aborted, nothing released: {record.error}{missing}"
                )
            average = self.codec.decode(record.total, len(record.survivors))
            model = self.optimizer.step(model, average.mean_delta)
            self._save(round_number, record, average, model)
        self.service.await_fetches(self.config.timeouts.unmasking)

    def _save(
        self, round_number: int, record: RoundRecord, average: WeightedAverage, model: FloatVector
    ) -> None:
        assert record.total is not None
        aggregate = record.total.astype(record.total.dtype.newbyteorder("<")).tobytes()
        evaluation = average.evaluation
        summary: dict[str, object] = {
            "round": round_number,
            "session": record.session_id.hex(),
            "survivors": list(record.survivors),
            "dropped": list(record.dropped),
            "total_weight": average.total_weight,
            # the global model this round started from, evaluated on the silos' held-out data
            "evaluation": {
                "model_of_round": round_number - 1,
                "correct": evaluation.correct,
                "examples": evaluation.examples,
            },
            "config_digest": self.config.digest(),
            "layout_sha256": self.trainer.layout.sha256(),
            "aggregate_sha256": hashlib.sha256(aggregate).hexdigest(),
        }
        metadata = {"round": str(round_number), "config_digest": self.config.digest()}
        optimizer_state = self.optimizer.state()
        self.state.save_round(
            round_number,
            summary,
            aggregate,
            checkpoint_bytes(self.trainer.state_dict(model), metadata),
            arrays_bytes(optimizer_state, metadata) if optimizer_state else None,
        )
        accuracy = evaluation.accuracy if evaluation.examples else None
        self.log(
            "global-model",
            round=round_number,
            survivors=len(record.survivors),
            dropped=list(record.dropped),
            federated_accuracy=None if accuracy is None else round(accuracy, 4),
        )

    def stop(self, grace: float = 2.0) -> None:
        self.service.stop()
        self.server.stop(grace).wait()


class SiloRunner:
    """A silo: connects out and takes part in every round."""

    def __init__(
        self,
        files: NodeFiles,
        name: str,
        state_dir: Path,
        log: EventLog,
        data_dir: Path | None = None,
    ) -> None:
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
            trainer=LocalTrainer.for_plan(
                self.config.training,
                SiloContext(name, self.config.silo_names, data_dir),
            ),
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
