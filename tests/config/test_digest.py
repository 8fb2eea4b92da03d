"""The canonical digest: RFC 8785 JSON of the normalized config."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from fedsilo.config.jcs import canonical_json
from fedsilo.config.load import config_from_document, load_config
from fedsilo.errors import ConfigError

HOSPITALS = Path(__file__).parents[2] / "federation_configs" / "hospitals-masking.yaml"


def doc() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(HOSPITALS.read_text())  # type: ignore[no-any-return]


def digest_of(document: dict) -> str:  # type: ignore[type-arg]
    return config_from_document(document).digest()


def test_digest_is_sha256_of_the_canonical_json() -> None:
    config = load_config(HOSPITALS)
    assert (
        config.digest() == "sha256:" + hashlib.sha256(config.canonical_json().encode()).hexdigest()
    )


def test_key_order_whitespace_and_comments_do_not_change_the_digest(tmp_path: Path) -> None:
    reordered = dict(reversed(list(doc().items())))
    reordered["scheme"] = dict(reversed(list(reordered["scheme"].items())))
    path = tmp_path / "reordered.yaml"
    path.write_text("# a comment\n\n" + yaml.safe_dump(reordered, indent=4, sort_keys=False))
    assert load_config(path).digest() == load_config(HOSPITALS).digest()


def test_writing_a_default_explicitly_does_not_change_the_digest() -> None:
    explicit = doc()
    explicit["scheme"]["threshold"] = 3
    explicit["min_silos"] = 3
    explicit["training"]["server_step"] = "v1"
    assert digest_of(explicit) == digest_of(doc())
    implicit = doc()
    del implicit["max_resets"]  # the example states the default, max_resets: 1
    assert digest_of(implicit) == digest_of(doc())


def test_the_digest_covers_the_server_step_and_the_initial_model_pin() -> None:
    # what every party runs to derive model_{r+1} is part of what every member endorses
    normalized = json.loads(load_config(HOSPITALS).canonical_json())
    assert normalized["training"]["server_step"] == "v1"
    assert normalized["training"]["server_optimizer"] == "fedavg"
    assert normalized["training"]["server_lr"] == 1
    assert normalized["model"] == {"initial_sha256": None, "layout_sha256": None}


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.__setitem__("federation", "other-consortium"),
        lambda d: d["scheme"].__setitem__("colluders", 0),
        lambda d: d["scheme"]["quantization"].__setitem__("clip", 0.5),
        lambda d: d["training"].__setitem__("rounds", 6),
        lambda d: d["silos"][0].__setitem__("organisation", "St Mary's"),
        lambda d: d["silos"].reverse(),  # roster order fixes indices and mask signs
        lambda d: d.__setitem__("timeouts", {"stages": {"unmasking": 121}}),
        lambda d: d["training"].__setitem__("server_optimizer", "fedadam"),
        lambda d: d["training"].__setitem__("server_lr", 0.5),
        lambda d: d.__setitem__("model", {"layout_sha256": "sha256:" + "1" * 64}),
        lambda d: d.__setitem__("model", {"initial_sha256": "sha256:" + "2" * 64}),
        lambda d: d.__setitem__("max_resets", 2),  # how many resets every member accepts
        lambda d: d["scheme"].__setitem__("release_verification", "sketch"),
    ],
    ids=[
        "federation",
        "colluders",
        "clip",
        "rounds",
        "organisation",
        "roster-order",
        "timeout",
        "server-optimizer",
        "server-lr",
        "layout-pin",
        "initial-model-pin",
        "max-resets",
        "release-verification",
    ],
)
def test_any_semantic_change_changes_the_digest(change: object) -> None:
    changed = doc()
    change(changed)  # type: ignore[operator]
    assert digest_of(changed) != digest_of(doc())


@pytest.mark.parametrize(
    ("value", "expected"),
    [  # RFC 8785 section 3.2.2.3 and appendix B examples
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        (333333333.3333333, "333333333.3333333"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (-0.0, "0"),
        (4.5, "4.5"),
        (2.0, "2"),
    ],
)
def test_numbers_serialize_as_ecmascript_does(value: float, expected: str) -> None:
    assert canonical_json(value) == expected


def test_object_members_sort_by_utf16_code_units_and_strings_escape_minimally() -> None:
    assert canonical_json({"b": 1, "a": 'x\n"\u0001é', "\U0001f600": 0, "\ufb01": 0}) == (
        '{"a":"x\\n\\"\\u0001é","b":1,"\U0001f600":0,"\ufb01":0}'
    )


def test_non_finite_and_oversized_numbers_are_refused() -> None:
    with pytest.raises(ConfigError):
        canonical_json(float("nan"))
    with pytest.raises(ConfigError):
        canonical_json(2**60)


def test_document_round_trips_through_the_loader() -> None:
    config = load_config(HOSPITALS)
    assert config_from_document(config.document()) == config
