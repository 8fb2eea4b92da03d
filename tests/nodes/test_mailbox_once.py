"""The aggregator's mailbox acknowledges, journals and announces each silo answer exactly
once, whatever the silo retries and whenever the session ended: a resend into a session
that the resent message's first arrival aborted is refused, a failed journal append is
never acknowledged by a retry (which journals it and sends what it completed), and an
identical re-upload is announced once. (Attacks scripted by an adversarial review.)"""

from __future__ import annotations

import dataclasses
import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fedsilo.crypto import feldman, group
from fedsilo.errors import (
    DurabilityError,
    FalseShareError,
    StageClosedError,
    TooFewSurvivorsError,
    UnverifiableReleaseError,
)
from fedsilo.pki.files import load_identity_key
from fedsilo.protocol.masking import payloads
from fedsilo.protocol.masking.messages import (
    ConsistencySignature,
    MaskedInputStream,
    RevealedShare,
    ShareUpload,
    UnmaskingShares,
)
from fedsilo.protocol.outputs import Aborted
from fedsilo.transport import frames
from tests.nodes.live import framed
from tests.nodes.mailbox_rig import Rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    rig = Rig(tmp_path)
    try:
        yield rig
    finally:
        rig.close()


def at_unmasking(rig: Rig) -> tuple[dict[int, UnmaskingShares], dict[int, bytes]]:
    """Every silo's unmasking response, unsent, and each dealer's commitment digest."""
    uploads: dict[int, ShareUpload] = {}

    def seen(i: int, m: object) -> object:
        if isinstance(m, ShareUpload):
            uploads[i] = m
        return m

    batch = rig.run_until(lambda m: isinstance(m, UnmaskingShares), tamper=seen)
    responses = {
        i: next(m for m in ms if isinstance(m, UnmaskingShares)) for i, ms in batch.items()
    }
    digests = {i: payloads.dealer_digest(u.commitments) for i, u in uploads.items()}
    assert rig.session.journaled and sorted(responses) == [1, 2, 3, 4, 5]
    return responses, digests


def lying(rig: Rig, response: UnmaskingShares, digests: dict[int, bytes]) -> UnmaskingShares:
    """``response`` with its first self-mask share off by one, signed by its silo."""
    first = feldman.Share.from_bytes(response.self_mask_shares[0].share)
    wrong = feldman.Share(first.x, (first.y + 1) % group.Q).to_bytes()
    shares = (
        RevealedShare(response.self_mask_shares[0].owner, wrong),
        *response.self_mask_shares[1:],
    )
    identity = load_identity_key(rig.live.files(f"s{response.sender}").key)
    return payloads.sign_unmasking(
        identity, dataclasses.replace(response, self_mask_shares=shares), digests
    )


def journaled_submits(rig: Rig) -> list[tuple[str, int]]:
    events = rig.live.node.journal.load().events
    messages = [frames.stage_message_of(e.body) for e in events if e.kind == "submit"]
    return [(m.context.stage, m.context.sender) for m in messages]


def test_a_resend_of_the_message_that_aborted_the_session_is_refused_and_changes_nothing(
    rig: Rig,
) -> None:
    batch = rig.run_until(lambda m: isinstance(m, ConsistencySignature))
    signatures = {
        i: next(m for m in ms if isinstance(m, ConsistencySignature)) for i, ms in batch.items()
    }
    # silo 5 signs a sketch one element short: refused and excluded, so the last honest
    # signature (silo 4's) aborts the session: every survivor's sketch is needed
    rig.send(5, dataclasses.replace(signatures[5], sketch=signatures[5].sketch[:-1]))
    for i in (1, 2, 3, 4):
        rig.send(i, signatures[i])
    assert rig.errors[-1][0] == 4 and isinstance(rig.errors[-1][2], UnverifiableReleaseError)
    assert isinstance(rig.session.core.ending, Aborted)
    progress, answered = rig.mb.progress, rig.answered()
    with pytest.raises(StageClosedError):
        rig.mb.submit(rig.member(4), framed(signatures[4]))  # silo 4 retries
    assert rig.mb.progress == progress
    assert rig.answered() == answered


def test_a_resend_into_a_session_that_aborted_at_unmasking_is_not_journaled(rig: Rig) -> None:
    responses, digests = at_unmasking(rig)
    assert rig.mb.params.threshold == 4  # two liars leave three
    for liar in (1, 2):
        rig.send(liar, lying(rig, responses[liar], digests))
        assert isinstance(rig.errors[-1][2], FalseShareError)
    for i in (3, 4, 5):
        rig.send(i, responses[i])
    assert isinstance(rig.errors[-1][2], TooFewSurvivorsError)
    before = journaled_submits(rig)
    assert before == [("unmasking", 3), ("unmasking", 4)]
    with pytest.raises(StageClosedError):
        rig.mb.submit(rig.member(5), framed(responses[5]))  # silo 5 retries
    assert journaled_submits(rig) == before


def test_a_failed_journal_append_is_acknowledged_only_once_a_retry_journaled_it(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    responses, _ = at_unmasking(rig)
    for i in (1, 2, 3, 4):
        rig.send(i, responses[i])
    real_fsync, failures = os.fsync, [OSError(errno.EIO, "Input/output error")]

    def fsync_failing_once(fd: int) -> None:
        if failures:
            raise failures.pop()
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_failing_once)  # the disk fails the next append
    rig.send(5, responses[5])
    assert isinstance(rig.errors[-1][2], DurabilityError)  # refused: not known durable
    assert not any(stage == "release" for stage, _ in rig.session.outbox)
    rig.mb.submit(rig.member(5), framed(responses[5]))  # the retry is acknowledged ...
    assert ("unmasking", 5) in journaled_submits(rig)  # ... because it is durable now
    assert any(stage == "release" for stage, _ in rig.session.outbox)  # and completed


def test_an_identical_reupload_is_announced_once(rig: Rig) -> None:
    batch = rig.run_until(lambda m: isinstance(m, MaskedInputStream))
    stream = next(m for m in batch[1] if isinstance(m, MaskedInputStream))
    for _ in range(3):
        rig.send(1, stream)
    assert rig.errors == []
    uploads = [e for e in rig.answered() if e.stage == "masked-input" and e.silo == "s1"]
    assert len(uploads) == 1


def test_a_session_restored_after_false_shares_aborted_it_is_aborted_again(rig: Rig) -> None:
    """The refusals that excluded the liars are journaled too, so the session the
    aggregator rebuilds after a crash ends as the one before it did."""
    responses, digests = at_unmasking(rig)
    for liar in (1, 2):
        rig.send(liar, lying(rig, responses[liar], digests))
    for i in (3, 4, 5):
        rig.send(i, responses[i])
    assert isinstance(rig.session.core.ending, Aborted)
    restored = rig.mb.restore(rig.live.node.journal.load())
    assert isinstance(restored.core.ending, Aborted)
    assert sorted(restored.accepted) == [("unmasking", 3), ("unmasking", 4)]


def test_a_session_restored_after_one_false_share_still_waits_for_nobody_but_the_rest(
    rig: Rig,
) -> None:
    responses, digests = at_unmasking(rig)
    rig.send(1, lying(rig, responses[1], digests))
    rig.send(2, responses[2])
    restored = rig.mb.restore(rig.live.node.journal.load())
    assert restored.core.waiting_for == rig.session.core.waiting_for == frozenset({3, 4, 5})
