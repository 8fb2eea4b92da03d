from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedsilo.crypto.encoding import VERSION_MARKER, encode

fields = st.recursive(
    st.one_of(st.binary(max_size=8), st.text(max_size=8), st.integers(-(2**70), 2**70)),
    lambda inner: st.lists(inner, max_size=4).map(tuple),
    max_leaves=12,
)


def test_encoding_starts_with_a_version_marker() -> None:
    assert encode("x").startswith(VERSION_MARKER)


@given(st.lists(fields, max_size=5), st.lists(fields, max_size=5))
def test_distinct_field_lists_encode_differently(a: list[object], b: list[object]) -> None:
    if a != b:
        assert encode(*a) != encode(*b)  # type: ignore[arg-type]


def test_concatenation_ambiguity_is_removed() -> None:
    assert encode("ab", "c") != encode("a", "bc")
    assert encode(b"ab", b"") != encode(b"a", b"b")


def test_same_value_of_different_types_encodes_differently() -> None:
    assert encode("1") != encode(b"1") != encode(1)


def test_booleans_are_refused_as_ambiguous() -> None:
    with pytest.raises(TypeError):
        encode(True)
