"""Revocation is seen by running nodes: every session re-checks the aggregator's and the
silos' certificates against the current CRL, and no node accepts an older CRL after a
newer one, or a CRL dated in the future."""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from pathlib import Path

import pytest

from fedsilo.errors import FedsiloError, PKIError
from fedsilo.pki.ca import CertificateAuthority
from fedsilo.pki.files import crl_pem, load_certificate, load_crl
from fedsilo.pki.trust import CrlFloor
from fedsilo.runtime.crl_number import CRL_NUMBER_FILE, FileCrlNumber
from fedsilo.runtime.silo import SiloNode
from tests.nodes.live import LiveFederation
from tests.nodes.test_identity import assert_refused, join

NOW = dt.datetime.now(dt.UTC)
HONEST = ["s1", "s2", "s3", "s4"]


def authority(live: LiveFederation) -> CertificateAuthority:
    return CertificateAuthority(live.root / "fed" / "ca")


def run_in_threads(nodes: dict[str, SiloNode], round_number: int) -> dict[str, Exception | None]:
    """Every node takes part in ``round_number`` at once; returns how each one ended."""
    ended: dict[str, Exception | None] = {}

    def run(name: str) -> None:
        try:
            nodes[name].run_round(round_number)
            ended[name] = None
        except FedsiloError as exc:
            ended[name] = exc

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert set(ended) == set(nodes), "a silo did not finish its round"
    return ended


def test_a_silo_revoked_between_rounds_is_refused_by_every_running_silo(tmp_path: Path) -> None:
    live = LiveFederation(tmp_path, rounds=2)
    live.run_rounds()
    try:
        silo_crl = tmp_path / "silos-crl.pem"  # the honest silos' CRL; the aggregator keeps its own
        shutil.copy(live.files("s1").crl, silo_crl)
        nodes = {name: live.manual_silo(name, crl=silo_crl) for name in HONEST}
        live.start_silos(["s5"])
        assert run_in_threads(nodes, 1) == dict.fromkeys(HONEST)  # round 1 with everyone
        ca = authority(live)
        ca.revoke(f"{load_certificate(live.files('s5').cert).serial_number:x}", NOW)
        silo_crl.write_bytes(crl_pem(ca.crl(NOW)))  # reaches the silos, not the aggregator
        ended = run_in_threads(nodes, 2)
        for name, error in ended.items():
            assert isinstance(error, PKIError), (name, error)
            assert "includes s5" in str(error) and "revoked" in str(error), error
        assert live.fed.released(2) is None
    finally:
        live.close()


def test_a_stale_crl_aborts_the_session(tmp_path: Path) -> None:
    live = LiveFederation(tmp_path)
    live.run_rounds()
    try:
        silo_crl = tmp_path / "s1-crl.pem"
        shutil.copy(live.files("s1").crl, silo_crl)
        node = live.manual_silo("s1", crl=silo_crl)
        node.connect()  # joined on a fresh CRL
        silo_crl.write_bytes(crl_pem(authority(live).crl(NOW - dt.timedelta(days=10), days=1)))
        with pytest.raises(PKIError, match="refuses to run a session: the CRL is stale"):
            node.run_round(1)
    finally:
        live.close()


def test_an_older_crl_presented_after_a_newer_one_is_refused(live: LiveFederation) -> None:
    crl_path = live.files("s1").crl
    older = crl_path.read_bytes()  # CRL number 1, still unexpired
    newer = authority(live).crl(NOW)
    crl_path.write_bytes(crl_pem(newer))
    join(live, live.pem("s1"))  # the aggregator accepts number 2 ...
    crl_path.write_bytes(older)  # ... and then refuses number 1
    assert "lower than number 2" in assert_refused(live, live.pem("s1"))


def test_the_highest_crl_number_survives_a_restart(live: LiveFederation) -> None:
    crl_path = live.files("s1").crl
    older = load_crl(crl_path)
    crl_path.write_bytes(crl_pem(authority(live).crl(NOW)))
    join(live, live.pem("s1"))
    stored = live.root / "agg-state" / CRL_NUMBER_FILE
    assert stored.read_text().strip() == "2"
    restarted = CrlFloor(FileCrlNumber(stored))  # what the node loads when it starts again
    with pytest.raises(PKIError, match="lower than number 2"):
        restarted.check(older, dt.datetime.now(dt.UTC))  # not NOW: minutes may have passed


def test_a_crl_dated_in_the_future_is_refused(live: LiveFederation) -> None:
    future = authority(live).crl(NOW + dt.timedelta(hours=2))
    live.files("s1").crl.write_bytes(crl_pem(future))
    assert "in the future" in assert_refused(live, live.pem("s1"))


def test_a_crl_a_minute_ahead_of_this_clock_is_accepted(live: LiveFederation) -> None:
    ahead = authority(live).crl(NOW + dt.timedelta(minutes=1))
    live.files("s1").crl.write_bytes(crl_pem(ahead))
    join(live, live.pem("s1"))
