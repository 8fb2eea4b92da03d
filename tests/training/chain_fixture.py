"""The golden round chain: one derivation, shared by its generator and its tests.

A small fixed federation, built without training: a layout of a few tensors
(one of them an integer buffer, which is not aggregated), an initial model
drawn from a seeded numpy Generator, and five rounds of fixed pseudo-random
released aggregates ``A_r`` (the sum of five survivors' quantized coordinates,
plus the weight and evaluation slots :class:`SecureFedAvg` expects). Each round
is what a silo does after it verified ``A_r``::

    average = SecureFedAvg(quantizer, max_samples).decode(A_r, len(survivors))
    model, state = optimizer.step(model, state, average.mean_delta)
    H_r = ChainLink(r, H_{r-1}, session_id, survivors, aggregate_sha256(A_r),
                    model_sha256(layout, model), optimizer_sha256(state)).head

``H_0`` is a stand-in config digest: SHA-256 over what a real config digest
covers of this chain (the layout, the initial model's pin, the server step and
optimizer), so that, as in a federation, the pin of ``model_1`` is bound into
``H_0``. ``tests/vectors/generate_chain.py`` writes :func:`chain_document` to
``tests/vectors/chain.json``; ``tests/training/test_chain_golden.py`` checks it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from fedsilo.config.model import TrainingPlan
from fedsilo.crypto.encoding import encode
from fedsilo.crypto.prg import UIntArray
from fedsilo.crypto.quantize import Quantizer
from fedsilo.protocol.chain import CHAIN_LABEL, ChainLink, aggregate_sha256, genesis
from fedsilo.tensors import FloatVector, Layout, TensorSpec
from fedsilo.training.global_state import model_sha256, model_sha256_text, optimizer_sha256
from fedsilo.training.server_optimizers import SERVER_STEP_VERSION, server_optimizer
from fedsilo.training.weighted import SLOTS, SecureFedAvg

FORMAT = "fedsilo-chain-vectors/v1"
CONFIG_LABEL = "fedsilo/test/chain-config/v1"
SEED = 20240607
ROUNDS = 5
ROSTER = 6
SURVIVORS: tuple[tuple[int, ...], ...] = (
    (1, 2, 3, 4, 5),
    (1, 2, 3, 5, 6),
    (2, 3, 4, 5, 6),
    (1, 3, 4, 5, 6),
    (1, 2, 4, 5, 6),
)
QUANTIZER = Quantizer(clip=1.0, levels=1 << 16, bits=32)
MAX_SAMPLES = 1000
OPTIMIZERS = {"fedavg": 1.0, "fedadam": 0.05}  # server optimizer -> server_lr
LAYOUT = Layout(
    (
        TensorSpec("encoder.weight", (16, 16), "float32"),
        TensorSpec("encoder.bias", (16,), "float32"),
        TensorSpec("encoder.steps", (), "int64"),  # a buffer: in the layout, not aggregated
        TensorSpec("head.weight", (3, 16), "float32"),
        TensorSpec("head.bias", (3,), "float32"),
    )
)
ZERO_INDEX = LAYOUT.vector_length - 1  # head.bias starts at zero: the -0.0 case flips one


@dataclass(frozen=True)
class ReleasedRound:
    """What a silo holds once it verified round ``number``."""

    number: int
    session_id: bytes
    survivors: tuple[int, ...]
    aggregate: UIntArray


def initial_model() -> FloatVector:
    """``model_1``: uniform in [-0.1, 0.1) from a seeded Generator, the head's bias zero."""
    rng = np.random.default_rng(SEED)
    model = ((rng.random(LAYOUT.vector_length) - 0.5) * 0.2).astype(np.float32)
    model[LAYOUT.vector_length - 3 :] = 0.0
    return model


def released_rounds() -> list[ReleasedRound]:
    """``A_1 .. A_5``: each survivor's quantized coordinates (as an honest encoding of its
    weighted delta would be) summed, and the summed weight (each at most ``max_samples``)
    and evaluation counts."""
    out = []
    for number, survivors in enumerate(SURVIVORS, 1):
        rng = np.random.default_rng([SEED, number])
        count = len(survivors)
        weights = rng.integers(1, MAX_SAMPLES + 1, count)
        # as an honest encoding of w' * delta, |delta| <= clip: around the zero point, at
        # most w' = weight / max_samples of the half range away from it
        middle = (QUANTIZER.levels - 1) / 2
        reach = np.floor(weights / MAX_SAMPLES * middle)[:, None]
        low, high = np.ceil(middle - reach), np.floor(middle + reach)
        coordinates = (low + rng.random((count, LAYOUT.vector_length)) * (high - low + 1)).astype(
            np.int64
        )
        coordinates = np.minimum(coordinates, high.astype(np.int64))
        examples = rng.integers(10, 200, count)
        correct = (examples * rng.random(count)).astype(np.int64)
        slots = [weights.sum(), correct.sum(), examples.sum()]
        words = np.concatenate([coordinates.sum(axis=0), slots]).astype(np.uint32)
        assert len(words) == LAYOUT.vector_length + len(SLOTS)
        session_id = hashlib.sha256(encode("fedsilo/test/chain-session", number)).digest()
        out.append(ReleasedRound(number, session_id, survivors, words))
    return out


def plan(optimizer: str) -> TrainingPlan:
    return TrainingPlan(
        rounds=ROUNDS,
        task="synthetic-vector",
        max_samples=MAX_SAMPLES,
        server_optimizer=optimizer,
        server_lr=OPTIMIZERS[optimizer],
    )


def config_digest(optimizer: str, model: FloatVector) -> bytes:
    """The stand-in for the config digest: it covers the initial model's pin."""
    training = plan(optimizer)
    return hashlib.sha256(
        encode(
            CONFIG_LABEL,
            LAYOUT.sha256(),
            model_sha256_text(LAYOUT, model),
            training.server_step,
            training.server_optimizer,
            repr(training.server_lr),
        )
    ).digest()


def derive_chain(
    optimizer: str,
    model: FloatVector | None = None,
    rounds: Sequence[ReleasedRound] | None = None,
    h0: bytes | None = None,
) -> list[dict[str, Any]]:
    """Every round's digests and head ``H_r`` (hex), from ``model_1`` and the aggregates."""
    model = initial_model() if model is None else model
    rounds = released_rounds() if rounds is None else rounds
    head = genesis(config_digest(optimizer, model) if h0 is None else h0)
    codec = SecureFedAvg(QUANTIZER, MAX_SAMPLES)
    step = server_optimizer(plan(optimizer))
    state = step.initial_state(len(model))
    out = []
    for released in rounds:
        average = codec.decode(released.aggregate, len(released.survivors))
        model, state = step.step(model, state, average.mean_delta)
        link = ChainLink(
            released.number,
            head,
            released.session_id,
            released.survivors,
            aggregate_sha256(released.aggregate),
            model_sha256(LAYOUT, model),
            optimizer_sha256(state),
        )
        head = link.head
        out.append(
            {
                "round": link.round,
                "session_id": link.session_id.hex(),
                "survivors": list(link.survivors),
                "aggregate_sha256": link.aggregate_sha256.hex(),
                "model_sha256": link.model_sha256.hex(),
                "optimizer_sha256": link.optimizer_sha256.hex(),
                "head": head.hex(),
            }
        )
    return out


def heads(chain: list[dict[str, Any]]) -> list[str]:
    return [r["head"] for r in chain]


def chain_document() -> dict[str, Any]:
    """Everything ``tests/vectors/chain.json`` holds."""
    model = initial_model()
    return {
        "format": FORMAT,
        "chain_label": CHAIN_LABEL,
        "server_step": SERVER_STEP_VERSION,
        "layout": LAYOUT.document().decode(),
        "initial_model_sha256": model_sha256(LAYOUT, model).hex(),
        "quantizer": {"clip": QUANTIZER.clip, "levels": QUANTIZER.levels, "bits": QUANTIZER.bits},
        "max_samples": MAX_SAMPLES,
        "roster": ROSTER,
        "chains": {
            name: {
                "server_lr": lr,
                "config_digest": config_digest(name, model).hex(),
                "rounds": derive_chain(name),
            }
            for name, lr in OPTIMIZERS.items()
        },
    }


def flip_bit(rounds: list[ReleasedRound], number: int, word: int, bit: int) -> list[ReleasedRound]:
    """The same rounds with one bit of one word of ``A_number`` flipped."""
    out = []
    for released in rounds:
        aggregate = released.aggregate.copy()
        if released.number == number:
            aggregate[word] ^= np.uint32(1 << bit)
        out.append(
            ReleasedRound(released.number, released.session_id, released.survivors, aggregate)
        )
    return out


def with_negative_zero(model: FloatVector) -> npt.NDArray[np.float32]:
    """``model`` with its ``+0.0`` at :data:`ZERO_INDEX` written as ``-0.0``."""
    assert model[ZERO_INDEX] == 0.0 and not np.signbit(model[ZERO_INDEX])
    out = model.copy()
    out[ZERO_INDEX] = -0.0
    return out
