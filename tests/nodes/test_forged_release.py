"""A forged release, by a malicious aggregator process against real silo processes over
mTLS on 127.0.0.1 (:mod:`tests.nodes.rogue_aggregator`): the sum every silo fetches has one
bit flipped. Every silo refuses it before deriving anything, names the aggregator, and
keeps evidence that anyone can check again under the aggregator's signature."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedsilo.audit.operators import silo_roster
from fedsilo.config.schemes import scheme_of, scheme_params
from fedsilo.crypto.signatures import VerifyingKey
from fedsilo.errors import ReleaseVerificationError
from fedsilo.pki.files import load_certificate
from fedsilo.runtime.disputes import check_dispute
from fedsilo.runtime.round_ledger import FileLedgerStore
from fedsilo.runtime.silo import secure_fedavg
from tests.nodes.federation import Federation

pytestmark = pytest.mark.slow
SILOS = [f"s{i}" for i in range(1, 6)]
PARAMS = 20_000
# every stage that opens with an aggregator message: the dispute keeps each one
MESSAGE_STAGES = (
    "share-keys", "share-check", "masked-input", "consistency-check", "unmasking", "release"
)  # fmt: skip


def test_a_forged_sum_is_refused_by_every_silo_which_keeps_checkable_evidence(
    tmp_path: Path,
) -> None:
    fed = Federation.provisioned(tmp_path, silos=5, params=PARAMS, unmasking=3)
    try:
        fed.start_rogue_aggregator("forge-sum")
        for silo in SILOS:
            fed.start_silo(silo)
        assert fed.wait("agg") == 0, fed.log("agg")
        for silo in SILOS:
            assert fed.wait(silo) == 1, fed.log(silo)
            last = fed.log(silo).strip().splitlines()[-1]
            assert last.startswith("fedsilo: error: ") and "aggregator" in last, last
        attack = next(e for e in fed.events("agg") if e["event"] == "attack-round")
        assert attack["acks"] == 0  # no silo acked, so no silo moved its chain

        config = fed.config
        length = secure_fedavg(config).vector_length(PARAMS)
        agg_cert = load_certificate(tmp_path / "fed" / "agg" / "agg.crt")
        for silo in SILOS:
            ledger = FileLedgerStore(tmp_path / f"state-{silo}" / "ledger.json").load()
            assert ledger is not None and ledger.final_round == 0  # nothing was derived
            (dispute,) = (tmp_path / f"state-{silo}" / "disputes").iterdir()
            kept = {p.name for p in dispute.iterdir()}
            signed = {f"{stage}.signed" for stage in MESSAGE_STAGES}
            assert signed | {"sum.bin", "reason.txt"} <= kept
            with pytest.raises(ReleaseVerificationError):
                check_dispute(
                    dispute,
                    aggregator_key=VerifyingKey.from_public_key(agg_cert.public_key()),
                    roster=silo_roster(config, tmp_path / "fed"),
                    scheme=scheme_of(config),
                    params=scheme_params(config, length),
                    federation=config.federation,
                    config_digest=bytes.fromhex(config.digest().removeprefix("sha256:")),
                    vector_length=length,
                )
    finally:
        fed.stop_all()
