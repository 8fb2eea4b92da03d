"""The key ceremony recipe: each silo's share sealed to it alone and checked against its
verification key, the public key section pinned, and a dealer-signed record that names
the key and the silos' certificates."""

from __future__ import annotations

import datetime as dt
import functools
import json

import pytest

from fedsilo.crypto import paillier
from fedsilo.crypto.signatures import IdentityKey
from fedsilo.errors import ConfigError, SignatureError
from fedsilo.protocol.paillier.ceremony import (
    Ceremony,
    CeremonyMember,
    hold_ceremony,
    open_key_share,
    public_key_section,
    threshold_key_of,
    verify_ceremony_record,
)
from fedsilo.testing.entropy import SeededEntropy
from tests.crypto.paillier_fixtures import primes

NAMES = ("s1", "s2", "s3", "s4", "s5")
NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)


@functools.cache
def identities() -> dict[str, IdentityKey]:
    return {name: IdentityKey.generate() for name in (*NAMES, "dealer")}


@functools.cache
def dealt() -> paillier.DealtKey:
    p, q = primes(512)
    return paillier.deal_from_primes(p, q, silos=5, threshold=3, entropy=SeededEntropy("c"))


def members() -> list[CeremonyMember]:
    return [CeremonyMember(n, identities()[n].verifying_key) for n in NAMES]


@functools.cache
def ceremony() -> Ceremony:
    return hold_ceremony(
        dealt(),
        federation="banks",
        epoch=1,
        silos=members(),
        dealer="dealer",
        dealer_identity=identities()["dealer"],
        entropy=SeededEntropy("seal"),
        now=NOW,
    )


def test_each_silo_opens_its_own_share_and_it_matches_its_verification_key() -> None:
    key = dealt().key
    for index, name in enumerate(NAMES, 1):
        share = open_key_share(
            ceremony().sealed_shares[name],
            identity=identities()[name],
            federation="banks",
            key=key,
            epoch=1,
            index=index,
        )
        assert share.index == index and share.value == dealt().shares[index - 1].value


def test_a_silo_cannot_open_another_silo_s_share() -> None:
    with pytest.raises(ConfigError, match="not sealed to this silo's certificate"):
        open_key_share(
            ceremony().sealed_shares["s2"],
            identity=identities()["s1"],
            federation="banks",
            key=dealt().key,
            epoch=1,
            index=1,
        )


@pytest.mark.parametrize(("federation", "epoch", "index"), [("other", 1, 2), ("banks", 2, 2)])
def test_a_share_opens_for_no_other_federation_epoch_or_index(
    federation: str, epoch: int, index: int
) -> None:
    with pytest.raises(ConfigError, match="not sealed"):
        open_key_share(
            ceremony().sealed_shares["s2"],
            identity=identities()["s2"],
            federation=federation,
            key=dealt().key,
            epoch=epoch,
            index=index,
        )


def test_a_share_of_another_key_is_refused_against_the_verification_key() -> None:
    p, q = primes(512)
    other = paillier.deal_from_primes(p, q, silos=5, threshold=3, entropy=SeededEntropy("x"))
    with pytest.raises(ConfigError, match="does not belong to this key"):
        open_key_share(
            ceremony().sealed_shares["s2"],
            identity=identities()["s2"],
            federation="banks",
            key=other.key,
            epoch=1,
            index=2,
        )


def test_the_public_key_section_round_trips_to_the_dealt_key() -> None:
    section = ceremony().public_key
    assert json.loads(json.dumps(section)) == section  # plain JSON: hex strings
    assert threshold_key_of(section, threshold=3, silos=5) == dealt().key


def test_a_malformed_public_key_section_names_its_key_path() -> None:
    section = dict(public_key_section(dealt().key, 1))
    with pytest.raises(ConfigError, match=r"scheme\.public_key\.v: expected lowercase hex"):
        threshold_key_of({**section, "v": section["v"].upper()}, threshold=3, silos=5)
    with pytest.raises(ConfigError, match=r"verification_keys: expected one per silo"):
        threshold_key_of(section, threshold=3, silos=4)
    with pytest.raises(ConfigError, match=r"scheme\.public_key: .*verification base"):
        threshold_key_of({**section, "v": "1"}, threshold=3, silos=5)


def test_the_record_verifies_for_its_dealer_key_and_silos() -> None:
    body = verify_ceremony_record(
        ceremony().record,
        dealer_key=identities()["dealer"].verifying_key,
        public_key=ceremony().public_key,
        silos=members(),
    )
    assert body["federation"] == "banks" and body["epoch"] == 1
    assert "keeps no share" in str(body["erased"])


def test_a_record_signed_by_another_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="another dealer certificate"):
        verify_ceremony_record(
            ceremony().record,
            dealer_key=identities()["s1"].verifying_key,
            public_key=ceremony().public_key,
            silos=members(),
        )


def test_an_altered_record_fails_its_signature() -> None:
    document = json.loads(ceremony().record)
    document["record"]["epoch"] = 2
    with pytest.raises(SignatureError):
        verify_ceremony_record(
            json.dumps(document).encode(),
            dealer_key=identities()["dealer"].verifying_key,
            public_key=ceremony().public_key,
            silos=members(),
        )


def test_a_record_of_another_public_key_or_other_silos_is_refused() -> None:
    other = {**ceremony().public_key, "epoch": 2}
    with pytest.raises(ConfigError, match="another public key"):
        verify_ceremony_record(
            ceremony().record,
            dealer_key=identities()["dealer"].verifying_key,
            public_key=other,
            silos=members(),
        )
    swapped = [members()[1], members()[0], *members()[2:]]
    with pytest.raises(ConfigError, match="other silos or certificates"):
        verify_ceremony_record(
            ceremony().record,
            dealer_key=identities()["dealer"].verifying_key,
            public_key=ceremony().public_key,
            silos=swapped,
        )
