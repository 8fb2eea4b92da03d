"""A node process of `fedsilo bench --transport grpc` (aggregator or silo).

It runs the real node, and on the same server and connection a plain-float
round for comparison: every silo uploads its float32 delta, the aggregator
sums, every silo downloads the sum. Both kinds of round start at a barrier
(every silo ready) and end when the last silo holds the aggregate.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from fedsilo.config.load import load_config
from fedsilo.config.model import TrainingPlan
from fedsilo.crypto.entropy import Entropy
from fedsilo.crypto.prg import UIntArray
from fedsilo.pki.trust import Member, TrustStore
from fedsilo.protocol import words
from fedsilo.runtime.events import EventLog
from fedsilo.runtime.nodes import AggregatorNode, NodeFiles, SiloRunner, grpc_serve
from fedsilo.runtime.rounds import RoundPlan
from fedsilo.runtime.silo import secure_fedavg
from fedsilo.tensors import FloatVector
from fedsilo.training.local import LocalTrainer
from fedsilo.training.synthetic import SyntheticVectorTask
from fedsilo.training.task import SiloContext, load_task
from fedsilo.training.weighted import LocalResult, SecureFedAvg
from fedsilo.transport import frames
from fedsilo.transport.calls import (
    CallContext,
    InputChunk,
    JoinReply,
    JoinRequest,
    ResultChunk,
    SignedEnvelope,
    StageMessage,
)
from fedsilo.transport.client import AggregatorClient
from fedsilo.transport.handlers import AggregatorHandlers
from fedsilo.transport.link import ServingTransport
from fedsilo.transport.proto import fedsilo_pb2 as pb
from fedsilo.transport.server import GrpcServing

SERVICE = "fedsilo.bench.Plain"


def files(root: Path, name: str, config_name: str) -> NodeFiles:
    fed = root / "fed"
    return NodeFiles(
        fed / config_name,
        fed / name / f"{name}.crt",
        fed / name / f"{name}.key",
        fed / "ca" / "ca.crt",
        fed / "ca" / "crl.pem",
    )


class CountingHandlers:
    """The aggregator's handlers, counting what the silos send on the way in: streamed
    vector bytes, and every other message's framed bytes (keys, shares, sketches,
    signatures)."""

    def __init__(self, inner: AggregatorHandlers) -> None:
        self._inner, self._lock = inner, threading.Lock()
        self.input_bytes = 0
        self.message_bytes = 0

    def join(self, member: Member, request: JoinRequest) -> JoinReply:
        return self._inner.join(member, request)

    def submit(self, member: Member, message: StageMessage) -> None:
        with self._lock:
            self.message_bytes += frames.stage_message_pb(message).ByteSize()
        self._inner.submit(member, message)

    def upload(self, member: Member, chunks: Iterator[InputChunk]) -> None:
        self._inner.upload(member, self._counted(chunks))

    def _counted(self, chunks: Iterator[InputChunk]) -> Iterator[InputChunk]:
        for chunk in chunks:
            with self._lock:
                self.input_bytes += len(chunk.data)
            yield chunk

    def await_message(self, member: Member, context: CallContext, timeout: float) -> SignedEnvelope:
        return self._inner.await_message(member, context, timeout)

    def result_chunks(self, member: Member, context: CallContext) -> Iterator[ResultChunk]:
        return self._inner.result_chunks(member, context)


class PlainRounds:
    """The unprotected baseline, served beside the real protocol (benchmark only)."""

    def __init__(self, node: AggregatorNode, silos: int, length: int) -> None:
        self._node, self._silos, self._length = node, silos, length
        self._cond = threading.Condition()
        self._ready: dict[tuple[str, int], int] = {}
        self.released_at: dict[tuple[str, int], float] = {}
        self._sum = np.zeros(length, dtype=np.float32)
        self._uploaded = 0
        self._fetched = 0
        self._sum_bytes: bytes | None = None  # serialized once per round, shared by every fetch
        self.done_at: dict[int, float] = {}

    def handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Ready": grpc.unary_unary_rpc_method_handler(
                    self._ready_call, pb.AwaitRequest.FromString, pb.Ack.SerializeToString
                ),
                "Upload": grpc.stream_unary_rpc_method_handler(
                    self._upload, pb.InputChunk.FromString, pb.Ack.SerializeToString
                ),
                "Fetch": grpc.unary_stream_rpc_method_handler(
                    self._fetch, pb.ResultRequest.FromString, pb.ResultChunk.SerializeToString
                ),
            },
        )

    def _authenticate(self, context: grpc.ServicerContext) -> None:
        self._node.trust.authenticate_peer(dict(context.auth_context()))

    def _ready_call(self, request: pb.AwaitRequest, context: grpc.ServicerContext) -> pb.Ack:
        self._authenticate(context)
        key = (request.context.stage, int(request.context.round))
        with self._cond:
            self._ready[key] = self._ready.get(key, 0) + 1
            if self._ready[key] == self._silos:
                self.released_at[key] = time.perf_counter()
                self._cond.notify_all()
            self._cond.wait_for(lambda: key in self.released_at)
        return pb.Ack()

    def _upload(self, chunks: Iterator[pb.InputChunk], context: grpc.ServicerContext) -> pb.Ack:
        self._authenticate(context)
        for chunk in chunks:
            values = np.frombuffer(chunk.data, dtype="<f4")
            with self._cond:
                span = self._sum[chunk.offset : chunk.offset + len(values)]
                np.add(span, values, out=span)
        with self._cond:
            self._uploaded += 1
            self._cond.notify_all()
        return pb.Ack()

    def _fetch(
        self, request: pb.ResultRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.ResultChunk]:
        self._authenticate(context)
        with self._cond:
            self._cond.wait_for(lambda: self._uploaded == self._silos)
            if self._sum_bytes is None:
                self._sum_bytes = self._sum.astype("<f4").tobytes()
            data = self._sum_bytes
        step = 1 << 20
        for start in range(0, len(data), step):
            yield pb.ResultChunk(
                offset=start // 4, total_length=self._length, data=data[start : start + step]
            )
        with self._cond:
            self._fetched += 1
            if self._fetched == self._silos:
                self.done_at[int(request.context.round)] = time.perf_counter()
                self._uploaded, self._fetched = 0, 0
                self._sum[:] = 0
                self._sum_bytes = None
                self._cond.notify_all()

    def wait_done(self, round_number: int) -> None:
        with self._cond:
            self._cond.wait_for(lambda: round_number in self.done_at)


def run_aggregator(root: Path, config_name: str, repeat: int) -> None:
    log = EventLog("bench-aggregator", sys.stderr)
    node_files = files(root, "agg", config_name)
    config = load_config(node_files.config)
    grpc_on_address = grpc_serve(node_files, config.aggregator.address, 3 * len(config.silos) + 8)
    counters: list[CountingHandlers] = []

    def serve(trust: TrustStore, handlers: AggregatorHandlers) -> ServingTransport:
        counters.append(CountingHandlers(handlers))
        return grpc_on_address(trust, counters[0])

    node = AggregatorNode(node_files, root / "fed", root / "agg-state", None, log, serve=serve)
    (counted,) = counters
    task = SyntheticVectorTask(node.config.training)
    plain = PlainRounds(node, len(node.config.silos), task.params)
    assert isinstance(node.serving, GrpcServing)  # the plain round is served beside it
    node.serving.server.add_generic_rpc_handlers((plain.handler(),))
    node.start()
    state = node.resume_state()
    results: dict[str, Any] = {"plain": [], "secure": [], "bytes": [], "message_bytes": []}
    try:
        for r in range(1, repeat + 1):
            plain.wait_done(r)
            results["plain"].append(plain.done_at[r] - plain.released_at[("plain", r)])
            before = counted.input_bytes
            messages_before = counted.message_bytes
            record = node.driver.run_round(
                RoundPlan(r, state.head, node.codec.vector_length(task.params))
            )
            if record.total is None:
                raise SystemExit(f"secure round {r} aborted: {record.error}")
            node.driver.await_fetches(600)
            results["secure"].append(time.perf_counter() - plain.released_at[("secure", r)])
            state = node.finish_round(state, record)  # the chain moves on, as in a federation
            results["bytes"].append(counted.input_bytes - before)
            results["message_bytes"].append(counted.message_bytes - messages_before)
            (root / f"aggregate-{r}.u32").write_bytes(words.words_to_bytes(record.total))
            results.setdefault("survivors", []).append(list(record.survivors))
        results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        (root / "bench-result.json").write_text(json.dumps(results))
    finally:
        node.stop(grace=1)


class BarrierTrainer(LocalTrainer):
    """Local rounds that end at a barrier: every silo of the bench starts its secure round
    together, right after training and before encoding, as the plain round does."""

    def __init__(
        self, plan: TrainingPlan, silo: SiloContext, barrier: Callable[[int], None]
    ) -> None:
        super().__init__(load_task(plan), plan, silo)
        self._barrier = barrier
        self.rounds: list[int] = []

    def local_round(self, round_number: int, model: FloatVector) -> LocalResult:
        result = super().local_round(round_number, model)
        self.rounds.append(round_number)
        self._barrier(round_number)
        return result


@dataclass(frozen=True)
class KeepingFedAvg(SecureFedAvg):
    """The config's update encoding, keeping each round's quantized input in a file (this
    process's own, for the bench to check the released sum bit for bit)."""

    keep: Callable[[UIntArray], None] = lambda quantized: None

    def encode(self, result: LocalResult, entropy: Entropy) -> UIntArray:
        quantized = super().encode(result, entropy)
        self.keep(quantized)
        return quantized


def run_silo(root: Path, config_name: str, name: str, repeat: int) -> None:
    node_files = files(root, name, config_name)
    config = load_config(node_files.config)
    client = AggregatorClient(
        config.aggregator.address,
        node_files.ca.read_bytes(),
        node_files.key.read_bytes(),
        node_files.cert.read_bytes(),
    )
    channel = client.channel  # the plain round's calls share the silo's mTLS channel
    ready = channel.unary_unary(
        f"/{SERVICE}/Ready", pb.AwaitRequest.SerializeToString, pb.Ack.FromString
    )
    upload = channel.stream_unary(
        f"/{SERVICE}/Upload", pb.InputChunk.SerializeToString, pb.Ack.FromString
    )
    fetch = channel.unary_stream(
        f"/{SERVICE}/Fetch", pb.ResultRequest.SerializeToString, pb.ResultChunk.FromString
    )
    task = SyntheticVectorTask(config.training)

    def barrier(kind: str, r: int) -> None:
        ready(
            pb.AwaitRequest(context=pb.Context(stage=kind, round=r)),
            timeout=600,
            wait_for_ready=True,
        )

    trainer = BarrierTrainer(
        config.training, SiloContext(name, config.silo_names), lambda r: barrier("secure", r)
    )

    def keep(quantized: UIntArray) -> None:
        r = trainer.rounds[-1]
        (root / f"q-{name}-{r}.u32").write_bytes(words.words_to_bytes(quantized))

    standard = secure_fedavg(config)
    runner = SiloRunner(
        node_files,
        name,
        root / f"state-{name}",
        EventLog(name, sys.stderr),
        client=client,
        trainer=trainer,
        codec=KeepingFedAvg(standard.quantizer, standard.max_samples, keep),
    )
    try:
        for r in range(1, repeat + 1):
            delta = task.update(name, r).astype("<f4").tobytes()
            barrier("plain", r)
            step = 1 << 20
            upload(
                iter(
                    [
                        pb.InputChunk(
                            offset=s // 4, total_length=task.params, data=delta[s : s + step]
                        )
                        for s in range(0, len(delta), step)
                    ]
                ),
                timeout=600,
            )
            b"".join(
                c.data for c in fetch(pb.ResultRequest(context=pb.Context(round=r)), timeout=600)
            )
            runner.node.run_round(r)
    finally:
        runner.client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fedsilo.bench.grpc_worker")
    parser.add_argument("role", choices=["aggregator", "silo"])
    parser.add_argument("--root", required=True)
    parser.add_argument("--config-name", required=True)
    parser.add_argument("--repeat", type=int, required=True)
    parser.add_argument("--name")
    args = parser.parse_args(argv)
    if args.role == "aggregator":
        run_aggregator(Path(args.root), args.config_name, args.repeat)
    else:
        run_silo(Path(args.root), args.config_name, args.name, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
