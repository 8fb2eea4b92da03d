"""Loading a federation config: typed, strict, every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedsilo.config.load import load_config
from fedsilo.config.model import ModelPin
from fedsilo.config.schemes import scheme_params
from fedsilo.errors import ConfigError, ConfigProblemsError
from fedsilo.protocol.masking.scheme import MaskingScheme
from fedsilo.protocol.paillier.scheme import PaillierScheme

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted((ROOT / "federation_configs").glob("*.yaml"))
HOSPITALS = ROOT / "federation_configs" / "hospitals-masking.yaml"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_config_loads(path: Path) -> None:
    config = load_config(path)
    assert config.silos and config.digest().startswith("sha256:")


def test_defaults_are_the_secure_ones() -> None:
    config = load_config(HOSPITALS)
    assert isinstance(config.scheme, MaskingScheme)
    assert config.scheme.threshold == 2 * 4 // 3 + 1
    assert config.min_silos == config.scheme.threshold
    banks = load_config(ROOT / "federation_configs" / "banks-paillier.yaml")
    assert isinstance(banks.scheme, PaillierScheme) and banks.scheme.key_bits == 3072


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "federation.yaml"
    path.write_text(text)
    return path


def test_five_independent_mistakes_are_all_reported_with_their_key_paths(tmp_path: Path) -> None:
    text = HOSPITALS.read_text()
    text = text.replace("federation: hospital-consortium", "federation: Hospital Consortium")
    text = text.replace("aggregator.hospital-consortium.example:7443", "no-port-here")
    text = text.replace(
        "  - name: city-general\n", "  - name: city-general\n    fingerprint: md5:1234\n"
    )
    text = text.replace("    levels: 1048576 ", "    levels: lots ")
    text = text.replace("  rounds: 5", "  rounds: 5\n  epochs: 3")
    with pytest.raises(ConfigProblemsError) as caught:
        load_config(write(tmp_path, text))
    problems = caught.value.problems
    assert len(problems) == 5, problems
    paths = sorted(p.split(":")[0] for p in problems)
    assert paths == [
        "aggregator.address",
        "federation",
        "scheme.quantization.levels",
        "silos[1].fingerprint",
        "training.epochs",
    ]


def test_a_python_object_tag_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    text = HOSPITALS.read_text().replace(
        "task: breast-cancer", "task: !!python/object/apply:os.system ['id']"
    )
    with pytest.raises(ConfigError, match=r"refused YAML.*python/object"):
        load_config(write(tmp_path, text))


def test_a_duplicate_key_is_refused(tmp_path: Path) -> None:
    text = HOSPITALS.read_text().replace("  rounds: 5", "  rounds: 5\n  rounds: 500")
    with pytest.raises(ConfigError, match="duplicate key 'rounds'"):
        load_config(write(tmp_path, text))


def test_unknown_top_level_keys_are_refused(tmp_path: Path) -> None:
    text = HOSPITALS.read_text() + "insecure_mode: true\n"
    with pytest.raises(ConfigProblemsError, match="insecure_mode: unknown key"):
        load_config(write(tmp_path, text))


def test_colluders_must_be_declared(tmp_path: Path) -> None:
    text = HOSPITALS.read_text().replace(
        "  colluders: 1          # silos that may collude with the aggregator (declared)\n", ""
    )
    with pytest.raises(ConfigProblemsError, match=r"scheme\.colluders: required"):
        load_config(write(tmp_path, text))


def test_a_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "absent.yaml")


def test_the_initial_model_pin_is_read_into_the_model_pin(tmp_path: Path) -> None:
    layout, initial = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    text = (
        HOSPITALS.read_text() + f"model:\n  layout_sha256: {layout}\n  initial_sha256: {initial}\n"
    )
    config = load_config(write(tmp_path, text))
    assert config.model == ModelPin(layout_sha256=layout, initial_sha256=initial)
    assert load_config(HOSPITALS).model.initial_sha256 is None  # the auditor fails it


def test_a_malformed_initial_model_pin_is_reported_with_its_key_path(tmp_path: Path) -> None:
    text = HOSPITALS.read_text() + "model:\n  initial_sha256: sha256:2222\n"
    with pytest.raises(ConfigProblemsError, match=r"model\.initial_sha256: fingerprint"):
        load_config(write(tmp_path, text))


def test_the_server_step_defaults_to_v1_and_no_other_is_accepted(tmp_path: Path) -> None:
    assert load_config(HOSPITALS).training.server_step == "v1"
    text = HOSPITALS.read_text().replace("  rounds: 5", "  rounds: 5\n  server_step: v2")
    with pytest.raises(ConfigProblemsError, match=r"training\.server_step: must be one of v1"):
        load_config(write(tmp_path, text))


def with_max_resets(tmp_path: Path, value: str | None) -> Path:
    text = HOSPITALS.read_text().replace("max_resets: 1\n", "")
    return write(tmp_path, text if value is None else text + f"max_resets: {value}\n")


def test_max_resets_defaults_to_one_and_is_read(tmp_path: Path) -> None:
    assert load_config(with_max_resets(tmp_path, None)).max_resets == 1
    assert load_config(with_max_resets(tmp_path, "0")).max_resets == 0
    assert load_config(with_max_resets(tmp_path, "3")).max_resets == 3


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "must be between 0 and 1000, got -1"),
        ("1001", "must be between 0 and 1000, got 1001"),
        ("true", "must be an integer, got True"),
        ("two", "must be an integer, got 'two'"),
        ("1.5", "must be an integer, got 1.5"),
    ],
)
def test_a_bad_max_resets_is_reported_with_its_key(
    tmp_path: Path, value: str, message: str
) -> None:
    with pytest.raises(ConfigProblemsError) as caught:
        load_config(with_max_resets(tmp_path, value))
    assert caught.value.problems == [f"max_resets: {message}"]


def test_every_node_enforces_min_silos_as_its_quorum(tmp_path: Path) -> None:
    text = HOSPITALS.read_text().replace("scheme:\n", "min_silos: 4\nscheme:\n", 1)
    config = load_config(write(tmp_path, text))
    params = scheme_params(config)
    assert (params.threshold, params.min_silos, params.quorum) == (3, 4, 4)
