"""The real aggregator and silo nodes run a scheme that is not masking, with no runtime
edit: the test kit's insecure threshold scheme, whose data flow is threshold Paillier's
(every silo fetches and checks the others' signed contributions, a t-of-n partial
decryption stage, 16-byte elements wider than any word), each silo's share of the key
sealed to its certificate and read through the scheme's secret hook from its own state
directory."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from fedsilo.crypto.quantize import Quantizer
from fedsilo.crypto.signatures import VerifyingKey
from fedsilo.errors import ConfigError
from fedsilo.pki.files import load_certificate
from fedsilo.runtime.provisioning import provision_federation
from fedsilo.testing.configs import write_local_config
from fedsilo.testing.entropy import SeededEntropy
from fedsilo.testing.schemes import ENABLE_VARIABLE, ENABLED, registered_test_scheme
from fedsilo.testing.toy_threshold import SECRET_FILE, InsecureThreshold, deal_shares, sealed_shares
from fedsilo.training.weighted import SLOTS
from tests.nodes.federation import Federation
from tests.nodes.test_in_memory_nodes import run_in_memory, run_silo_alone

SILOS = ["s1", "s2", "s3", "s4"]
THRESHOLD = 3


@pytest.fixture
def test_scheme(monkeypatch: pytest.MonkeyPatch) -> Iterator[InsecureThreshold]:
    monkeypatch.setenv(ENABLE_VARIABLE, ENABLED)
    with registered_test_scheme(InsecureThreshold()) as scheme:
        assert isinstance(scheme, InsecureThreshold)
        yield scheme


def federation(root: Path, rounds: int, *, deal_to: Iterator[int] | None = None) -> Federation:
    """The federation, its key dealt: the public key in the config, each silo's share in
    its own state directory (silo i's file written into the directory of ``deal_to``'s
    i-th name, by default its own)."""
    template = write_local_config(
        root / "template.yaml",
        federation="node-test",
        silos=len(SILOS),
        params=500,
        rounds=rounds,
        timeouts={"join": 10, "contribute": 20, "decrypt": 20, "release": 20},
        scheme=InsecureThreshold.kind,
    )
    deal = deal_shares(len(SILOS), THRESHOLD, SeededEntropy("node-test-dealer"))
    kind_line = f"  kind: {InsecureThreshold.kind}\n"
    template.write_text(
        template.read_text().replace(
            kind_line,
            f"{kind_line}  threshold: {THRESHOLD}\n  public_key: '{deal.section['public_key']}'\n",
        )
    )
    fed = Federation(root, provision_federation(template, root / "fed", dt.datetime.now(dt.UTC)))
    # the dealer seals each share to its silo's certificate, once the certificates exist
    recipients = {
        i: VerifyingKey.from_public_key(
            load_certificate(root / "fed" / name / f"{name}.crt").public_key()
        )
        for i, name in enumerate(SILOS, 1)
    }
    sealed = sealed_shares(deal, recipients, SeededEntropy("node-test-sealing"))
    owners = list(deal_to) if deal_to is not None else list(range(1, len(SILOS) + 1))
    for index, owner in enumerate(owners, 1):
        state = root / f"state-{SILOS[owner - 1]}"
        state.mkdir(parents=True, exist_ok=True)
        (state / SECRET_FILE).write_bytes(sealed.files[index])
    return fed


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


def test_a_silo_without_its_secret_file_refuses_to_start_naming_the_file(
    tmp_path: Path, test_scheme: InsecureThreshold
) -> None:
    fed = federation(tmp_path, rounds=1)
    (tmp_path / "state-s2" / SECRET_FILE).unlink()
    with pytest.raises(ConfigError) as refused:
        run_silo_alone(fed, "s2")
    message = str(refused.value)
    assert message.startswith("cannot read") and SECRET_FILE in message and "\n" not in message


def test_a_silo_given_another_silo_s_share_refuses_to_start(
    tmp_path: Path, test_scheme: InsecureThreshold
) -> None:
    fed = federation(tmp_path, rounds=1, deal_to=iter([2, 1, 3, 4]))  # s1 and s2 swapped
    with pytest.raises(ConfigError) as refused:
        run_silo_alone(fed, "s1")
    message = str(refused.value)
    assert "not sealed to this silo's certificate key" in message and "\n" not in message
