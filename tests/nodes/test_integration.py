"""Aggregator and silos as separate processes over real mutual TLS on 127.0.0.1."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from fedsilo.crypto.quantize import Quantizer
from fedsilo.protocol.events import (
    AggregateReleased,
    InputAccepted,
    RoundCompleted,
    RoundFinalized,
    RoundOpened,
    StageAnswered,
    is_audit_record,
)
from tests.nodes.federation import Federation

pytestmark = pytest.mark.slow
SILOS = [f"s{i}" for i in range(1, 6)]
# the only 256-bit values a log line may hold: public digests, in audit events' own fields
# (a silo's signed input digest, the released aggregate's digest, the chain head it acked)
PUBLIC_DIGESTS = {"digest": "sha256:[0-9a-f]{64}", "head": "[0-9a-f]{64}"}


@pytest.fixture
def federation(tmp_path: Path) -> Iterator[Federation]:
    fed = Federation.provisioned(tmp_path, silos=5, params=200_000, masked_input=6)
    try:
        yield fed
    finally:
        fed.stop_all()


def dequantized(fed: Federation, count: int) -> np.ndarray:
    q = fed.config.scheme.quantization
    return Quantizer(q.clip, q.levels, 32).dequantize_sum(fed.aggregate(), count)


def test_five_silos_complete_an_aggregation_equal_to_the_plaintext_sum(
    federation: Federation,
) -> None:
    federation.start_aggregator()
    assert_sum_of_five(federation)
    # auto: full release verification at this size, so every y_u was served and kept
    assert (federation.root / "agg-state" / "rounds" / "inputs-000001.bin").is_file()
    assert_logs_are_structured_and_carry_no_vectors_or_secrets(federation, ["agg", *SILOS])
    assert_the_audit_events_tell_the_round(federation)


def assert_the_audit_events_tell_the_round(federation: Federation) -> None:
    """Round opened, every silo's input accepted under the digest it signed, the release
    with its digest and contributors, the round completed on the head every silo holds."""
    record = federation.released()
    assert record is not None
    events = federation.audit("agg")
    kinds = [type(e) for e in events]
    assert kinds.index(RoundOpened) < kinds.index(AggregateReleased) < kinds.index(RoundCompleted)
    accepted = {e.silo: e.digest for e in events if isinstance(e, InputAccepted)}
    assert sorted(accepted) == SILOS and len(set(accepted.values())) == len(SILOS)
    released = next(e for e in events if isinstance(e, AggregateReleased))
    assert released.digest == "sha256:" + str(record["aggregate_sha256"])
    assert list(released.contributors) == SILOS and released.dropped == ()
    completed = next(e for e in events if isinstance(e, RoundCompleted))
    assert completed.head == record["chain_head"] and sorted(completed.acked_by) == SILOS
    for silo in SILOS:
        (final,) = [e for e in federation.audit(silo) if isinstance(e, RoundFinalized)]
        assert (final.round, final.silo, final.head) == (1, silo, record["chain_head"])


def test_sketch_release_verification_completes_the_same_aggregation(tmp_path: Path) -> None:
    fed = Federation.provision(
        tmp_path, 5, 200_000, {"masked_input": 6}, release_verification="sketch"
    )
    try:
        fed.start_aggregator()
        assert_sum_of_five(fed)
        assert not (tmp_path / "agg-state" / "rounds" / "inputs-000001.bin").exists()
    finally:
        fed.stop_all()


def assert_sum_of_five(federation: Federation) -> None:
    for silo in SILOS:
        federation.start_silo(silo)
    assert federation.wait("agg") == 0, federation.log("agg")
    for silo in SILOS:
        assert federation.wait(silo) == 0, federation.log(silo)
    record = federation.released()
    assert record is not None and record["survivors"] == SILOS
    step = Quantizer(1.0, 1 << 16).step
    error = np.abs(dequantized(federation, 5) - federation.expected_sum(SILOS))
    assert error.max() <= 5 * step


def assert_logs_are_structured_and_carry_no_vectors_or_secrets(
    federation: Federation, names: list[str]
) -> None:
    for name in names:
        lines = federation.log(name).splitlines()
        assert lines, name
        for line in lines:
            event = json.loads(line)  # every line is one JSON object
            assert {"ts", "node", "event"} <= set(event), line
            for key, value in event.items():  # short scalars and name lists only: a key,
                text = json.dumps(value)  # a share or a vector could never fit
                if key in PUBLIC_DIGESTS and is_audit_record(event):
                    assert re.fullmatch(PUBLIC_DIGESTS[key], str(value)), line
                    continue
                assert len(text) < 200 and not re.search(r"[0-9a-f]{64}", text), line


def test_killing_one_silo_after_share_keys_still_yields_the_survivors_exact_sum(
    federation: Federation,
) -> None:
    federation.start_aggregator()
    for silo in SILOS:
        federation.start_silo(silo)
    federation.wait_for("agg", StageAnswered, stage="share-keys", silo="s3")
    federation.kill("s3")
    assert federation.wait("agg") == 0, federation.log("agg")
    record = federation.released()
    assert record is not None
    survivors = [s for s in SILOS if s != "s3"]
    assert record["survivors"] == survivors
    error = np.abs(dequantized(federation, 4) - federation.expected_sum(survivors))
    assert error.max() <= 4 * Quantizer(1.0, 1 << 16).step


def test_falling_below_t_aborts_loudly_naming_the_missing_silos_and_releases_nothing(
    federation: Federation,
) -> None:
    federation.start_aggregator()
    for silo in SILOS:
        federation.start_silo(silo)
    federation.wait_for("agg", StageAnswered, stage="share-keys", silo="s4")
    federation.kill("s4")
    federation.wait_for("agg", StageAnswered, stage="share-keys", silo="s5")
    federation.kill("s5")
    code = federation.wait("agg")
    final = federation.log("agg").strip().splitlines()[-1]
    assert code != 0
    assert final.startswith("fedsilo: error: round 1 aborted, nothing released")
    assert "missing silos: s4, s5" in final
    assert federation.released() is None
    assert not (federation.root / "agg-state" / "rounds" / "aggregate-000001.bin").exists()


def test_sigterm_shuts_the_aggregator_down_gracefully(federation: Federation) -> None:
    import signal

    federation.start_aggregator()
    federation.wait_for("agg", RoundOpened)
    federation.procs["agg"].send_signal(signal.SIGTERM)
    assert federation.wait("agg", timeout=20) == 0
    assert federation.wait_for_event("agg", event="shutdown", signal="SIGTERM")
    assert federation.released() is None


def test_silos_started_before_the_aggregator_reconnect_with_backoff(federation: Federation) -> None:
    import time

    for silo in SILOS:
        federation.start_silo(silo)
    time.sleep(2.0)  # every silo has found nobody listening and is backing off
    federation.start_aggregator()
    assert federation.wait("agg") == 0, federation.log("agg")
    record = federation.released()
    assert record is not None and record["survivors"] == SILOS
