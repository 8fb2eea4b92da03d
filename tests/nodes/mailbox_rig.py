"""The real aggregator mailbox and masking session, driven step by step with no round driver:
genuine masking silo sessions get the messages the aggregator's session sends (recorded as
it returns them, before the mailbox signs them), and their replies go in through
``Mailbox.submit`` and ``Mailbox.upload`` exactly as the transport hands them over, so a
test can stop, alter or repeat any one silo call."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fedsilo.audit.events import parse_events
from fedsilo.errors import FedsiloError
from fedsilo.pki.files import load_identity_key
from fedsilo.protocol import words
from fedsilo.protocol.events import StageAnswered
from fedsilo.protocol.ledger import InMemoryLedgerStore, RoundLedger
from fedsilo.protocol.masking.messages import MaskedInputStream
from fedsilo.protocol.masking.silo import MaskingSilo
from fedsilo.protocol.masking.states import SiloState
from fedsilo.protocol.messages import Outgoing
from fedsilo.runtime.rounds import RoundPlan, SessionState
from fedsilo.testing.entropy import SeededEntropy
from fedsilo.testing.harness import protocol_link
from fedsilo.transport.calls import CallContext, InputChunk
from tests.nodes.live import LiveFederation, framed


class Capture:
    """The aggregator's session, recording every message it sends."""

    def __init__(self, core: Any) -> None:
        self.core, self.out = core, list[Outgoing]()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.core, name)

    def _kept(self, outputs: Any) -> Any:
        self.out += [o for o in outputs if isinstance(o, Outgoing)]
        return outputs

    def receive(self, message: Any) -> Any:
        return self._kept(self.core.receive(message))

    def receive_chunk(self, *args: Any) -> Any:
        return self._kept(self.core.receive_chunk(*args))

    def close_stage(self) -> Any:
        return self._kept(self.core.close_stage())


class Rig:
    """One round of a live in-memory federation's aggregator, its silos in the test's hand."""

    def __init__(self, root: Path, silos: int = 5) -> None:
        self.live = LiveFederation(root, silos=silos, params=40, transport="memory")
        self.mb = self.live.node.mailbox
        state = self.live.node.resume_state()
        self.length = self.live.node.codec.vector_length(len(state.model))
        self.session: SessionState = self.mb.open(RoundPlan(1, state.head, self.length))
        self.capture = Capture(self.session.core)
        self.session.core = self.capture
        ctx = self.session.ctx
        self.silos = {
            i: MaskingSilo(
                context=ctx,
                roster=self.mb.roster,
                params=self.mb.params,
                index=i,
                identity=load_identity_key(self.live.files(f"s{i}").key),
                entropy=SeededEntropy("rig", i),
                ledger=RoundLedger(InMemoryLedgerStore(), ctx.chain_head),
                quantized_input=np.zeros(self.length, dtype=np.uint32),
            )
            for i in range(1, silos + 1)
        }
        self.errors: list[tuple[int, type, Exception]] = []

    def member(self, i: int) -> Any:
        """Silo ``i`` as the transport names it to the mailbox."""
        return self.live.node.trust.roster[f"s{i}"]

    def send(self, i: int, message: Any) -> None:
        """One silo message into the mailbox as the servicer hands it over."""
        try:
            if isinstance(message, MaskedInputStream):
                chunks = [
                    InputChunk(
                        CallContext.of(c.context, "masked-input", i),
                        c.offset,
                        c.total_length,
                        words.words_to_bytes(c.values),
                    )
                    for c in message.chunks(16)
                ]
                self.mb.upload(self.member(i), iter(chunks))
            else:
                self.mb.submit(self.member(i), framed(message))
        except FedsiloError as exc:
            self.errors.append((i, type(message), exc))

    def deliver(self) -> dict[int, list[Any]]:
        """Hand every captured Outgoing to its silo; their replies, by silo."""
        out, self.capture.out = self.capture.out, []
        replies: dict[int, list[Any]] = {}
        for o in out:
            silo = self.silos[o.recipient]
            r = silo.receive(o.message)
            if silo.state is SiloState.VERIFIED and silo.aggregate is not None:
                r += silo.acknowledge(protocol_link(silo.aggregate))
            replies.setdefault(o.recipient, []).extend(r)
        return replies

    def run_until(
        self, stop: Callable[[Any], bool], tamper: Callable[[int, Any], Any] = lambda i, m: m
    ) -> dict[int, list[Any]]:
        """Run the round; returns the first batch of replies (by silo) of which one message
        satisfies ``stop``, unsent."""
        pending = {i: s.start() for i, s in self.silos.items()}
        for _ in range(20):
            if any(stop(m) for ms in pending.values() for m in ms):
                return pending
            for i in sorted(pending):
                for m in pending[i]:
                    self.send(i, tamper(i, m))
            pending = self.deliver()
        raise AssertionError("the round did not get there")

    def answered(self) -> list[StageAnswered]:
        """Every StageAnswered event the aggregator logged, in order."""
        lines = self.live.log_stream.getvalue().splitlines()
        return [e for e in parse_events(lines) if isinstance(e, StageAnswered)]

    def close(self) -> None:
        self.live.close()
