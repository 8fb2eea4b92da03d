"""The config follows its scheme: the kind is checked against the registry, the stage
deadlines against the scheme's stages, and every rule has one implementation that the
auditor and the nodes share."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fedsilo.audit.config_rules import config_rules
from fedsilo.audit.report import Status
from fedsilo.config.load import config_from_document, load_config
from fedsilo.config.model import FederationConfig
from fedsilo.config.schemes import scheme_of, scheme_params, stage_timeout
from fedsilo.errors import ConfigError, ConfigProblemsError
from fedsilo.protocol.registry import registered, runnable
from fedsilo.runtime.provisioning import provision_federation
from fedsilo.runtime.silo import secure_fedavg

ROOT = Path(__file__).parents[2]
CONFIGS = sorted((ROOT / "federation_configs").rglob("*.yaml"))
HOSPITALS = ROOT / "federation_configs" / "hospitals-masking.yaml"
MASKING_STAGES = (
    "advertise_keys",
    "share_keys",
    "share_check",
    "masked_input",
    "consistency_check",
    "unmasking",
    "release",
)


def document(path: Path = HOSPITALS) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    return doc


def problems_of(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigProblemsError) as caught:
        config_from_document(doc)
    return caught.value.problems


def auditor_says_safe(config: FederationConfig) -> bool:
    return not any(r.status is Status.FAIL for r in config_rules(config))


def nodes_accept(config: FederationConfig) -> bool:
    """What both nodes require of a config beyond the audit: the scheme's parameters and
    the update encoding (``AggregatorNode`` and ``SiloNode`` build both at start)."""
    try:
        scheme_params(config, 1000)
        secure_fedavg(config)
    except ConfigError:
        return False
    return True


def test_a_scheme_kind_outside_the_registry_is_refused_naming_the_registered_ones() -> None:
    doc = document()
    doc["scheme"]["kind"] = "plaintext"
    assert problems_of(doc) == [
        f"scheme.kind: must be one of {', '.join(registered())}, got 'plaintext'"
    ]


def test_the_product_registry_is_masking_and_paillier_and_only_masking_runs() -> None:
    assert registered()[:2] == ("masking", "paillier")
    assert runnable() == ("masking",)


def test_every_stage_of_the_scheme_gets_a_deadline_in_its_order() -> None:
    config = load_config(HOSPITALS)
    assert tuple(k for k, _ in config.timeouts.stages) == MASKING_STAGES
    assert scheme_of(config).stages[-1].name == "release"  # every scheme ends with it


def test_a_stage_deadline_not_given_is_its_scheme_default() -> None:
    config = load_config(HOSPITALS)
    assert stage_timeout(config, "masked-input") == 600.0
    assert stage_timeout(config, "release") == 120.0


def test_a_deadline_for_a_stage_the_scheme_does_not_have_is_refused() -> None:
    doc = document()
    doc["timeouts"] = {"stages": {"decryption_shares": 30}}
    (problem,) = problems_of(doc)
    assert problem.startswith("timeouts.stages.decryption_shares: the masking scheme has no")
    assert "share_check" in problem


def test_a_stage_deadline_outside_timeouts_stages_says_where_it_goes() -> None:
    doc = document()
    doc["timeouts"] = {"masked_input": 30}
    assert problems_of(doc) == [
        "timeouts.masked_input: a stage deadline goes under timeouts.stages.masked_input"
    ]


def test_the_stage_deadlines_are_in_the_digest() -> None:
    doc = document()
    base = config_from_document(doc).digest()
    doc["timeouts"] = {"stages": {"share_check": 61}}
    assert config_from_document(doc).digest() != base


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_what_the_auditor_says_is_safe_every_node_accepts(path: Path, tmp_path: Path) -> None:
    """Each file as it is and, for the examples, as `certs provision` pins it (unpinned,
    every example fails ca.pinned, which would leave nothing to imply)."""
    configs = [load_config(path)]
    if path.parent.name == "federation_configs":
        pinned = provision_federation(path, tmp_path / "fed", dt.datetime.now(dt.UTC))
        configs.append(load_config(pinned))
        # a runnable example, pinned, is safe: the implication is exercised, not vacuous
        assert auditor_says_safe(configs[-1]) == (configs[-1].scheme.kind in runnable())
    for config in configs:
        if auditor_says_safe(config):
            assert nodes_accept(config)


def test_a_paillier_config_is_neither_safe_nor_accepted_while_no_node_runs_it() -> None:
    config = load_config(ROOT / "federation_configs" / "banks-paillier.yaml")
    failed = {r.rule for r in config_rules(config) if r.status is Status.FAIL}
    assert "scheme.runnable" in failed
    assert not nodes_accept(config)


@given(
    silos=st.integers(1, 70),
    threshold=st.integers(1, 70),
    colluders=st.integers(0, 10),
    levels_log2=st.integers(1, 40),
    bits=st.sampled_from([32, 64]),
    max_samples_log2=st.integers(0, 40),
    min_silos=st.none() | st.integers(1, 70),
)
def test_for_any_masking_config_auditor_safe_implies_nodes_accept(
    silos: int,
    threshold: int,
    colluders: int,
    levels_log2: int,
    bits: int,
    max_samples_log2: int,
    min_silos: int | None,
) -> None:
    doc = document()
    doc["silos"] = [{"name": f"s{i}"} for i in range(silos)]
    doc["scheme"] = {
        "kind": "masking",
        "threshold": threshold,
        "colluders": colluders,
        "modulus_bits": bits,
        "quantization": {"levels": 2**levels_log2},
    }
    doc["training"]["max_samples"] = 2**max_samples_log2
    if min_silos is not None:
        doc["min_silos"] = min_silos
    config = config_from_document(doc)
    if auditor_says_safe(config):
        assert nodes_accept(config), [r for r in config_rules(config)]
