"""The test kit's insecure threshold scheme refuses a silo's signed partial decryption of
the wrong length as a protocol error, on either side, never with a bare exception."""

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


def partial_of(fed: SchemeFederation, silo: SiloSession, sent: list[Any], i: int) -> toy.Partial:
    served = next(o for o in sent if isinstance(o, Serve))
    listed = next(o.message for o in sent if isinstance(o, Outgoing) and o.recipient == i)
    silo.receive(listed)
    (partial,) = silo.fetched(served.name, bytearray(served.data))
    assert isinstance(partial, toy.Partial)
    return partial


def cut_short(fed: SchemeFederation, partial: toy.Partial) -> toy.Partial:
    """``partial`` one element short, signed by its own silo (a malicious silo)."""
    short = dataclasses.replace(partial, values=partial.values[: -toy.ELEMENT], signature=b"")
    identity = fed.identities[partial.sender - 1]
    return dataclasses.replace(
        short, signature=identity.sign(toy._LABEL, *toy._partial_signed(short))
    )


def test_the_aggregator_refuses_a_signed_partial_of_the_wrong_length(
    fed: SchemeFederation,
) -> None:
    silos, aggregator, sent = contributed(fed)
    bad = cut_short(fed, partial_of(fed, silos[1], sent, 1))
    with pytest.raises(RemoteProtocolError, match="silo 1's partial has"):
        aggregator.receive(wired(fed, bad))
    assert 1 in aggregator.waiting_for


def test_a_silo_refuses_a_release_that_relays_a_partial_of_the_wrong_length(
    fed: SchemeFederation,
) -> None:
    silos, aggregator, sent = contributed(fed)
    partials = {i: partial_of(fed, silos[i], sent, i) for i in range(1, SILOS + 1)}
    for i in (2, 3, 4):
        aggregator.receive(wired(fed, partials[i]))
    released = aggregator.close_stage()  # silo 1 is late: t = 3 partials are combined
    release = next(o.message for o in released if isinstance(o, Outgoing) and o.recipient == 2)
    result = next(o for o in released if isinstance(o, Serve) and o.name == RESULT_DOWNLOAD)
    forged = dataclasses.replace(
        release, partials=(cut_short(fed, partials[1]), *release.partials[1:])
    )
    silos[2].receive(forged)
    with pytest.raises(ReleaseVerificationError, match="another length"):
        silos[2].fetched(RESULT_DOWNLOAD, bytearray(result.data))
