"""A malicious aggregator process for attacks over real mTLS against real silo processes.

``python -m tests.nodes.rogue_aggregator --attack ATTACK -- aggregator start ...``
builds the genuine aggregator from its files (config checks, certificates,
roster, the honest service) and serves it through a wrapper that lies where
the attack says. It never calls the product's round loop; it drives sessions
itself and logs what it obtained, so a test can check that it obtained
nothing it should not.

Attacks:

* ``rerun-round`` (the exact attack, same model): session A of round 1 runs
  with everyone to unmasking, but every silo is told "not released"; then
  session B of round 1 opens on the same chain head, ready to discard a
  victim's input and unmask the rest. A second sum of round 1 would give
  A - B, the victim's update.
* ``rerun-flipped``: the same, but session B is announced on a chain head
  differing in one bit (the model differing in one bit, or a 0.0 stored as
  -0.0, as a served model could).
* ``forge-sum``: round 1 runs honestly, but the sum ``Y`` every silo fetches
  at release has one bit flipped (the cheapest fake release: a steered
  model).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from fedsilo.cli.main import build_parser
from fedsilo.crypto.signatures import IdentityKey
from fedsilo.pki.files import load_identity_key
from fedsilo.pki.trust import Member
from fedsilo.protocol.masking.messages import Stage
from fedsilo.runtime.events import EventLog
from fedsilo.runtime.mailbox import Mailbox
from fedsilo.runtime.nodes import AggregatorNode, NodeFiles
from fedsilo.runtime.rounds import RoundPlan
from fedsilo.transport import codec
from fedsilo.transport.calls import (
    CallContext,
    InputChunk,
    JoinReply,
    JoinRequest,
    ResultChunk,
    SignedEnvelope,
    StageMessage,
)
from fedsilo.transport.server import AggregationServicer, build_server, server_credentials

ATTACKS = ("rerun-round", "rerun-flipped", "forge-sum")


class LyingHandlers:
    """The honest service's handlers, lying where the attack says: while ``withholding``,
    a silo asking for the release of a session (after it revealed its shares) is told the
    round was not released; while ``forging``, the sum ``Y`` it fetches has a bit flipped."""

    def __init__(self, service: Mailbox, identity: IdentityKey) -> None:
        self._service, self._identity = service, identity
        self.withholding, self.forging = True, False

    def join(self, member: Member, request: JoinRequest) -> JoinReply:
        return self._service.join(member, request)

    def submit(self, member: Member, message: StageMessage) -> None:
        self._service.submit(member, message)

    def upload(self, member: Member, chunks: Iterator[InputChunk]) -> None:
        self._service.upload(member, chunks)

    def result_chunks(self, member: Member, context: CallContext) -> Iterator[ResultChunk]:
        chunks = self._service.result_chunks(member, context)
        if self.forging and context.stage == "result":
            return self._forged(chunks)
        return chunks

    @staticmethod
    def _forged(chunks: Iterator[ResultChunk]) -> Iterator[ResultChunk]:
        for i, chunk in enumerate(chunks):
            if i == 0:
                data = bytearray(chunk.data)
                data[0] ^= 1
                chunk = ResultChunk(chunk.offset, chunk.total_length, bytes(data))  # noqa: PLW2901 - the one forged chunk
            yield chunk

    def await_message(self, member: Member, context: CallContext, timeout: float) -> SignedEnvelope:
        if not (self.withholding and context.stage == Stage.RELEASE.value):
            return self._service.await_message(member, context, timeout)
        # the session's own "not released", framed exactly as an honest outcome is
        body = codec.outcome_message(member.index, context.session, False, [], "not released")
        return codec.sign(self._identity, body, codec.MESSAGE_KIND, codec.OUTCOME_STAGE)


def flipped(head: bytes) -> bytes:
    return bytes([head[0] ^ 1]) + head[1:]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.nodes.rogue_aggregator")
    parser.add_argument("--attack", choices=ATTACKS, required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- aggregator start ...")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    a = build_parser().parse_args(command)
    files = NodeFiles(Path(a.config), Path(a.cert), Path(a.key), Path(a.ca), Path(a.crl))
    log = EventLog("aggregator")
    # the genuine node, whose own server (on a throwaway port) is never started
    node = AggregatorNode(files, Path(a.certs), Path(a.state_dir), "127.0.0.1:0", log)
    rogue = LyingHandlers(node.mailbox, load_identity_key(files.key))
    credentials = server_credentials(
        files.key.read_bytes(), files.cert.read_bytes(), files.ca.read_bytes()
    )
    server, port = build_server(
        AggregationServicer(node.trust, rogue), node.config.aggregator.address, credentials, 24
    )
    server.start()
    log("listening", port=port)
    try:
        node.driver.await_joins(node.config.timeouts.join)
        state = node.resume_state()
        plan = RoundPlan(1, state.head, node.codec.vector_length(len(state.model)))
        if args.attack == "forge-sum":
            rogue.withholding, rogue.forging = False, True
            forged = node.driver.run_round(plan)
            log("attack-round", acks=len(forged.acks))  # a silo acks only what it verified
            return 0
        first = node.driver.run_round(plan)
        log("attack-session", session="A", unmasked=first.result is not None)
        head = flipped(state.head) if args.attack == "rerun-flipped" else state.head
        second = node.driver.run_round(RoundPlan(1, head, plan.vector_length))
        log("attack-session", session="B", unmasked=second.result is not None)
    finally:
        node.driver.stop()
        server.stop(0).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
