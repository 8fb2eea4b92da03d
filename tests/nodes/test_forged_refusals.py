"""A refusal is the aggregator's word, never a silo's decision (found by review, kept as
the attack): an aggregator that takes a silo's ack of round r and then answers the call
with a forged "not joinable" must not make the silo skip ahead and train round r + 1 on
the model of round r - 1, the replay the model chain exists to stop."""

from __future__ import annotations

import contextlib
import hashlib
import io
import threading
from pathlib import Path

import grpc

from fedsilo.config.load import load_config
from fedsilo.errors import FedsiloError, RemoteProtocolError
from fedsilo.runtime.events import EventLog
from fedsilo.runtime.nodes import SiloRunner
from fedsilo.tensors import FloatVector
from fedsilo.training.local import LocalTrainer
from fedsilo.training.task import SiloContext, load_task
from fedsilo.training.weighted import LocalResult
from fedsilo.transport.calls import StageMessage
from fedsilo.transport.link import AggregatorLink
from fedsilo.transport.status import ERROR_KEY, error_of
from tests.nodes.federation import Federation
from tests.nodes.test_in_memory_nodes import files, in_memory_aggregator, link_of

SILOS = ["s1", "s2", "s3", "s4"]


class ModelRecorder(LocalTrainer):
    """The real trainer, noting the digest of the model each round trains on."""

    def __init__(self, fed: Federation, name: str, seen: dict[tuple[str, int], str]) -> None:
        config = load_config(fed.config_path)
        super().__init__(
            load_task(config.training), config.training, SiloContext(name, config.silo_names)
        )
        self._seen, self._name = seen, name

    def local_round(self, round_number: int, model: FloatVector) -> LocalResult:
        self._seen[(self._name, round_number)] = hashlib.sha256(model.tobytes()).hexdigest()
        return super().local_round(round_number, model)


class ForgingLink:
    """The aggregator's side of one silo's link, played maliciously: it takes the ack of
    round 1, then refuses the call as "not joinable"."""

    def __init__(self, inner: AggregatorLink) -> None:
        self._inner, self.forged = inner, False

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def submit(self, message: StageMessage) -> None:
        self._inner.submit(message)
        if message.context.stage == "release" and not self.forged:  # the ack
            self.forged = True
            raise error_of(
                grpc.StatusCode.FAILED_PRECONDITION, "please rejoin", [(ERROR_KEY, "not-joinable")]
            )


def test_a_forged_not_joinable_after_an_ack_never_makes_a_silo_train_on_a_stale_model(
    tmp_path: Path,
) -> None:
    fed = Federation.provisioned(
        tmp_path, silos=4, params=3_000, rounds=2, join=10, advertise_keys=4
    )
    node, hub = in_memory_aggregator(fed)
    node.start()
    trained: dict[tuple[str, int], str] = {}
    errors: dict[str, Exception] = {}

    def silo(name: str) -> None:
        link: AggregatorLink = link_of(hub, fed, name)
        try:
            SiloRunner(
                files(fed, name),
                name,
                fed.root / f"state-{name}",
                EventLog(name, io.StringIO()),
                client=ForgingLink(link) if name != "s4" else link,  # type: ignore[arg-type]
                trainer=ModelRecorder(fed, name, trained),
            ).run()
        except FedsiloError as exc:
            errors[name] = exc

    threads = [threading.Thread(target=silo, args=(name,), daemon=True) for name in SILOS]
    for thread in threads:
        thread.start()
    try:
        with contextlib.suppress(FedsiloError):  # round 2 cannot reach t once they stop
            node.run()
    finally:
        node.stop(grace=0)
        for thread in threads:
            thread.join(60)
    assert fed.released(1) is not None
    for name in SILOS:  # no silo trained round 2 on the model it trained round 1 on
        if (name, 2) in trained:
            assert trained[(name, 2)] != trained[(name, 1)], name
    for name in ("s1", "s2", "s3"):  # the forged refusal stopped them, loudly
        assert isinstance(errors.get(name), RemoteProtocolError), errors.get(name)
        assert "only a silo decides" in str(errors[name])
