"""State dict <-> flat vector, and the layout that pins the architecture."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from fedsilo.errors import ConfigError
from fedsilo.tensors import Layout, flatten, unflatten


def model(hidden: int = 8) -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Linear(30, hidden),
        torch.nn.BatchNorm1d(hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, 2),
    )


def test_flatten_then_unflatten_restores_every_tensor() -> None:
    state = model().state_dict()
    layout = Layout.of(state)
    again = unflatten(flatten(state, layout), state)
    assert list(again) == list(state)
    for name, tensor in state.items():
        assert again[name].dtype == tensor.dtype and torch.equal(again[name], tensor)


def test_only_floating_point_tensors_are_aggregated() -> None:
    state = model().state_dict()
    layout = Layout.of(state)
    floats = sum(t.numel() for t in state.values() if t.is_floating_point())
    assert layout.vector_length == floats == len(flatten(state, layout))
    assert any(not t.aggregated for t in layout.tensors)  # num_batches_tracked


@given(st.integers(1, 16), st.integers(1, 16))
def test_the_layout_digest_changes_with_the_architecture(a: int, b: int) -> None:
    same = Layout.of(model(a).state_dict()).sha256() == Layout.of(model(b).state_dict()).sha256()
    assert same == (a == b)


def test_the_layout_digest_ignores_the_weights() -> None:
    assert Layout.of(model().state_dict()).sha256() == Layout.of(model().state_dict()).sha256()


def test_a_different_architecture_is_refused_naming_the_first_differing_tensor() -> None:
    with pytest.raises(ConfigError, match=r"'0\.weight'"):
        Layout.of(model(8).state_dict()).require_same(Layout.of(model(9).state_dict()))


def test_a_missing_tensor_is_named() -> None:
    full = model().state_dict()
    partial = dict(list(full.items())[:-1])
    with pytest.raises(ConfigError, match=r"'3\.bias'"):
        Layout.of(partial).require_same(Layout.of(full))


def test_a_vector_of_the_wrong_length_is_refused() -> None:
    state = model().state_dict()
    with pytest.raises(ConfigError, match="does not fit"):
        unflatten(flatten(state, Layout.of(state))[:-1], state)
