"""The aggregator's masking session as the runtime drives it: raw chunks of the masked
vectors, resends and equivocation, typed outputs and the session's ending."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fedsilo.errors import (
    ConfigError,
    ContextMismatchError,
    EquivocationError,
    IncompleteUploadError,
    LocalProtocolError,
    RemoteProtocolError,
)
from fedsilo.protocol import words
from fedsilo.protocol.masking.aggregator import MaskingAggregator
from fedsilo.protocol.masking.messages import (
    MaskedInput,
    MaskedInputStream,
    ReleaseBundle,
    ShareCheck,
    SignatureBundle,
    SiloMessage,
    Stage,
)
from fedsilo.protocol.masking.scheme import MASKING
from fedsilo.protocol.masking.session import MaskingAggregatorSession
from fedsilo.protocol.masking.silo import MaskingSilo
from fedsilo.protocol.masking.states import SiloState
from fedsilo.protocol.messages import Outgoing
from fedsilo.protocol.outputs import RESULT_DOWNLOAD, AggregatorOutput, Completed, Persist, Serve
from fedsilo.testing.adversary import Adversary
from fedsilo.testing.harness import (
    honest_silos,
    make_federation,
    protocol_link,
    random_inputs,
    run_aggregation,
)
from tests.protocol.helpers import plain_sum

FED = make_federation(5)
LENGTH = 40
MASKED = Stage.MASKED_INPUT.value
INPUTS = random_inputs(FED, LENGTH)


def silos_of() -> dict[int, MaskingSilo]:
    return honest_silos(FED, INPUTS)


def replies_to(silos: dict[int, MaskingSilo], outputs: list[AggregatorOutput]) -> list[SiloMessage]:
    replies: list[SiloMessage] = []
    for o in outputs:
        if isinstance(o, Outgoing):
            silo = silos[o.recipient]
            replies += silo.receive(o.message)
            if silo.state is SiloState.VERIFIED and silo.aggregate is not None:
                replies += silo.acknowledge(protocol_link(silo.aggregate))
    return replies


def deliver(session: MaskingAggregatorSession, message: SiloMessage) -> list[AggregatorOutput]:
    """As the runtime delivers: a masked vector as raw chunks of 16 words."""
    if not isinstance(message, MaskedInputStream):
        return list(session.receive(message))
    outputs: list[AggregatorOutput] = []
    for c in message.chunks(16):
        data = words.words_to_bytes(c.values)
        outputs += session.receive_chunk(
            c.context, MASKED, c.sender, c.offset, c.total_length, data
        )
    return outputs


def at_masked_input() -> tuple[MaskingAggregatorSession, dict[int, MaskedInputStream]]:
    """A session whose five silos all advertised, shared and checked; their masked vectors
    (not yet sent) by silo, their input commitments delivered."""
    session = MASKING.aggregator_session(
        FED.params, context=FED.context(), roster=FED.roster, vector_length=LENGTH
    )
    silos = silos_of()
    streams: dict[int, MaskedInputStream] = {}
    pending: list[SiloMessage] = [m for s in silos.values() for m in s.start()]
    while session.stage != "masked-input" or len(streams) < len(silos):
        outputs: list[AggregatorOutput] = []
        for message in pending:
            if isinstance(message, MaskedInputStream):
                streams[message.sender] = message
            else:
                outputs += session.receive(message)
        pending = replies_to(silos, outputs)
    return session, streams


def raw(stream: MaskedInputStream, start: int, stop: int) -> bytes:
    return words.words_to_bytes(stream.masked[start:stop])


def test_an_identical_chunk_resend_is_acknowledged_and_folded_once() -> None:
    session, streams = at_masked_input()
    ctx = FED.context()
    assert session.receive_chunk(ctx, MASKED, 1, 0, LENGTH, raw(streams[1], 0, 10)) == []
    assert session.receive_chunk(ctx, MASKED, 1, 0, LENGTH, raw(streams[1], 0, 10)) == []
    assert session.received(1) == 10


def test_a_different_chunk_at_a_folded_offset_is_equivocation() -> None:
    session, streams = at_masked_input()
    ctx = FED.context()
    session.receive_chunk(ctx, MASKED, 1, 0, LENGTH, raw(streams[1], 0, 10))
    with pytest.raises(EquivocationError, match="sent a different chunk at offset 0"):
        session.receive_chunk(ctx, MASKED, 1, 0, LENGTH, raw(streams[2], 0, 10))
    assert session.received(1) == 10


def test_a_chunk_labelled_with_another_stage_is_refused_and_folds_nothing() -> None:
    session, streams = at_masked_input()
    with pytest.raises(ContextMismatchError, match="labelled stage 'unmasking'"):
        session.receive_chunk(FED.context(), "unmasking", 1, 0, LENGTH, raw(streams[1], 0, 10))
    assert session.received(1) == 0


def test_a_gap_names_the_offset_to_resume_from() -> None:
    session, streams = at_masked_input()
    with pytest.raises(IncompleteUploadError, match="expected offset 0, got 10") as caught:
        session.receive_chunk(FED.context(), MASKED, 1, 10, LENGTH, raw(streams[1], 10, 20))
    assert caught.value.offset == 0
    assert session.received(1) == 0


def test_an_empty_chunk_is_refused_and_counts_nothing() -> None:
    session, _ = at_masked_input()
    with pytest.raises(RemoteProtocolError, match="an empty chunk"):
        session.receive_chunk(FED.context(), MASKED, 5, 0, LENGTH, b"")
    assert session.received(5) == 0


def test_the_core_behind_the_session_refuses_an_empty_chunk_too() -> None:
    session, _ = at_masked_input()
    core = session.core
    assert isinstance(core, MaskingAggregator)
    empty = MaskedInput(FED.context(), 5, 0, LENGTH, np.zeros(0, dtype=np.uint32))
    with pytest.raises(RemoteProtocolError, match="does not continue"):
        core.receive(empty)


@dataclasses.dataclass
class SendsAnEmptyChunk(Adversary):
    """Silo 5 (a colluder) sends one empty chunk of its masked vector, then nothing."""

    sender: int = 5

    def inbound(self, message: SiloMessage) -> list[SiloMessage]:
        relayed = super().inbound(message)
        out: list[SiloMessage] = []
        for m in relayed:
            if isinstance(m, MaskedInput) and m.sender == self.sender:
                if m.offset == 0:
                    out.append(dataclasses.replace(m, values=m.values[:0]))
                continue
            out.append(m)
        return out


def test_a_silo_sending_an_empty_chunk_is_left_out_and_the_others_verify_the_release() -> None:
    """Before the fix, the empty chunk counted silo 5's vector in Y with nothing folded:
    the survivors revealed, then every one refused the release, and the round could not
    run again."""
    run = run_aggregation(FED, INPUTS, adversary=SendsAnEmptyChunk())
    assert any("an empty chunk" in str(e) for e in run.rejected)
    assert run.aggregator_error is None and run.result is not None
    assert list(run.result.survivors) == [1, 2, 3, 4]
    assert np.array_equal(run.result.total, plain_sum(INPUTS, [1, 2, 3, 4], 32))
    assert all(run.silos[i].state is SiloState.DONE for i in (1, 2, 3, 4))


def test_the_session_persists_before_it_reveals_and_serves_y_with_the_release() -> None:
    """Outputs in the order the runtime needs them: the durable form once, ahead of the
    signature bundles (before any silo can reveal); the downloads once, ahead of the
    release; and the ending is the result every survivor verified."""
    session = MASKING.aggregator_session(
        FED.params, context=FED.context(), roster=FED.roster, vector_length=LENGTH
    )
    silos = silos_of()
    batches: list[list[AggregatorOutput]] = []
    pending: list[SiloMessage] = [m for s in silos.values() for m in s.start()]
    while pending:
        batch = [o for m in pending for o in deliver(session, m)]
        batches.append(batch)
        pending = replies_to(silos, batch)

    def first(kind: type, batch: list[AggregatorOutput]) -> int:
        return next(i for i, o in enumerate(batch) if isinstance(o, kind))

    (persisting,) = [b for b in batches if any(isinstance(o, Persist) for o in b)]
    bundles = [i for i, o in enumerate(persisting) if isinstance(o, Outgoing)]
    assert isinstance(persisting[bundles[0]].message, SignatureBundle)  # type: ignore[union-attr]
    assert first(Persist, persisting) < bundles[0]
    (serving,) = [b for b in batches if any(isinstance(o, Serve) for o in b)]
    served = [o for o in serving if isinstance(o, Serve)]
    assert [o.name for o in served] == [RESULT_DOWNLOAD]  # sketch mode: no inputs served
    releases = [i for i, o in enumerate(serving) if isinstance(o, Outgoing)]
    assert isinstance(serving[releases[0]].message, ReleaseBundle)  # type: ignore[union-attr]
    assert first(Serve, serving) < releases[0]
    ending = session.ending
    assert isinstance(ending, Completed)
    assert np.array_equal(ending.result.total, plain_sum(INPUTS, range(1, 6), 32))
    assert set(ending.acks) == set(range(1, 6))


def persisted() -> tuple[MaskingAggregatorSession, Persist]:
    """A session driven up to its durable form (the signature bundles not yet delivered)."""
    session = MASKING.aggregator_session(
        FED.params, context=FED.context(), roster=FED.roster, vector_length=LENGTH
    )
    silos = silos_of()
    pending: list[SiloMessage] = [m for s in silos.values() for m in s.start()]
    while True:
        batch = [o for m in pending for o in deliver(session, m)]
        found = [o for o in batch if isinstance(o, Persist)]
        if found:
            return session, found[0]
        pending = replies_to(silos, batch)


def test_a_persisted_session_resumes_collecting_the_same_unmasking() -> None:
    session, persist = persisted()
    resumed = MASKING.resume_aggregator_session(
        FED.params, persist.record, persist.data, context=FED.context(), roster=FED.roster
    )
    assert resumed.stage == session.stage == "unmasking"
    assert resumed.waiting_for == session.waiting_for == frozenset(range(1, 6))


def test_a_journal_written_before_the_scheme_seam_still_resumes() -> None:
    """Its header held the masking record's keys at the top level, beside the runtime's."""
    session, persist = persisted()
    legacy = {"chain_head": "00" * 32, "vector_length": LENGTH, "outbox": [], **persist.record}
    resumed = MASKING.resume_aggregator_session(
        FED.params, legacy, persist.data, context=FED.context(), roster=FED.roster
    )
    assert resumed.stage == "unmasking" and resumed.waiting_for == session.waiting_for


def test_a_malformed_journal_record_is_one_clear_error() -> None:
    _, persist = persisted()
    broken = {k: v for k, v in persist.record.items() if k != "sum_count"}
    with pytest.raises(ConfigError, match="journal is malformed"):
        MASKING.resume_aggregator_session(
            FED.params, broken, persist.data, context=FED.context(), roster=FED.roster
        )


def test_a_chunk_handed_to_receive_is_refused_so_every_chunk_is_checked_in_full() -> None:
    session, streams = at_masked_input()
    chunk = next(streams[1].chunks(10))
    with pytest.raises(LocalProtocolError, match="goes to receive_chunk"):
        session.receive(chunk)
    assert session.received(1) == 0


def test_a_journaled_sum_of_an_impossible_size_is_one_clear_error() -> None:
    _, persist = persisted()
    broken = {**persist.record, "sum_bytes": 7}  # not whole limbs
    with pytest.raises(ConfigError, match="malformed"):
        MASKING.resume_aggregator_session(
            FED.params, broken, persist.data, context=FED.context(), roster=FED.roster
        )


def test_a_flood_of_accusations_is_refused_before_its_signature_is_checked() -> None:
    """A silo may sign a check naming millions of dealers (it fits a message): the bound on
    the list comes first, so the aggregator never hashes and verifies what it would refuse."""
    session = MASKING.aggregator_session(
        FED.params, context=FED.context(), roster=FED.roster, vector_length=LENGTH
    )
    silos = silos_of()
    pending: list[SiloMessage] = [m for s in silos.values() for m in s.start()]
    while session.stage != Stage.SHARE_CHECK.value:
        outputs: list[AggregatorOutput] = []
        for message in pending:
            outputs += session.receive(message)
        pending = replies_to(silos, outputs)
    flood = ShareCheck(FED.context(), 1, tuple(range(2, 200_002)), b"\x00" * 64)
    with pytest.raises(RemoteProtocolError, match="accused silos that dealt it nothing"):
        session.receive(flood)
