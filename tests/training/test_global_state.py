"""The global model as ``H_r`` hashes it: safetensors of the layout's tensors, sorted, no
metadata; and the initial model every party checks against the config's pin."""

from __future__ import annotations

import hashlib
import json
import struct
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from safetensors.numpy import load, save

from fedsilo.config.model import TrainingPlan
from fedsilo.errors import ConfigError
from fedsilo.tensors import Layout, TensorSpec
from fedsilo.training.global_state import (
    model_safetensors,
    model_sha256,
    model_sha256_text,
    model_tensors,
)
from fedsilo.training.local import LocalTrainer

LAYOUT = Layout(
    (
        TensorSpec("z.weight", (2, 3), "float32"),
        TensorSpec("counter", (), "int64"),
        TensorSpec("a.bias", (2,), "float16"),
    )
)
MODEL = (np.arange(8) / 8).astype(np.float32)


def header(data: bytes) -> dict[str, object]:
    (length,) = struct.unpack("<Q", data[:8])
    parsed: dict[str, object] = json.loads(data[8 : 8 + length])
    return parsed


def test_the_model_file_holds_the_aggregated_tensors_by_name_and_shape_in_float32() -> None:
    data = model_safetensors(LAYOUT, MODEL)
    tensors = load(data)
    assert sorted(tensors) == ["a.bias", "z.weight"]  # the integer buffer is not aggregated
    assert tensors["z.weight"].shape == (2, 3) and tensors["z.weight"].dtype == np.float32
    assert tensors["a.bias"].dtype == np.float32  # the vector's dtype, whatever the tensor's
    assert np.array_equal(tensors["z.weight"].reshape(-1), MODEL[:6])
    assert np.array_equal(tensors["a.bias"], MODEL[6:])


def test_the_model_file_has_sorted_keys_and_no_metadata() -> None:
    parsed = header(model_safetensors(LAYOUT, MODEL))
    assert list(parsed) == ["a.bias", "z.weight"] and "__metadata__" not in parsed


def test_safetensors_output_does_not_depend_on_insertion_order() -> None:
    tensors = model_tensors(LAYOUT, MODEL)
    mixed: dict[str, npt.NDArray[Any]] = {"m": np.zeros(3), **tensors}
    assert save(dict(reversed(list(mixed.items())))) == save(mixed)


def test_the_model_digest_is_sha256_of_the_file_and_sees_the_sign_of_zero() -> None:
    digest = model_sha256(LAYOUT, MODEL)
    assert digest == hashlib.sha256(model_safetensors(LAYOUT, MODEL)).digest()
    assert model_sha256_text(LAYOUT, MODEL) == "sha256:" + digest.hex()
    signed = MODEL.copy()
    signed[0] = -0.0
    assert MODEL[0] == 0.0 and model_sha256(LAYOUT, signed) != digest


def test_a_model_that_does_not_fit_the_layout_is_refused() -> None:
    with pytest.raises(ConfigError, match="does not fit a layout of 8"):
        model_safetensors(LAYOUT, MODEL[:-1])
    with pytest.raises(ConfigError, match="float32"):
        model_safetensors(LAYOUT, MODEL.astype(np.float64))


PLAN = TrainingPlan(rounds=1, task="synthetic-vector", options=(("params", 16),))


def test_the_initial_model_matching_its_pin_is_accepted() -> None:
    trainer = LocalTrainer.for_plan(PLAN)
    pin = model_sha256_text(trainer.layout, trainer.initial_model())
    trainer.load(np.ones(16, dtype=np.float32))  # a later model does not change the initial one
    trainer.check_initial(pin)


def test_an_initial_model_other_than_the_pinned_one_is_refused_naming_both_digests() -> None:
    trainer = LocalTrainer.for_plan(PLAN)
    own = model_sha256_text(trainer.layout, trainer.initial_model())
    pinned = "sha256:" + "ab" * 32
    with pytest.raises(ConfigError) as caught:
        trainer.check_initial(pinned)
    assert own in str(caught.value) and pinned in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_unpinned_initial_model_is_refused_with_the_command_that_pins_it() -> None:
    with pytest.raises(ConfigError, match=r"model\.initial_sha256.*fedsilo config pin-layout"):
        LocalTrainer.for_plan(PLAN).check_initial(None)
