"""The aggregator's signed envelope names its message type and stage, and a round outcome
ends only the session it belongs to."""

from __future__ import annotations

import pytest

from fedsilo.crypto.signatures import IdentityKey
from fedsilo.errors import RemoteProtocolError, SignatureError
from fedsilo.transport import codec
from fedsilo.transport.calls import CallContext, SignedEnvelope
from fedsilo.transport.codec import Announcement, SessionOutcome
from fedsilo.transport.proto import fedsilo_pb2 as pb

AGGREGATOR = IdentityKey.generate()
KEY = AGGREGATOR.verifying_key


def announcement_body(round_number: int = 3, nonce: bytes = bytes(32)) -> bytes:
    return codec.announce("fed", bytes(32), round_number, bytes(32), 100, b"params", nonce)


def announcement(round_number: int = 3, nonce: bytes = bytes(32)) -> Announcement:
    return codec.announcement(announcement_body(round_number, nonce))


def signed_announcement() -> SignedEnvelope:
    body = announcement_body()
    return codec.sign(AGGREGATOR, body, codec.ANNOUNCEMENT_KIND, codec.ANNOUNCE_STAGE)


def relabelled(signed: SignedEnvelope, **fields: str) -> SignedEnvelope:
    """``signed`` with its labels changed, as anyone without the aggregator's key can."""
    envelope = pb.Signed.FromString(signed)
    for name, value in fields.items():
        setattr(envelope, name, value)
    return envelope.SerializeToString()


def outcome_for(a: Announcement, stage: str = codec.OUTCOME_STAGE) -> SessionOutcome:
    return SessionOutcome(CallContext.of(a.context, stage, 0), False, (), "")


def test_an_envelope_opens_as_the_type_and_stage_it_was_signed_for() -> None:
    body = codec.open_signed(
        KEY, signed_announcement(), codec.ANNOUNCEMENT_KIND, (codec.ANNOUNCE_STAGE,)
    )
    assert body == announcement_body()


def test_an_announcement_names_the_session_its_hash_gives() -> None:
    a = announcement()
    assert a.context.session_id == a.hashed_id and len(a.hashed_id) == 32
    assert announcement(nonce=bytes([1]) * 32).hashed_id != a.hashed_id


def test_an_envelope_whose_type_was_swapped_is_refused() -> None:
    swapped = relabelled(signed_announcement(), kind=codec.MESSAGE_KIND)
    with pytest.raises(SignatureError, match="not signed by its pinned key"):
        codec.open_signed(KEY, swapped, codec.MESSAGE_KIND)


def test_a_validly_signed_envelope_of_another_type_is_refused() -> None:
    with pytest.raises(RemoteProtocolError, match="session-announcement envelope where a"):
        codec.open_signed(KEY, signed_announcement(), codec.MESSAGE_KIND)


def test_a_message_signed_for_another_stage_is_refused() -> None:
    signed = codec.sign(AGGREGATOR, b"", codec.MESSAGE_KIND, "share-keys")
    with pytest.raises(RemoteProtocolError, match="signed for stage 'share-keys'"):
        codec.open_signed(KEY, signed, codec.MESSAGE_KIND, ("release", codec.OUTCOME_STAGE))


def test_a_stage_swapped_in_the_envelope_is_refused() -> None:
    signed = relabelled(
        codec.sign(AGGREGATOR, b"", codec.MESSAGE_KIND, "share-keys"), stage="release"
    )
    with pytest.raises(SignatureError):
        codec.open_signed(KEY, signed, codec.MESSAGE_KIND, ("release",))


def test_the_outcome_of_the_session_a_silo_is_in_is_accepted() -> None:
    a = announcement()
    outcome = outcome_for(a)
    assert codec.outcome_of(a.context, outcome) is outcome


@pytest.mark.parametrize(
    "other",
    [announcement(nonce=bytes([1]) * 32), announcement(round_number=2)],
    ids=["another session of the round", "a session of another round"],
)
def test_an_outcome_from_another_session_is_refused(other: Announcement) -> None:
    current = announcement().context
    with pytest.raises(RemoteProtocolError, match="the outcome of another session"):
        codec.outcome_of(current, outcome_for(other))


def test_an_outcome_context_of_another_stage_is_refused() -> None:
    a = announcement()
    with pytest.raises(RemoteProtocolError, match="another session"):
        codec.outcome_of(a.context, outcome_for(a, stage="release"))
