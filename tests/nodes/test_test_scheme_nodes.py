"""The real aggregator and silo nodes run a scheme that is not masking, with no runtime
edit: the test kit's insecure threshold scheme, whose data flow is threshold Paillier's
(every silo fetches and checks the others' signed contributions, a t-of-n partial
decryption stage, 16-byte elements wider than any word)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from fedsilo.crypto.quantize import Quantizer
from fedsilo.runtime.provisioning import provision_federation
from fedsilo.testing.configs import write_local_config
from fedsilo.testing.schemes import ENABLE_VARIABLE, ENABLED, registered_test_scheme
from fedsilo.testing.toy_threshold import InsecureThreshold
from fedsilo.training.weighted import SLOTS
from tests.nodes.federation import Federation
from tests.nodes.test_in_memory_nodes import run_in_memory

SILOS = ["s1", "s2", "s3", "s4"]


@pytest.fixture
def test_scheme(monkeypatch: pytest.MonkeyPatch) -> Iterator[InsecureThreshold]:
    monkeypatch.setenv(ENABLE_VARIABLE, ENABLED)
    with registered_test_scheme(InsecureThreshold()) as scheme:
        assert isinstance(scheme, InsecureThreshold)
        yield scheme


def federation(root: Path, rounds: int) -> Federation:
    template = write_local_config(
        root / "template.yaml",
        federation="node-test",
        silos=len(SILOS),
        params=500,
        rounds=rounds,
        timeouts={"join": 10, "contribute": 20, "decrypt": 20, "release": 20},
        scheme=InsecureThreshold.kind,
    )
    return Federation(root, provision_federation(template, root / "fed", dt.datetime.now(dt.UTC)))


def test_the_nodes_run_two_rounds_of_a_scheme_with_paillier_s_data_flow(
    tmp_path: Path, test_scheme: InsecureThreshold
) -> None:
    fed = federation(tmp_path, rounds=2)
    _, errors = run_in_memory(fed, SILOS)
    assert errors == {}
    q = Quantizer(1.0, 1 << 16, 64)
    for round_number in (1, 2):
        record = fed.released(round_number)
        assert record is not None and record["survivors"] == SILOS
        path = tmp_path / "agg-state" / "rounds" / f"aggregate-{round_number:06d}.bin"
        released = np.frombuffer(path.read_bytes(), dtype="<u8")  # 64-bit words
        got = q.dequantize_sum(released[: -len(SLOTS)], len(SILOS))
        want = fed.expected_sum(SILOS, round_number)
        assert np.abs(got - want).max() <= len(SILOS) * q.step
        weight = int(released[-len(SLOTS)])
        assert weight == len(SILOS) * fed.config.training.max_samples
