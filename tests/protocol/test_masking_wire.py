"""Masking's message bodies on the wire: every message reads back as it was sent, the
envelope's stage decides what a body is read as, and a body cannot speak for another
silo than its envelope names."""

from __future__ import annotations

import numpy as np
import pytest

from fedsilo.errors import RemoteProtocolError
from fedsilo.protocol.masking.messages import (
    AdvertList,
    ConsistencySignature,
    DealerCommitments,
    EncryptedShare,
    EvidenceNotice,
    InputCommitment,
    KeyAdvert,
    MaskingSet,
    ReleaseNotice,
    RevealedSecret,
    RevealedShare,
    ShareCheck,
    ShareRelay,
    ShareUpload,
    SignatureBundle,
    SpotLeaf,
    SurvivorList,
    UnmaskingShares,
)
from fedsilo.protocol.masking.wire import MaskingWire
from fedsilo.protocol.messages import Ack, SessionContext

CTX = SessionContext("fed", b"d" * 32, b"s" * 32, 4, b"h" * 32)
WIRE = MaskingWire()
ADVERT = KeyAdvert(CTX, 2, b"c" * 32, b"m" * 32, b"b" * 32, b"sig")
COMMITMENT = InputCommitment(CTX, 3, 1000, b"d" * 32, b"r" * 32, b"sig3")
CHECK = ShareCheck(CTX, 1, (2, 3), b"sig1")
DEALER = DealerCommitments(2, b"self", b"mask", b"sig2")
ACK = Ack(CTX, 2, b"H" * 32, b"sig")
SURVIVORS = SurvivorList(CTX, (1, 3), (2,), (COMMITMENT,), b"Y" * 32)
BUNDLE = SignatureBundle(CTX, (1, 3), (2,), (ConsistencySignature(CTX, 1, (9,), (), b"sig"),))
RELEASE = ReleaseNotice(CTX, (RevealedSecret(1, b"b1"),), (RevealedSecret(2, b"k2"),), 2)
ADVERTS = AdvertList(CTX, (ADVERT, KeyAdvert(CTX, 3, b"C" * 32, b"M" * 32, b"B" * 32, b"s")))

SILO_MESSAGES = [
    ADVERT,
    ShareUpload(CTX, 2, (EncryptedShare(2, 1, b"x"), EncryptedShare(2, 3, b"y")), DEALER),
    CHECK,
    COMMITMENT,
    ConsistencySignature(CTX, 1, (5, 6, 7), (), b"sig"),
    UnmaskingShares(CTX, 3, (RevealedShare(1, b"a"),), (RevealedShare(2, b"b"),), b"sig"),
    ACK,
]

AGGREGATOR_MESSAGES = [
    ADVERTS,
    ShareRelay(CTX, 1, (2, 3), (EncryptedShare(2, 1, b"x"),), (DEALER,)),
    MaskingSet(CTX, (1, 2, 3), (CHECK,)),
    SURVIVORS,
    BUNDLE,
    RELEASE,
]


@pytest.mark.parametrize("message", SILO_MESSAGES, ids=lambda m: type(m).__name__)
def test_every_silo_message_reads_back_as_it_was_sent(message: object) -> None:
    stage, sender, body = WIRE.silo_body(message)  # type: ignore[arg-type]
    assert WIRE.silo_message(CTX, stage, sender, body) == message


@pytest.mark.parametrize("message", AGGREGATOR_MESSAGES, ids=lambda m: type(m).__name__)
def test_every_aggregator_message_reads_back_as_it_was_sent(message: object) -> None:
    stage, body = WIRE.aggregator_body(message)  # type: ignore[arg-type]
    assert WIRE.aggregator_message(CTX, stage, body) == message


def test_spot_leaves_read_back_as_32_bit_limbs() -> None:
    words = np.array([1, 2**32 - 1, 7], dtype=np.uint32)
    leaf = SpotLeaf(3, words, (b"p" * 32,))
    sent = ConsistencySignature(CTX, 1, (1,), (leaf,), b"sig")
    stage, sender, body = WIRE.silo_body(sent)
    (got,) = WIRE.silo_message(CTX, stage, sender, body).spot_leaves  # type: ignore[union-attr]
    assert (got.leaf, got.proof) == (3, (b"p" * 32,))
    assert np.array_equal(got.words, words)


def test_a_body_that_names_another_sender_than_its_envelope_is_refused() -> None:
    stage, _, body = WIRE.silo_body(ADVERT)  # silo 2's advert...
    with pytest.raises(RemoteProtocolError, match="of silo 2 sent as silo 5"):
        WIRE.silo_message(CTX, stage, 5, body)  # ...framed as silo 5's


def test_the_context_is_the_envelopes_not_the_bodys() -> None:
    """A body carries no context: the session it is read in is the one its envelope names
    (which the aggregator checks is the open one, and every signature binds)."""
    stage, sender, body = WIRE.silo_body(ADVERT)
    other = SessionContext("fed", b"d" * 32, b"t" * 32, 5, b"h" * 32)
    assert WIRE.silo_message(other, stage, sender, body).context == other


@pytest.mark.parametrize("stage", ["outcome", "announce", "no-such-stage"])
def test_a_stage_masking_has_no_message_for_is_refused(stage: str) -> None:
    with pytest.raises(RemoteProtocolError, match="masking has no silo message"):
        WIRE.silo_message(CTX, stage, 1, b"")


def test_malformed_bytes_are_refused_naming_the_stage() -> None:
    with pytest.raises(RemoteProtocolError, match="a malformed share-keys message"):
        WIRE.silo_message(CTX, "share-keys", 1, b"\xff\xff\xff")


def test_evidence_names_its_own_session() -> None:
    """The archive keeps a final round's evidence as one body: it must carry its session."""
    evidence = EvidenceNotice(CTX, ADVERTS, SURVIVORS, BUNDLE, RELEASE, (ACK,))
    assert WIRE.evidence(WIRE.evidence_body(evidence)) == evidence


def test_a_dispute_missing_a_message_it_needs_is_refused_naming_it() -> None:
    messages = {"share-keys": ADVERTS, "consistency-check": SURVIVORS, "release": RELEASE}
    with pytest.raises(RemoteProtocolError, match="holds no unmasking message"):
        WIRE.dispute_evidence(CTX, messages)
