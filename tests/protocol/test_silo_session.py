"""The silo's masking session as the runtime drives it: its upload read chunk by chunk,
the release joined with the downloads it asks for, typed outputs throughout. Both
sessions are driven here exactly as the nodes drive them, with no transport."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fedsilo.errors import (
    ContextMismatchError,
    LocalProtocolError,
    PKIError,
    ReleaseVerificationError,
    UnexpectedMessageError,
)
from fedsilo.protocol.masking.messages import ReleaseBundle, ReleaseNotice
from fedsilo.protocol.masking.scheme import MASKING
from fedsilo.protocol.masking.session import MaskingAggregatorSession
from fedsilo.protocol.masking.silo_session import MaskingSiloSession
from fedsilo.protocol.messages import Outgoing
from fedsilo.protocol.outputs import (
    INPUTS_DOWNLOAD,
    RESULT_DOWNLOAD,
    Completed,
    Fetch,
    Serve,
    Upload,
)
from fedsilo.testing.entropy import SeededEntropy
from fedsilo.testing.harness import (
    Federation,
    fresh_ledger,
    make_federation,
    protocol_link,
    random_inputs,
)
from tests.protocol.helpers import plain_sum

LENGTH = 50
CHUNK = 16


class Run:
    """Five silo sessions and the aggregator's, wired as the runtime wires them."""

    def __init__(
        self, fed: Federation, tamper_y: bool = False, revoked: dict[int, str] | None = None
    ) -> None:
        self.fed, self.tamper_y = fed, tamper_y
        self.inputs = random_inputs(fed, LENGTH)
        self.aggregator: MaskingAggregatorSession = MASKING.aggregator_session(
            fed.params, context=fed.context(), roster=fed.roster, vector_length=LENGTH
        )
        self.silos = {
            i: MASKING.silo_session(
                fed.params,
                context=fed.context(),
                roster=fed.roster,
                index=i,
                identity=fed.identity(i),
                entropy=SeededEntropy(0, 1, i),
                ledger=fresh_ledger(fed),
                protected=self.inputs[i - 1],
                revoked=revoked,
            )
            for i in fed.roster.indices
        }
        self.downloads: dict[str, bytes] = {}
        self.fetches: dict[int, list[Fetch]] = {}
        self.uploads: dict[int, Upload] = {}
        self.tamper_count = False  # announce a sum count no genuine Y has
        self.hold_release = False  # keep each silo's release notice instead of delivering it
        self.notices: dict[int, ReleaseNotice] = {}

    def carry_out(self, sender: int, outputs: list[object]) -> list[Outgoing]:
        """What the silo runtime does with a silo session's outputs."""
        sent: list[object] = []
        silo = self.silos[sender]
        while outputs:
            output = outputs.pop(0)
            if isinstance(output, Upload):
                self.uploads[sender] = output
                for offset in range(0, output.total_length, CHUNK):
                    count = min(CHUNK, output.total_length - offset)
                    sent += self.aggregator.receive_chunk(
                        silo.context,
                        output.stage,
                        sender,
                        offset,
                        output.total_length,
                        silo.vector_chunk(offset, count),
                    )
            elif isinstance(output, Fetch):
                self.fetches.setdefault(sender, []).append(output)
                data = self.downloads[output.name]
                assert len(data) == output.size  # the client fetches exactly this many
                outputs += silo.fetched(output.name, data)
            else:
                sent += self.aggregator.receive(output)
        for out in sent:
            if isinstance(out, Serve):
                served = bytearray(out.data)
                if self.tamper_y and out.name == RESULT_DOWNLOAD:
                    served[0] ^= 1
                self.downloads[out.name] = bytes(served)
        return [o for o in sent if isinstance(o, Outgoing)]

    def run(self) -> None:
        pending = [o for i, s in self.silos.items() for o in self.carry_out(i, s.start())]
        while pending:
            following = []
            for out in pending:
                silo, message = self.silos[out.recipient], out.message
                notice: object = message
                if isinstance(message, ReleaseBundle):  # on the wire: its notice
                    count = 0 if self.tamper_count else message.total.count
                    notice = ReleaseNotice(
                        message.context, message.self_seeds, message.mask_keys, count
                    )
                    if self.hold_release:
                        self.notices[out.recipient] = notice
                        continue
                following += self.carry_out(out.recipient, list(silo.receive(notice)))
                if silo.verified and silo.aggregate is not None:  # derive, then ack
                    acks = list(silo.acknowledge(protocol_link(silo.aggregate)))
                    following += self.carry_out(out.recipient, acks)
            pending = following


def test_each_silo_uploads_its_masked_vector_chunk_by_chunk_and_the_sum_is_exact() -> None:
    run = Run(make_federation(5))
    run.run()
    assert {u.total_length for u in run.uploads.values()} == {LENGTH}
    assert {u.element_bytes for u in run.uploads.values()} == {4}
    ending = run.aggregator.ending
    assert isinstance(ending, Completed) and set(ending.acks) == set(range(1, 6))
    for silo in run.silos.values():
        assert silo.aggregate is not None
        assert np.array_equal(silo.aggregate.total, plain_sum(run.inputs, range(1, 6), 32))


def test_in_sketch_mode_a_silo_fetches_y_alone_of_exactly_its_size() -> None:
    run = Run(make_federation(5))
    run.run()
    limbs = LENGTH  # 32-bit words: one limb each, then one carry byte per limb
    assert all(f == [Fetch(RESULT_DOWNLOAD, 5 * limbs)] for f in run.fetches.values())


def test_with_full_verification_a_silo_fetches_y_and_every_survivors_input() -> None:
    run = Run(make_federation(5, full_verification=True))
    run.run()
    wanted = [Fetch(RESULT_DOWNLOAD, 5 * LENGTH), Fetch(INPUTS_DOWNLOAD, 5 * LENGTH * 4)]
    assert all(f == wanted for f in run.fetches.values())
    assert all(s.aggregate is not None for s in run.silos.values())


def test_a_forged_y_is_refused_once_it_is_fetched() -> None:
    run = Run(make_federation(5), tamper_y=True)
    with pytest.raises(ReleaseVerificationError):
        run.run()
    assert all(s.aggregate is None for s in run.silos.values())


def test_a_download_nobody_asked_for_is_refused() -> None:
    run = Run(make_federation(5))
    silo = run.silos[1]
    assert isinstance(silo, MaskingSiloSession)
    with pytest.raises(LocalProtocolError, match="nothing of 'result' was asked for"):
        silo.fetched(RESULT_DOWNLOAD, b"")


def test_a_release_notice_of_another_session_is_refused() -> None:
    run = Run(make_federation(5))
    other = dataclasses.replace(run.fed.context(), session_id=bytes(32))
    with pytest.raises(ContextMismatchError, match="another session"):
        run.silos[1].receive(ReleaseNotice(other, (), (), 5))


def test_a_release_whose_sum_does_not_parse_aborts_the_silo_as_an_unverified_release() -> None:
    """A sum count no genuine Y can have is refused as the release (so the silo keeps its
    evidence), and the session takes nothing more."""
    run = Run(make_federation(5))
    run.tamper_count = True
    with pytest.raises(ReleaseVerificationError, match="does not parse"):
        run.run()
    silo = run.silos[1]
    assert silo.state.value == "aborted" and silo.aggregate is None


def test_a_second_release_notice_is_refused_and_aborts_the_silo() -> None:
    run = Run(make_federation(5))
    run.hold_release = True
    run.run()
    silo, notice = run.silos[1], run.notices[1]
    silo.receive(notice)
    with pytest.raises(UnexpectedMessageError, match="already announced"):
        silo.receive(notice)
    assert silo.state.value == "aborted"


def test_only_the_downloads_asked_for_are_taken_once_each() -> None:
    run = Run(make_federation(5))
    run.hold_release = True
    run.run()
    silo = run.silos[1]
    assert silo.receive(run.notices[1]) == [Fetch(RESULT_DOWNLOAD, 5 * LENGTH)]
    with pytest.raises(LocalProtocolError, match="nothing of 'inputs' was asked for"):
        silo.fetched(INPUTS_DOWNLOAD, b"")  # sketch mode asks for Y alone


def test_a_session_listing_a_silo_whose_certificate_was_revoked_is_refused_at_the_adverts() -> None:
    run = Run(make_federation(5), revoked={3: "silo-3 (revoked since round 1)"})
    with pytest.raises(PKIError, match=r"includes silo-3 \(revoked since round 1\)"):
        run.run()
    assert run.silos[1].state.value == "aborted"  # the first to see the adverts: it stops there
