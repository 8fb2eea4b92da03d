"""The two nodes built from files: what `fedsilo aggregator start` and `silo start` run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fedsilo.audit.config_rules import config_rules
from fedsilo.audit.report import Status
from fedsilo.audit.resets import installed_resets
from fedsilo.config.endorse import require_endorsements
from fedsilo.config.load import load_config
from fedsilo.config.model import FederationConfig
from fedsilo.config.schemes import scheme_of, scheme_params, stage_timeout
from fedsilo.crypto.entropy import SystemEntropy
from fedsilo.crypto.signatures import VerifyingKey
from fedsilo.errors import ConfigError, FedsiloError
from fedsilo.pki.files import certificate_der, load_certificate, load_identity_key
from fedsilo.pki.identity import Role
from fedsilo.pki.trust import CrlFloor, TrustStore
from fedsilo.protocol.chain import aggregate_sha256, genesis
from fedsilo.protocol.events import RoundCompleted
from fedsilo.protocol.ledger import RoundLedger
from fedsilo.protocol.outputs import RESULT_DOWNLOAD
from fedsilo.protocol.reset import verify_reset
from fedsilo.protocol.roster import Roster, SiloEntry
from fedsilo.runtime.chain_store import ChainStore
from fedsilo.runtime.crl_number import CRL_NUMBER_FILE, FileCrlNumber
from fedsilo.runtime.disputes import DisputeStore
from fedsilo.runtime.driver import RoundDriver
from fedsilo.runtime.events import EventLog
from fedsilo.runtime.journal import JournaledSession, SessionJournal
from fedsilo.runtime.mailbox import Mailbox
from fedsilo.runtime.memory import return_large_buffers_to_the_os
from fedsilo.runtime.round_ledger import FileLedgerStore
from fedsilo.runtime.rounds import RoundPlan, RoundRecord
from fedsilo.runtime.session_vault import SessionVault
from fedsilo.runtime.silo import SiloNode, secure_fedavg
from fedsilo.runtime.state import AggregatorState
from fedsilo.tensors import flatten
from fedsilo.training.chain_step import ChainStep, DerivedRound, GlobalState
from fedsilo.training.checkpoint import checkpoint_bytes
from fedsilo.training.global_state import optimizer_safetensors
from fedsilo.training.local import LocalTrainer
from fedsilo.training.server_optimizers import server_optimizer
from fedsilo.training.task import SiloContext
from fedsilo.training.weighted import SecureFedAvg
from fedsilo.transport.client import AggregatorClient, Backoff
from fedsilo.transport.link import AggregatorLink, Serve
from fedsilo.transport.roster import trust_store
from fedsilo.transport.server import GrpcServing, server_credentials


def grpc_serve(files: NodeFiles, address: str, workers: int) -> Serve:
    """Mutual-TLS gRPC on ``address`` with the node's key, certificate and CA."""
    credentials = server_credentials(
        files.key.read_bytes(), files.cert.read_bytes(), files.ca.read_bytes()
    )
    return lambda trust, handlers: GrpcServing(trust, handlers, address, credentials, workers)


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


def _crl_floor(state_dir: Path) -> CrlFloor:
    """The highest CRL number this node accepted, durable in its state directory."""
    return CrlFloor(FileCrlNumber(state_dir / CRL_NUMBER_FILE))


class AggregatorNode:
    """The aggregator: serves silos over mTLS and runs the configured rounds."""

    def __init__(
        self,
        files: NodeFiles,
        certs_dir: Path,
        state_dir: Path,
        listen: str | None,
        log: EventLog,
        serve: Serve | None = None,
    ) -> None:
        """``serve`` builds the transport that serves the silos (default: mutual-TLS gRPC
        on ``listen``, or the config's address)."""
        self.config = load_checked_config(files)
        return_large_buffers_to_the_os()
        state_dir.mkdir(parents=True, exist_ok=True)
        self.trust: TrustStore = trust_store(
            self.config, files.ca, files.crl, crl_floor=_crl_floor(state_dir)
        )
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
        self.trainer.check_initial(self.config.model.initial_sha256)
        self.codec = secure_fedavg(self.config)
        self.step = ChainStep(
            self.codec, server_optimizer(self.config.training), self.trainer.layout
        )
        self._digest = bytes.fromhex(self.config.digest().removeprefix("sha256:"))
        self.resets = installed_resets(state_dir)
        for reset in self.resets:  # what every silo will check: refuse to serve a bad one
            verify_reset(
                reset,
                roster,
                self.config.scheme.threshold,
                self.config.max_resets,
                self.config.federation,
                self._digest,
            )
        self.journal = SessionJournal(state_dir)
        self.state = AggregatorState(state_dir)
        self.mailbox = Mailbox(
            config=self.config,
            roster=roster,
            params=scheme_params(
                self.config, self.codec.vector_length(self.trainer.layout.vector_length)
            ),
            identity=load_identity_key(files.key),
            certificate_der=certificate_der(cert),
            silo_certificates=[certificate_der(c) for c in silo_certs],
            model_layout=self.trainer.layout.document(),
            log=log,
            journal=self.journal,
            archive=self.state,
            resets=self.resets,
        )
        if serve is None:
            serve = grpc_serve(
                files, listen or self.config.aggregator.address, 3 * len(self.config.silos) + 8
            )
        self.driver = RoundDriver(self.mailbox, config=self.config, log=log)
        self.serving = serve(self.trust, self.mailbox)
        self.port = self.serving.port

    def start(self) -> None:
        self.serving.start()
        self.log("listening", port=self.port)

    def resume_state(self) -> GlobalState:
        """The state after the last completed round (round 0: the pinned initial model)."""
        done = self.state.completed_rounds()
        if not done:
            return self.step.genesis(self._digest, self.trainer.initial_model())
        last = done[-1]
        model = flatten(self.state.model(last), self.trainer.layout)
        optimizer = self.state.optimizer_state(last)
        head = bytes.fromhex(str(self.state.record(last)["chain_head"]))
        self.log("resumed", after_round=last)
        return GlobalState(last, head, model, optimizer)

    def run(self) -> None:
        """Run every configured round not yet completed; raises if a round is aborted or
        fewer than ``max(t, min_silos)`` silos acknowledge the chain head it derived."""
        state = self.resume_state()
        self._check_reset(state)
        journaled = self._journaled(state.round + 1)
        if journaled is None:
            absent = self.driver.await_joins(self.config.timeouts.join)
            if absent:
                self.log("starting-without", missing=absent)
        length = self.codec.vector_length(len(state.model))
        for round_number in range(state.round + 1, self.config.training.rounds + 1):
            if journaled is not None:  # it reached unmasking before a crash: finish it
                record, journaled = self.driver.resume(journaled), None
            else:
                record = self.driver.run_round(RoundPlan(round_number, state.head, length))
            state = self.finish_round(state, record)
        self.driver.await_fetches(stage_timeout(self.config, "release"))

    def finish_round(self, state: GlobalState, record: RoundRecord) -> GlobalState:
        """Derive the next state from a released round, require the silos' acks of it, and
        save it; raises if the round was aborted or too few silos acknowledged."""
        if record.error is not None or record.result is None:
            missing = f"; missing silos: {', '.join(record.missing)}" if record.missing else ""
            raise FedsiloError(
                f"round {record.round} aborted, nothing released: {record.error}{missing}"
            )
        derived = self.step.derive(state, record.result)
        self._require_acks(record, derived)
        self._save(record, derived)
        self.journal.clear()
        return derived.state

    def _check_reset(self, state: GlobalState) -> None:
        """A reset of the next round must resume from the state this aggregator is at."""
        for reset in self.resets:
            if reset.failed_round == state.round + 1 and reset.resume_head != state.head:
                raise ConfigError(
                    f"installed reset {reset.reset_index} resumes round {reset.failed_round} "
                    f"from H_{reset.resume_round} = {reset.resume_head.hex()[:16]}…, but this "
                    f"aggregator's state after round {state.round} is {state.head.hex()[:16]}…"
                )

    def _journaled(self, next_round: int) -> JournaledSession | None:
        """The journaled session of ``next_round``, if a crash interrupted one (and no epoch
        reset installed since abandoned it)."""
        if not self.journal.exists:
            return None
        journaled = self.journal.load()
        if journaled.round != next_round:  # saved before the crash: the journal is stale
            self.journal.clear()
            return None
        if int(journaled.header.get("resets", 0)) != len(self.resets):
            self.log("journal-abandoned", round=next_round, reason="epoch reset")
            self.journal.clear()
            return None
        self.log("resuming-session", round=next_round)
        return journaled

    def _require_acks(self, record: RoundRecord, derived: DerivedRound) -> None:
        quorum = self.mailbox.params.quorum
        agreeing = sorted(i for i, head in record.acks.items() if head == derived.link.head)
        if len(agreeing) < quorum:
            raise FedsiloError(
                f"round {record.round}: only {len(agreeing)} silos acknowledged chain head "
                f"{derived.link.head.hex()[:16]}…, {quorum} are needed; the federation halts "
                "(see `fedsilo federation reset` in docs/aggregator-host.md)"
            )

    def _save(self, record: RoundRecord, derived: DerivedRound) -> None:
        assert record.total is not None
        round_number, average, link = record.round, derived.average, derived.link
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
            "aggregate_sha256": aggregate_sha256(record.total).hex(),
            "previous_head": link.previous.hex(),
            "chain_head": link.head.hex(),
            "acked_by": list(self.mailbox.roster.names(record.acks)),
        }
        metadata = {"round": str(round_number), "config_digest": self.config.digest()}
        if record.evidence is not None and RESULT_DOWNLOAD in record.downloads:
            evidence = scheme_of(self.config).wire.evidence_body(record.evidence)
            self.state.save_evidence(round_number, evidence, record.downloads)
        self.state.save_round(
            round_number,
            summary,
            aggregate,
            checkpoint_bytes(self.trainer.state_dict(derived.state.model), metadata),
            optimizer_safetensors(derived.state.optimizer),
        )
        accuracy = evaluation.accuracy if evaluation.examples else None
        acked = self.mailbox.roster.names(record.acks)
        self.log.emit(RoundCompleted(round_number, link.head.hex(), acked))
        self.log(
            "global-model",
            round=round_number,
            survivors=len(record.survivors),
            dropped=list(record.dropped),
            federated_accuracy=None if accuracy is None else round(accuracy, 4),
        )

    def stop(self, grace: float = 2.0) -> None:
        self.driver.stop()
        self.serving.stop(grace)


def _scheme_secret(config: FederationConfig, state_dir: Path) -> bytes | None:
    """The content of the scheme's per-silo secret file in ``state_dir``, if it has one."""
    name = scheme_of(config).secret_file
    if name is None:
        return None
    path = state_dir / name
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read {path}, this silo's {config.scheme.kind} secret "
            f"({exc.strerror or exc}); provision it before the silo starts"
        ) from exc


class SiloRunner:
    """A silo: connects out and takes part in every round."""

    def __init__(
        self,
        files: NodeFiles,
        name: str,
        state_dir: Path,
        log: EventLog,
        data_dir: Path | None = None,
        client: AggregatorLink | None = None,
        trainer: LocalTrainer | None = None,
        codec: SecureFedAvg | None = None,
    ) -> None:
        """``client`` is the connection to the aggregator (default: mutual-TLS gRPC to the
        config's address with this silo's certificate); ``trainer`` runs the local rounds
        (default: the config's task on ``data_dir``); ``codec`` encodes each local result
        (default: the config's)."""
        self.config = load_checked_config(files)
        state_dir.mkdir(parents=True, exist_ok=True)
        trust = trust_store(self.config, files.ca, files.crl, crl_floor=_crl_floor(state_dir))
        cert = load_certificate(files.cert)
        member = trust.verify(cert, Role.SILO)
        if member.name != name:
            raise ConfigError(f"{files.cert} belongs to {member.name}, not {name}")
        self.client: AggregatorLink = client or AggregatorClient(
            self.config.aggregator.address,
            files.ca.read_bytes(),
            files.key.read_bytes(),
            files.cert.read_bytes(),
            Backoff(patience=max(60.0, *(s for _, s in self.config.timeouts.stages[:1]))),
        )
        trainer = trainer or LocalTrainer.for_plan(
            self.config.training, SiloContext(name, self.config.silo_names, data_dir)
        )
        digest = bytes.fromhex(self.config.digest().removeprefix("sha256:"))
        identity = load_identity_key(files.key)
        self.node = SiloNode(
            config=self.config,
            name=name,
            identity=identity,
            client=self.client,
            trust=trust,
            trainer=trainer,
            ledger=RoundLedger(FileLedgerStore(state_dir / "ledger.json"), genesis(digest)),
            chain=ChainStore(state_dir, trainer.layout),
            vault=SessionVault(
                state_dir / "sessions", identity, self.config.federation, name, SystemEntropy()
            ),
            log=log,
            disputes=DisputeStore(state_dir / "disputes"),
            codec=codec,
            secret=_scheme_secret(self.config, state_dir),
        )

    def run(self) -> None:
        try:
            while self.node.ledger.final_round < self.config.training.rounds:
                self.node.run_round(self.node.ledger.final_round + 1)
        finally:
            self.client.close()


__all__ = ["AggregatorNode", "NodeFiles", "SiloRunner"]
