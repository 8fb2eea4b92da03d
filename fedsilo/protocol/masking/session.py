"""The masking aggregator behind the seam: typed outputs, stream continuity, resends.

:class:`~fedsilo.protocol.masking.aggregator.MaskingAggregator` is the state
machine; this session drives it for the runtime and owns what the runtime must
not know about masking:

* each masked-input chunk arrives as raw bytes; the session decodes the words,
  checks the declared length, folds only the next chunk of each silo's vector
  (a gap is :class:`~fedsilo.errors.IncompleteUploadError` with the offset to
  resume from), acknowledges an identical resend and refuses a different one as
  equivocation;
* the outputs are typed (:mod:`fedsilo.protocol.outputs`): the messages to send,
  the downloads to serve once ``Y`` is released (``Y`` itself; every survivor's
  ``y_u`` in full verification mode), the durable form of the session as
  unmasking opens, and the audit events, accusations included;
* :attr:`ending` says how the session ended.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

from fedsilo.crypto.prg import UIntArray
from fedsilo.crypto.sketch import WideSum
from fedsilo.errors import (
    ConfigError,
    ContextMismatchError,
    EquivocationError,
    FedsiloError,
    IncompleteUploadError,
    LocalProtocolError,
    RemoteProtocolError,
)
from fedsilo.protocol import words
from fedsilo.protocol.events import AccuserOverruled, AuditEvent, DealerAccused
from fedsilo.protocol.masking import records
from fedsilo.protocol.masking.aggregator import MaskingAggregator
from fedsilo.protocol.masking.messages import MaskedInput, MaskingSet, Stage
from fedsilo.protocol.masking.params import MaskingParams
from fedsilo.protocol.masking.states import AggregatorState
from fedsilo.protocol.messages import Outgoing, SessionContext
from fedsilo.protocol.outputs import (
    INPUTS_DOWNLOAD,
    RESULT_DOWNLOAD,
    Aborted,
    AggregatorOutput,
    Completed,
    Ending,
    Persist,
    Serve,
)
from fedsilo.protocol.roster import Roster


class MaskingAggregatorSession:
    """The aggregator's masking session as the runtime drives it."""

    def __init__(
        self,
        core: MaskingAggregator,
        params: MaskingParams,
        roster: Roster,
        *,
        persisted: bool = False,
    ) -> None:
        self._core, self._params, self._roster = core, params, roster
        self._persisted = persisted  # resumed from its journal: durable already
        self._served = False
        # (sender, offset) -> length and CRC-32 of the chunk folded there
        self._chunks: dict[tuple[int, int], bytes] = {}

    @classmethod
    def new(
        cls, params: MaskingParams, *, context: SessionContext, roster: Roster, vector_length: int
    ) -> MaskingAggregatorSession:
        core = MaskingAggregator(
            context=context, roster=roster, params=params, vector_length=vector_length
        )
        return cls(core, params, roster)

    @classmethod
    def resume(
        cls,
        params: MaskingParams,
        record: dict[str, Any],
        data: bytes,
        *,
        context: SessionContext,
        roster: Roster,
    ) -> MaskingAggregatorSession:
        """The session of a :class:`~fedsilo.protocol.outputs.Persist` output. ``record``
        may also be a whole journal header written before the scheme seam (the same keys
        at its top level, ``sum_bytes`` absent in the oldest)."""

        def parts() -> tuple[WideSum, tuple[tuple[int, UIntArray], ...]]:
            cut = int(record.get("sum_bytes", len(data)))
            total = WideSum.from_bytes(
                data[:cut], cut // WideSum.byte_size(1, 32), 32, int(record["sum_count"])
            )
            kept, length = data[cut:], int(record["core"]["length"])
            senders = [int(u) for u in record.get("input_senders", [])]
            inputs = words.masked_inputs(kept, senders, length, params.bits) if kept else ()
            return total, inputs

        try:
            total, inputs = records.parsed("journal", parts)
        except (FedsiloError, AttributeError) as exc:  # a sum or inputs of impossible sizes
            raise ConfigError(
                f"the journaled session's sum or inputs are malformed: {exc}"
            ) from exc
        core = MaskingAggregator.resume(
            record["core"], total, context=context, roster=roster, params=params, inputs=inputs
        )
        return cls(core, params, roster, persisted=True)

    # --- what the runtime reads -------------------------------------------------------

    @property
    def core(self) -> MaskingAggregator:
        """The state machine this session drives (read it, never feed it directly)."""
        return self._core

    @property
    def state(self) -> AggregatorState:
        return self._core.state

    @property
    def stage(self) -> str | None:
        stage = self._core.stage
        return None if stage is None else stage.value

    @property
    def waiting_for(self) -> frozenset[int]:
        return self._core.waiting_for

    def received(self, sender: int) -> int:
        return self._core.received(sender)

    @property
    def ending(self) -> Ending | None:
        core = self._core
        if core.state is AggregatorState.DONE and core.result is not None:
            acks = {i: a.head for i, a in core.acks.items()}
            return Completed(core.result, acks, core.evidence)
        if core.state is AggregatorState.ABORTED:
            return Aborted(core.error or FedsiloError("the session ended without a result"))
        return None

    # --- what the runtime feeds it ----------------------------------------------------

    def receive(self, message: Any) -> list[AggregatorOutput]:
        if isinstance(message, MaskedInput):  # only receive_chunk checks a chunk in full
            raise LocalProtocolError("a chunk of a masked vector goes to receive_chunk")
        return self._outputs(self._core.receive(message))

    def receive_chunk(
        self,
        context: SessionContext,
        stage: str,
        sender: int,
        offset: int,
        total_length: int,
        data: bytes,
    ) -> list[AggregatorOutput]:
        if stage != Stage.MASKED_INPUT.value:
            raise ContextMismatchError(
                f"the chunk is labelled stage {stage!r}, not {Stage.MASKED_INPUT.value!r}"
            )
        if context != self._core.context:
            raise ContextMismatchError("the chunk belongs to another federation, session or round")
        length = self._core.vector_length
        if total_length != length:
            raise RemoteProtocolError(
                f"declared {total_length} words, but this round's vector has {length}"
            )
        values = words.bytes_to_words(data, self._params.bits)
        if not len(values):
            # folding nothing would still count the sender's vector in Y (its partial
            # upload unseen), so the survivors would reveal and then refuse the release
            raise RemoteProtocolError("an empty chunk of masked input")
        if offset + len(values) > length:
            raise RemoteProtocolError(
                f"a chunk at offset {offset} of {len(values)} words runs beyond the "
                f"declared {length}"
            )
        # Only the first version of a chunk is ever folded. A resend is compared by length
        # and CRC-32 (4 GB/s, against 0.7 GB/s for BLAKE2b on this hot path): identical is
        # acknowledged, different is refused as equivocation. A crafted CRC collision could
        # at most make a deviating resend be ignored instead of refused, never counted.
        key = (sender, offset)
        digest = len(data).to_bytes(8, "big") + zlib.crc32(data).to_bytes(4, "big")
        if key in self._chunks:
            if self._chunks[key] != digest:
                raise EquivocationError(
                    f"{self._roster.name(sender)} sent a different chunk at offset {offset}"
                )
            return []  # already folded: an identical resend
        done = self._core.received(sender)
        if offset != done:
            raise IncompleteUploadError(f"expected offset {done}, got {offset}", done)
        outgoing = self._core.receive(
            MaskedInput(self._core.context, sender, offset, length, values)
        )
        self._chunks[key] = digest
        return self._outputs(outgoing)

    def end_of_stream(self, sender: int) -> None:
        """``sender``'s stream ended: refused with the offset to resume from if its vector
        is incomplete while inputs are still collected."""
        done, length = self._core.received(sender), self._core.vector_length
        if done < length and self._core.stage is Stage.MASKED_INPUT:
            raise IncompleteUploadError(
                f"masked input incomplete: {done} of {length} words; resume at offset {done}",
                done,
            )

    def close_stage(self) -> list[AggregatorOutput]:
        try:
            outgoing = self._core.close_stage()
        except FedsiloError:
            return self._outputs([])  # the core aborted: ``ending`` says why
        return self._outputs(outgoing)

    def abandon(self, reason: FedsiloError) -> None:
        self._core.abandon(reason)

    # --- outputs ----------------------------------------------------------------------

    def _outputs(self, outgoing: Sequence[Outgoing]) -> list[AggregatorOutput]:
        core = self._core
        out: list[AggregatorOutput] = list(core.take_events())
        if any(isinstance(o.message, MaskingSet) for o in outgoing):
            out += self._accusations()
        if core.revealing and not self._persisted:
            out.append(self._persist())  # durable before the signature bundle goes out
            self._persisted = True
        released = core.released_sum
        if released is not None and not self._served:
            out.append(Serve(RESULT_DOWNLOAD, released.to_bytes()))
            if core.masked_inputs:
                out.append(Serve(INPUTS_DOWNLOAD, words.inputs_bytes(core.masked_inputs)))
            self._served = True
        out += outgoing
        return out

    def _accusations(self) -> list[AuditEvent]:
        """Who accused whom in the share check (each accusation a signed ShareCheck, kept in
        the masking set the silos received), and who was left out for accusing too many."""
        r, name, names = self._core.context.round, self._roster.name, self._roster.names
        events: list[AuditEvent] = [
            DealerAccused(r, name(dealer), names(accusers))
            for dealer, accusers in self._core.accused.items()
        ]
        events += [AccuserOverruled(r, name(accuser)) for accuser in self._core.overruled]
        return events

    def _persist(self) -> Persist:
        record, total = self._core.unmasking_snapshot()
        total_bytes = total.to_bytes()
        inputs: Sequence[tuple[int, UIntArray]] = self._core.masked_inputs
        return Persist(
            {
                "core": record,
                "sum_count": total.count,
                "sum_bytes": len(total_bytes),  # then the survivors' y_u (full mode)
                "input_senders": [u for u, _ in inputs],
            },
            total_bytes + words.inputs_bytes(inputs),
        )
