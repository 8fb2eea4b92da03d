"""Endorsements: each member signs exactly the config it agreed to."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml

from fedsilo.config.endorse import EndorsementStatus, check_endorsement, endorse
from fedsilo.config.load import load_config
from fedsilo.errors import ConfigError
from fedsilo.pki.files import load_certificate
from fedsilo.runtime.provisioning import provision_federation

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
HOSPITALS = Path(__file__).parents[2] / "federation_configs" / "hospitals-masking.yaml"


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("endorse") / "fed"


@pytest.fixture
def pinned(federation: Path, tmp_path: Path) -> Path:
    if not federation.exists():
        provision_federation(HOSPITALS, federation, NOW)
    copy = tmp_path / "hospitals-masking.yaml"
    shutil.copy(federation / "hospitals-masking.yaml", copy)
    return copy


def sign_as(config_path: Path, federation: Path, name: str) -> None:
    endorse(
        load_config(config_path),
        config_path,
        federation / name / f"{name}.key",
        federation / name / f"{name}.crt",
    )


def status(config_path: Path, federation: Path, name: str) -> EndorsementStatus:
    ca = load_certificate(federation / "ca" / "ca.crt")
    return check_endorsement(load_config(config_path), config_path, name, ca).status


def test_an_endorsement_verifies_for_the_config_it_signed(pinned: Path, federation: Path) -> None:
    sign_as(pinned, federation, "st-marys")
    assert status(pinned, federation, "st-marys") is EndorsementStatus.VALID
    assert status(pinned, federation, "city-general") is EndorsementStatus.MISSING


def test_an_endorsement_made_before_a_change_fails_after_it(pinned: Path, federation: Path) -> None:
    sign_as(pinned, federation, "st-marys")
    doc = yaml.safe_load(pinned.read_text())
    doc["scheme"]["colluders"] = 0
    pinned.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert status(pinned, federation, "st-marys") is EndorsementStatus.INVALID


def test_an_endorsement_with_an_unpinned_certificate_is_refused(
    pinned: Path, federation: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    provision_federation(HOSPITALS, other, NOW)  # a second PKI with the same names
    with pytest.raises(ConfigError, match="not the certificate pinned"):
        endorse(
            load_config(pinned),
            pinned,
            other / "st-marys" / "st-marys.key",
            other / "st-marys" / "st-marys.crt",
        )


def test_a_swapped_endorsement_file_is_invalid(pinned: Path, federation: Path) -> None:
    sign_as(pinned, federation, "st-marys")
    folder = Path(f"{pinned}.endorsements")
    (folder / "city-general.sig").write_bytes((folder / "st-marys.sig").read_bytes())
    assert status(pinned, federation, "city-general") is EndorsementStatus.INVALID
