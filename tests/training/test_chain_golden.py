"""The golden round chain: every party, in any process, derives the same ``H_1 .. H_5``."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fedsilo.training.global_state import model_sha256
from tests.training.chain_fixture import (
    LAYOUT,
    OPTIMIZERS,
    ROUNDS,
    chain_document,
    config_digest,
    derive_chain,
    flip_bit,
    heads,
    initial_model,
    released_rounds,
    with_negative_zero,
)

ROOT = Path(__file__).parents[2]
GOLDEN: dict[str, Any] = json.loads((ROOT / "tests" / "vectors" / "chain.json").read_text())
DERIVE = (
    "import json; from tests.training.chain_fixture import chain_document; "
    "print(json.dumps(chain_document()))"
)


def golden(optimizer: str) -> list[dict[str, Any]]:
    rounds: list[dict[str, Any]] = GOLDEN["chains"][optimizer]["rounds"]
    return rounds


def test_the_golden_file_holds_five_heads_for_each_optimizer() -> None:
    assert set(GOLDEN["chains"]) == set(OPTIMIZERS) == {"fedavg", "fedadam"}
    for name in OPTIMIZERS:
        assert [r["round"] for r in golden(name)] == list(range(1, ROUNDS + 1))
        assert len(set(heads(golden(name)))) == ROUNDS


def test_the_chain_recomputed_in_this_process_equals_the_golden_file() -> None:
    assert chain_document() == GOLDEN


def dispatched_simd() -> str:
    """The SIMD targets numpy dispatches to on this CPU (disabling them leaves its baseline)."""
    try:
        umath = importlib.import_module("numpy._core._multiarray_umath")
    except ImportError:  # numpy 1.x
        umath = importlib.import_module("numpy.core._multiarray_umath")
    features = umath.__cpu_features__
    return " ".join(name for name in umath.__cpu_dispatch__ if features.get(name))


@pytest.mark.parametrize(
    ("threads", "baseline_simd"),
    [(1, False), (8, False), (8, True)],
    ids=["1-thread", "8-threads", "8-threads-baseline-simd"],
)
def test_separate_processes_with_any_thread_count_derive_the_golden_chain(
    threads: int, baseline_simd: bool
) -> None:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "OPENBLAS_NUM_THREADS": str(threads),
    }
    if baseline_simd:  # other vector widths: the same bits, since every op is elementwise
        if not dispatched_simd():
            pytest.skip("numpy dispatches to no wider SIMD on this machine")
        env["NPY_DISABLE_CPU_FEATURES"] = dispatched_simd()
    result = subprocess.run(
        [sys.executable, "-c", DERIVE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == GOLDEN


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("number", [1, 3])
@pytest.mark.parametrize("word", [7, LAYOUT.vector_length], ids=["coordinate", "weight-slot"])
def test_one_flipped_bit_of_one_aggregate_word_changes_every_later_head(
    optimizer: str, number: int, word: int
) -> None:
    expected = golden(optimizer)
    flipped = derive_chain(optimizer, rounds=flip_bit(released_rounds(), number, word, bit=0))
    before, after = slice(0, number - 1), slice(number - 1, None)
    assert heads(flipped)[before] == heads(expected)[before]
    assert all(a != b for a, b in zip(heads(flipped)[after], heads(expected)[after], strict=True))
    assert flipped[number - 1]["model_sha256"] != expected[number - 1]["model_sha256"]


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_a_negative_zero_in_the_initial_model_changes_every_head(optimizer: str) -> None:
    changed = derive_chain(optimizer, model=with_negative_zero(initial_model()))
    assert all(a != b for a, b in zip(heads(changed), heads(golden(optimizer)), strict=True))


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_the_step_absorbs_a_signed_zero_so_the_config_pin_is_what_binds_the_initial_model(
    optimizer: str,
) -> None:
    # -0.0 + x == +0.0 + x in IEEE arithmetic, so model_2 onwards cannot tell the two
    # initial models apart: only H_0 (the config digest, which covers model.initial_sha256)
    # does. This is why every party must check the pin (LocalTrainer.check_initial).
    model = initial_model()
    signed = with_negative_zero(model)
    assert model_sha256(LAYOUT, signed) != model_sha256(LAYOUT, model)
    assert np.array_equal(signed, model)  # equal as numbers, different as bits
    same_h0 = derive_chain(optimizer, model=signed, h0=config_digest(optimizer, model))
    assert same_h0 == golden(optimizer)
