"""Epoch resets: effective only when >= t silo operators signed this exact record."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedsilo.crypto.encoding import encode
from fedsilo.crypto.signatures import IdentityKey
from fedsilo.errors import (
    AlreadyRevealedError,
    ConfigError,
    ResetRefusedError,
    ResetReplayError,
    SessionReplayError,
)
from fedsilo.protocol.ledger import InMemoryLedgerStore, RoundLedger
from fedsilo.protocol.reset import (
    RESET_LABEL,
    VERSION,
    OperatorSignature,
    ResetRecord,
    apply_reset_records,
    reset_body,
    reset_digest,
    sign_reset,
    verify_reset,
    verify_reset_terms,
)
from fedsilo.protocol.roster import Roster, SiloEntry


def digest(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


FEDERATION = "hospital-consortium"
CONFIG_DIGEST = digest("config digest")  # H_0
HEAD_1, HEAD_2 = digest("H_1"), digest("H_2")
THRESHOLD, MAX_RESETS = 3, 1
KEYS = [IdentityKey.generate() for _ in range(4)]
ROSTER = Roster(
    tuple(SiloEntry(i, f"silo-{i}", key.verifying_key) for i, key in enumerate(KEYS, 1))
)
OUTSIDER = IdentityKey.generate()


def proposal(failed_round: int = 3, reset_index: int = 1) -> ResetRecord:
    head = {1: CONFIG_DIGEST, 2: HEAD_1, 3: HEAD_2}.get(failed_round, digest("H_r"))
    return ResetRecord.propose(FEDERATION, CONFIG_DIGEST, reset_index, failed_round, head)


def signed_by(record: ResetRecord, *silos: int) -> ResetRecord:
    for silo in silos:
        record = sign_reset(record, KEYS[silo - 1], silo)
    return record


def verify(record: ResetRecord, **overrides: Any) -> None:
    arguments: dict[str, Any] = {
        "roster": ROSTER,
        "threshold": THRESHOLD,
        "max_resets": MAX_RESETS,
        "federation": FEDERATION,
        "config_digest": CONFIG_DIGEST,
    }
    verify_reset(record, **{**arguments, **overrides})


def one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(error.value)
    assert message and "\n" not in message
    return message


# --- the record and its signed bytes -------------------------------------------------


def test_a_proposal_resumes_from_the_round_before_the_failed_one() -> None:
    record = proposal(3)
    assert (record.failed_round, record.resume_round, record.resume_head) == (3, 2, HEAD_2)
    assert record.signatures == () and record.signers == ()


def test_the_signed_body_is_the_label_and_every_field_but_the_signatures() -> None:
    record = proposal(3)
    expected = encode(RESET_LABEL, FEDERATION, CONFIG_DIGEST, 1, 3, 2, HEAD_2)
    assert reset_body(record) == record.body() == expected
    assert reset_body(signed_by(record, 1, 2)) == expected  # signatures are not signed


def test_the_reset_digest_is_pinned_by_a_known_answer() -> None:
    record = proposal(3)
    assert reset_digest(record) == record.digest() == hashlib.sha256(record.body()).digest()
    assert record.digest().hex() == (
        "d8d380cfcf8025bb46402ca1f4a9d162d64cef90c7b95226b979c75a2a2dd2c9"
    )


@pytest.mark.parametrize(
    "change",
    [
        lambda r: replace(r, federation="other-consortium"),
        lambda r: replace(r, config_digest=digest("other config")),
        lambda r: replace(r, reset_index=2),
        lambda r: replace(r, failed_round=4, resume_round=3),
        lambda r: replace(r, resume_head=HEAD_1),
    ],
    ids=["federation", "config-digest", "reset-index", "round", "resume-head"],
)
def test_every_field_but_the_signatures_changes_the_digest(
    change: Callable[[ResetRecord], ResetRecord],
) -> None:
    assert change(proposal(3)).digest() != proposal(3).digest()


# --- signing ------------------------------------------------------------------------


def test_signatures_are_kept_in_roster_order() -> None:
    record = signed_by(proposal(), 3, 1, 2)
    assert record.signers == (1, 2, 3)


def test_an_operator_signs_a_reset_once() -> None:
    record = signed_by(proposal(), 2)
    with pytest.raises(ResetRefusedError, match="silo 2 already signed") as error:
        sign_reset(record, KEYS[1], 2)
    one_line(error)


@pytest.mark.parametrize("index", [0, -1, True])
def test_a_signer_index_is_a_roster_index(index: int) -> None:
    with pytest.raises(ConfigError, match=r"a roster index is 1\.\.n"):
        sign_reset(proposal(), KEYS[0], index)


# --- verifying ----------------------------------------------------------------------


def test_a_reset_signed_by_t_operators_takes_effect() -> None:
    verify(signed_by(proposal(), 1, 2, 3))
    verify(signed_by(proposal(), 1, 2, 3, 4))


def test_a_reset_signed_by_fewer_than_t_operators_is_refused() -> None:
    with pytest.raises(ResetRefusedError, match="2 silo operator") as error:
        verify(signed_by(proposal(), 1, 4))
    assert "silo-1, silo-4" in one_line(error) and "t = 3" in one_line(error)


def test_an_unsigned_reset_is_refused() -> None:
    with pytest.raises(ResetRefusedError, match=r"0 silo operator\(s\) \(nobody\)"):
        verify(proposal())


def test_one_operator_signing_twice_counts_once() -> None:
    record = signed_by(proposal(), 1, 2)
    twice = replace(record, signatures=(*record.signatures, record.signatures[0]))
    with pytest.raises(ResetRefusedError, match=r"silo 1 \(silo-1\) signed .* twice"):
        verify(twice)


def test_an_invalid_signature_is_refused_naming_its_silo_not_skipped() -> None:
    record = signed_by(proposal(), 1, 2, 3, 4)
    forged = OperatorSignature(2, OUTSIDER.sign(RESET_LABEL, b"anything"))
    bad = replace(record, signatures=(record.signatures[0], forged, *record.signatures[2:]))
    with pytest.raises(ResetRefusedError, match=r"signature of silo 2 \(silo-2\)") as error:
        verify(bad)  # three valid signatures remain, but a bad one is never skipped
    one_line(error)


def test_a_signature_made_by_another_silos_key_is_refused() -> None:
    impostor = sign_reset(signed_by(proposal(), 1, 2), KEYS[0], 3)  # silo 1's key, as silo 3
    with pytest.raises(ResetRefusedError, match=r"signature of silo 3 \(silo-3\)"):
        verify(impostor)


def test_a_signature_from_off_the_roster_is_refused() -> None:
    stranger = sign_reset(signed_by(proposal(), 1, 2, 3), OUTSIDER, 5)
    with pytest.raises(ResetRefusedError, match="names silo 5, which is not on the roster"):
        verify(stranger)


def test_signatures_on_one_reset_never_count_for_another_reset_of_the_round() -> None:
    first = signed_by(proposal(reset_index=1), 1, 2, 3)
    second = replace(proposal(reset_index=2), signatures=first.signatures)
    with pytest.raises(ResetRefusedError, match="does not verify"):
        verify(second, max_resets=2)


def test_signatures_do_not_carry_over_to_another_round() -> None:
    signed = signed_by(proposal(3), 1, 2, 3)
    moved = replace(proposal(2), signatures=signed.signatures)
    with pytest.raises(ResetRefusedError, match="does not verify"):
        verify(moved)


def test_a_reset_for_another_federation_is_refused() -> None:
    with pytest.raises(ResetRefusedError, match="federation 'hospital-consortium', this is"):
        verify(signed_by(proposal(), 1, 2, 3), federation="bank-consortium")


def test_a_reset_under_another_config_digest_is_refused() -> None:
    with pytest.raises(ResetRefusedError, match="belongs to another config") as error:
        verify(signed_by(proposal(), 1, 2, 3), config_digest=digest("edited config"))
    one_line(error)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: replace(r, resume_round=1), "resumes from the round just before"),
        (lambda r: replace(r, resume_round=3), "resumes from the round just before"),
        (lambda r: replace(r, failed_round=0, resume_round=0), "failed round 0"),
        (lambda r: replace(r, resume_head=HEAD_2[:31]), "resume_head is 31 bytes"),
    ],
    ids=["resume-too-early", "resume-the-failed-round", "round-zero", "short-head"],
)
def test_a_reset_must_resume_from_the_round_before_the_failed_one(
    change: Callable[[ResetRecord], ResetRecord], message: str
) -> None:
    record = change(proposal(3))
    with pytest.raises(ResetRefusedError, match=message):
        verify(signed_by(record, 1, 2, 3))


def test_a_reset_of_round_one_resumes_from_the_config_digest() -> None:
    verify(signed_by(proposal(1), 1, 2, 3))
    elsewhere = ResetRecord.propose(FEDERATION, CONFIG_DIGEST, 1, 1, HEAD_1)
    with pytest.raises(ResetRefusedError, match="H_0 is the config digest"):
        verify(signed_by(elsewhere, 1, 2, 3))


@pytest.mark.parametrize(("index", "max_resets"), [(0, 1), (2, 1), (4, 3)])
def test_a_reset_index_beyond_max_resets_is_refused(index: int, max_resets: int) -> None:
    record = signed_by(proposal(reset_index=index), 1, 2, 3)
    with pytest.raises(ResetRefusedError, match=f"resets 1 to {max_resets}") as error:
        verify(record, max_resets=max_resets)
    assert "one more differencing sample" in one_line(error)


def test_max_resets_zero_allows_no_reset() -> None:
    with pytest.raises(ResetRefusedError, match="allows no epoch reset"):
        verify(signed_by(proposal(), 1, 2, 3), max_resets=0)


def test_the_terms_are_checked_without_signatures_before_an_operator_signs() -> None:
    verify_reset_terms(proposal(), MAX_RESETS, FEDERATION, CONFIG_DIGEST)
    with pytest.raises(ResetRefusedError, match="resets 1 to 1"):
        verify_reset_terms(proposal(reset_index=2), MAX_RESETS, FEDERATION, CONFIG_DIGEST)


def test_a_nonsensical_threshold_is_a_local_config_error() -> None:
    with pytest.raises(ConfigError, match="threshold must be >= 1"):
        verify(signed_by(proposal(), 1, 2, 3), threshold=0)


# --- the JSON form ------------------------------------------------------------------

RECORDS = st.builds(
    ResetRecord,
    federation=st.text(st.characters(codec="utf-8", categories=["L", "N", "P"]), min_size=1),
    config_digest=st.binary(min_size=32, max_size=32),
    reset_index=st.integers(0, 2**70),
    failed_round=st.integers(0, 2**40),
    resume_round=st.integers(0, 2**40),
    resume_head=st.binary(max_size=40),
    signatures=st.lists(
        st.builds(OperatorSignature, st.integers(0, 100), st.binary(max_size=80)), max_size=5
    ).map(tuple),
)


@given(RECORDS)
def test_a_record_round_trips_through_json(record: ResetRecord) -> None:
    assert ResetRecord.from_json(record.to_json()) == record


def test_the_json_carries_its_version_and_hex_bytes() -> None:
    data = json.loads(signed_by(proposal(), 1).to_json())
    assert data["version"] == VERSION == "fedsilo/epoch-reset/v1"
    assert data["resume_head"] == HEAD_2.hex() and data["config_digest"] == CONFIG_DIGEST.hex()
    assert data["signatures"][0]["silo"] == 1
    assert bytes.fromhex(data["signatures"][0]["signature"])


def edit(change: Callable[[dict[str, Any]], object]) -> str:
    data = json.loads(signed_by(proposal(), 1).to_json())
    change(data)
    return json.dumps(data)


MALFORMED = {
    "not json": ("{", "not JSON"),
    "a list": ("[]", "expected a JSON object"),
    "no version": (edit(lambda d: d.pop("version")), "version is None"),
    "a future version": (edit(lambda d: d.update(version="fedsilo/epoch-reset/v2")), "v2"),
    "a missing key": (edit(lambda d: d.pop("resume_head")), "missing resume_head"),
    "an unknown key": (edit(lambda d: d.update(model="x")), "unknown key(s) model"),
    "a repeated key": ('{"version": "fedsilo/epoch-reset/v1", "version": 1}', "appears twice"),
    "NaN": (edit(lambda d: d.update(failed_round="NaN")).replace('"NaN"', "NaN"), "NaN"),
    "an empty federation": (edit(lambda d: d.update(federation="")), "federation"),
    "a federation not text": (edit(lambda d: d.update(federation=7)), "federation"),
    "a boolean round": (edit(lambda d: d.update(failed_round=True)), "failed_round"),
    "a negative index": (edit(lambda d: d.update(reset_index=-1)), "reset_index"),
    "a float round": (edit(lambda d: d.update(resume_round=1.0)), "resume_round"),
    "uppercase hex": (
        edit(lambda d: d.update(resume_head=HEAD_2.hex().upper())),
        "resume_head: expected lowercase hex",
    ),
    "odd hex": (edit(lambda d: d.update(config_digest="abc")), "config_digest"),
    "signatures not a list": (edit(lambda d: d.update(signatures={})), "signatures"),
    "a signature not an object": (edit(lambda d: d.update(signatures=[1])), "signatures[0]"),
    "a signature without a silo": (
        edit(lambda d: d["signatures"][0].pop("silo")),
        "signatures[0]: missing silo",
    ),
    "a signature not hex": (
        edit(lambda d: d["signatures"][0].update(signature="zz")),
        "signatures[0].signature",
    ),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_a_malformed_record_is_refused_with_one_line_naming_the_key(name: str) -> None:
    text, message = MALFORMED[name]
    with pytest.raises(ConfigError) as error:
        ResetRecord.from_json(text)
    assert message in one_line(error)


# --- what a silo does with a served reset -------------------------------------------


def stuck_in_round(failed_round: int) -> RoundLedger:
    """A silo that revealed in the one session of ``failed_round`` it may reveal in."""
    ledger = RoundLedger(InMemoryLedgerStore(), CONFIG_DIGEST)
    heads = [HEAD_1, HEAD_2]
    for round_number in range(1, failed_round):
        ledger.finalize(round_number, heads[round_number - 1])
    ledger.admit(failed_round, digest("session A"), ledger.head)
    ledger.record_view(digest("session A"), digest("view A"))
    ledger.record_reveal(digest("session A"), b"shares sent in A")
    return ledger


def adopt(ledger: RoundLedger, *records: ResetRecord, max_resets: int = MAX_RESETS) -> int:
    applied = apply_reset_records(
        ledger, records, ROSTER, THRESHOLD, max_resets, FEDERATION, CONFIG_DIGEST
    )
    return len(applied)


def test_a_verified_reset_lets_the_silo_resume_from_the_named_model() -> None:
    ledger = stuck_in_round(3)
    with pytest.raises(AlreadyRevealedError):
        ledger.admit(3, digest("session B"), HEAD_2)
    assert adopt(ledger, signed_by(proposal(3), 1, 2, 3)) == 1
    assert ledger.resets == 1 and ledger.record.sessions == ()
    ledger.admit(3, digest("session B"), HEAD_2)  # the failed round again, from H_2
    ledger.record_view(digest("session B"), digest("view B"))
    ledger.record_reveal(digest("session B"), b"shares sent in B")
    with pytest.raises(AlreadyRevealedError):  # and once only in this epoch
        ledger.admit(3, digest("session C"), HEAD_2)
    with pytest.raises(SessionReplayError):  # the first run's session never comes back
        ledger.admit(3, digest("session A"), HEAD_2)


def test_a_reset_without_t_signatures_changes_nothing_in_the_ledger() -> None:
    ledger = stuck_in_round(3)
    before = ledger.record
    with pytest.raises(ResetRefusedError, match="t = 3"):
        adopt(ledger, signed_by(proposal(3), 1, 2))
    assert ledger.record == before and ledger.resets == 0


def test_a_served_reset_is_applied_once_however_often_it_is_served() -> None:
    ledger = stuck_in_round(3)
    record = signed_by(proposal(3), 1, 2, 3)
    assert adopt(ledger, record) == 1
    ledger.admit(3, digest("session B"), HEAD_2)
    assert adopt(ledger, record) == 0 and ledger.resets == 1
    assert ledger.record.sessions[-1].session_id == digest("session B")


def test_a_reset_of_another_round_is_not_applied() -> None:
    ledger = stuck_in_round(3)
    assert adopt(ledger, signed_by(proposal(2), 1, 2, 3)) == 0  # a round already final
    assert adopt(ledger, signed_by(proposal(4), 1, 2, 3)) == 0  # one not reached yet
    assert ledger.resets == 0


def test_a_reset_with_another_head_is_refused_by_the_ledger() -> None:
    ledger = stuck_in_round(3)
    other = ResetRecord.propose(FEDERATION, CONFIG_DIGEST, 1, 3, digest("a forked H_2"))
    with pytest.raises(ResetRefusedError, match="names another model or history"):
        adopt(ledger, signed_by(other, 1, 2, 3))
    assert ledger.resets == 0


def test_a_replayed_reset_index_is_refused() -> None:
    ledger = stuck_in_round(3)
    adopt(ledger, signed_by(proposal(3), 1, 2, 3), max_resets=2)
    rerun = ResetRecord.propose(FEDERATION, CONFIG_DIGEST, 1, 3, HEAD_2)
    again = signed_by(rerun, 2, 3, 4)  # a different record (other signers) ...
    assert again.digest() == rerun.digest()  # ... but the same body, so the same reset
    assert adopt(ledger, again, max_resets=2) == 0
    with pytest.raises(ResetReplayError):
        ledger.apply_reset(digest("another reset"), 1, 3, HEAD_2)


def test_resets_are_applied_in_index_order() -> None:
    ledger = stuck_in_round(3)
    first = signed_by(proposal(3, reset_index=1), 1, 2, 3)
    second = signed_by(proposal(3, reset_index=2), 2, 3, 4)
    assert adopt(ledger, second, first, max_resets=2) == 2
    assert ledger.record.reset_digests == (first.digest(), second.digest())
    fresh = stuck_in_round(3)
    with pytest.raises(ResetRefusedError, match="arrives before reset 1"):
        adopt(fresh, second, max_resets=2)
