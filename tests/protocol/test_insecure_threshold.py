"""The test kit's insecure threshold scheme streams each partial decryption as a vector
with a signed digest, as threshold Paillier streams decryption shares: a vector of another
length, or one that is not what its silo signed, is refused on either side as a protocol
error, never with a bare exception."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from fedsilo.errors import ReleaseVerificationError, RemoteProtocolError
from fedsilo.protocol.messages import Outgoing
from fedsilo.protocol.outputs import RESULT_DOWNLOAD, Serve, Upload
from fedsilo.protocol.scheme import AggregatorSession, SiloSession
from fedsilo.testing import toy_threshold as toy
from fedsilo.testing.entropy import SeededEntropy
from fedsilo.testing.scheme_driver import SchemeFederation, quantized_inputs, scheme_federation
from fedsilo.testing.schemes import ENABLE_VARIABLE, ENABLED, registered_test_scheme

SILOS, THRESHOLD, LENGTH = 4, 3, 5


@pytest.fixture
def fed(monkeypatch: pytest.MonkeyPatch) -> Iterator[SchemeFederation]:
    monkeypatch.setenv(ENABLE_VARIABLE, ENABLED)
    with registered_test_scheme(toy.InsecureThreshold()) as scheme:
        yield scheme_federation(scheme, SILOS, LENGTH, threshold=THRESHOLD, colluders=0)


def wired(fed: SchemeFederation, message: Any) -> Any:
    stage, sender, body = fed.scheme.wire.silo_body(message)
    return fed.scheme.wire.silo_message(fed.context(), stage, sender, body)


def contributed(
    fed: SchemeFederation,
) -> tuple[dict[int, SiloSession], AggregatorSession, list[Any]]:
    """Every silo contributed: the silos, the aggregator (now at ``decrypt``) and what it
    sent."""
    inputs = quantized_inputs(fed, LENGTH)
    silos: dict[int, SiloSession] = {}
    aggregator = fed.scheme.aggregator_session(
        fed.params, context=fed.context(), roster=fed.roster, vector_length=LENGTH
    )
    outputs: list[Any] = []
    for i in range(1, SILOS + 1):
        silos[i] = fed.scheme.silo_session(
            fed.params,
            context=fed.context(),
            roster=fed.roster,
            index=i,
            identity=fed.identities[i - 1],
            entropy=SeededEntropy(i),
            ledger=fed.ledger(),
            protected=inputs[i - 1],
            secret=fed.secrets[i],
        )
        upload, contribution = silos[i].start()
        assert isinstance(upload, Upload)
        chunk = silos[i].vector_chunk(0, LENGTH)
        aggregator.receive_chunk(fed.context(), upload.stage, i, 0, LENGTH, chunk)
        aggregator.end_of_stream(i)
        outputs = list(aggregator.receive(wired(fed, contribution)))
    assert aggregator.stage == toy.DECRYPT
    return silos, aggregator, outputs


def decrypting(
    fed: SchemeFederation, silo: SiloSession, sent: list[Any], i: int
) -> tuple[bytes, toy.Partial]:
    """Silo ``i`` checks the contributions and computes its partial decryption: the vector
    it streams and its signed digest."""
    served = next(o for o in sent if isinstance(o, Serve) and o.name == toy.CONTRIBUTIONS)
    listed = next(o.message for o in sent if isinstance(o, Outgoing) and o.recipient == i)
    silo.receive(listed)
    upload, partial = silo.fetched(served.name, bytearray(served.data))
    assert isinstance(upload, Upload) and upload.stage == toy.DECRYPT
    assert isinstance(partial, toy.Partial)
    return silo.vector_chunk(0, LENGTH), partial


def streamed(
    fed: SchemeFederation, aggregator: AggregatorSession, i: int, vector: bytes, partial: Any
) -> list[Any]:
    aggregator.receive_chunk(fed.context(), toy.DECRYPT, i, 0, LENGTH, vector)
    aggregator.end_of_stream(i)
    return list(aggregator.receive(wired(fed, partial)))


def test_the_aggregator_refuses_a_partial_decryption_vector_of_another_length(
    fed: SchemeFederation,
) -> None:
    silos, aggregator, sent = contributed(fed)
    vector, _ = decrypting(fed, silos[1], sent, 1)
    with pytest.raises(RemoteProtocolError, match="wrong length"):
        aggregator.receive_chunk(
            fed.context(), toy.DECRYPT, 1, 0, LENGTH - 1, vector[: -toy.ELEMENT]
        )
    assert aggregator.received(1) == 0


def test_the_aggregator_combines_only_partials_that_are_what_their_silos_signed(
    fed: SchemeFederation,
) -> None:
    silos, aggregator, sent = contributed(fed)
    for i in range(1, SILOS + 1):
        vector, partial = decrypting(fed, silos[i], sent, i)
        if i == 1:  # silo 1 streams another vector than the one it signed
            vector = bytes([vector[0] ^ 1]) + vector[1:]
        released = streamed(fed, aggregator, i, vector, partial)
    release = next(o.message for o in released if isinstance(o, Outgoing))
    assert [p.sender for p in release.partials] == [2, 3, 4]


def test_a_silo_refuses_served_partials_that_are_not_what_their_silos_signed(
    fed: SchemeFederation,
) -> None:
    silos, aggregator, sent = contributed(fed)
    for i in range(1, SILOS + 1):
        released = streamed(fed, aggregator, i, *decrypting(fed, silos[i], sent, i))
    release = next(o.message for o in released if isinstance(o, Outgoing) and o.recipient == 2)
    served = {o.name: o.data for o in released if isinstance(o, Serve)}
    partials = bytearray(served[toy.PARTIALS])
    partials[-1] ^= 1  # the aggregator serves the last partial altered
    silos[2].receive(release)
    silos[2].fetched(toy.PARTIALS, partials)
    with pytest.raises(ReleaseVerificationError, match="not what it signed"):
        silos[2].fetched(RESULT_DOWNLOAD, bytearray(served[RESULT_DOWNLOAD]))


def test_a_release_listing_a_partial_twice_is_refused_before_anything_is_fetched(
    fed: SchemeFederation,
) -> None:
    """The aggregator's list sizes the silo's download: a padded one is refused first."""
    silos, aggregator, sent = contributed(fed)
    for i in range(1, SILOS + 1):
        released = streamed(fed, aggregator, i, *decrypting(fed, silos[i], sent, i))
    release = next(o.message for o in released if isinstance(o, Outgoing) and o.recipient == 2)
    padded = dataclasses.replace(release, partials=release.partials * 1000)
    with pytest.raises(ReleaseVerificationError, match="no distinct survivors"):
        silos[2].receive(padded)
