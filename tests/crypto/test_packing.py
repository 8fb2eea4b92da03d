"""Packing quantized values into Paillier plaintexts: layout, round trip, carry-free sums."""

from __future__ import annotations

import gmpy2
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedsilo.crypto.packing import SlotLayout, pack, slot_layout, unpack
from fedsilo.errors import ConfigError, CryptoError, QuantizationError

KEY_BITS = (512, 2048, 3072)
L16 = slot_layout(value_bits=16, silos=5, key_bits=2048)


@st.composite
def layouts(draw: st.DrawFn, max_silos: int = 2000) -> SlotLayout:
    silos = draw(st.integers(1, max_silos))
    headroom = max(1, (silos - 1).bit_length())
    value_bits = draw(st.integers(1, 64 - headroom))
    return slot_layout(value_bits=value_bits, silos=silos, key_bits=draw(st.sampled_from(KEY_BITS)))


def random_values(layout: SlotLayout, length: int, seed: int) -> npt.NDArray[np.uint64]:
    """Uniform values with a share of the extremes 0 and 2^value_bits - 1 mixed in."""
    rng = np.random.default_rng(seed)
    top = (1 << layout.value_bits) - 1
    values = rng.integers(0, top, size=length, dtype=np.uint64, endpoint=True)
    values[rng.random(length) < 0.2] = top
    values[rng.random(length) < 0.1] = 0
    return values


lengths = st.one_of(st.just(1), st.integers(1, 1000))
seeds = st.integers(0, 2**32 - 1)


@given(layouts(), lengths, seeds)
def test_unpack_inverts_pack(layout: SlotLayout, length: int, seed: int) -> None:
    values = random_values(layout, length, seed)
    plaintexts = pack(values, layout)
    assert len(plaintexts) == layout.plaintexts_for(length)
    back = unpack(plaintexts, layout, length)
    assert back.dtype == np.uint64
    assert np.array_equal(back, values)


@st.composite
def silo_vectors(draw: st.DrawFn) -> tuple[SlotLayout, list[npt.NDArray[np.uint64]]]:
    layout = draw(layouts(max_silos=40))
    length, seed = draw(lengths), draw(seeds)
    n = draw(st.integers(1, layout.silos))
    return layout, [random_values(layout, length, seed + u) for u in range(n)]


@given(silo_vectors())
def test_the_sum_of_packed_vectors_unpacks_to_their_elementwise_sum(
    case: tuple[SlotLayout, list[npt.NDArray[np.uint64]]],
) -> None:
    layout, vectors = case
    summed = [sum(column) for column in zip(*(pack(v, layout) for v in vectors), strict=True)]
    expected = np.sum(np.stack(vectors), axis=0, dtype=np.uint64)
    assert np.array_equal(unpack(summed, layout, len(vectors[0])), expected)


@pytest.mark.parametrize("key_bits", KEY_BITS)
def test_the_largest_sum_of_every_silo_fills_each_slot_without_carrying(key_bits: int) -> None:
    layout = slot_layout(value_bits=16, silos=5, key_bits=key_bits)
    full = np.full(3 * layout.slots + 1, (1 << 16) - 1, dtype=np.uint64)
    summed = [5 * p for p in pack(full, layout)]
    assert np.all(unpack(summed, layout, len(full)) == 5 * ((1 << 16) - 1))


def test_slot_zero_is_the_least_significant() -> None:
    values = np.array([1, 2, 3], dtype=np.uint64)
    assert pack(values, L16) == [1 + (2 << 19) + (3 << 38)]


def test_the_last_plaintext_is_zero_padded() -> None:
    values = np.full(L16.slots + 2, (1 << 16) - 1, dtype=np.uint64)
    last = pack(values, L16)[-1]
    assert last == (1 << 16) - 1 + (((1 << 16) - 1) << 19)


def test_vectors_longer_than_one_chunk_round_trip() -> None:
    layout = slot_layout(value_bits=16, silos=5, key_bits=512)
    values = random_values(layout, 3 * (1 << 16) + 5, seed=7)
    assert np.array_equal(unpack(pack(values, layout), layout, len(values)), values)


def test_an_empty_vector_packs_to_no_plaintexts() -> None:
    empty = np.zeros(0, dtype=np.uint64)
    assert pack(empty, L16) == []
    assert unpack([], L16, 0).size == 0


def test_pack_takes_any_unsigned_word_type() -> None:
    values = np.array([7, 65535, 0], dtype=np.uint32)
    assert pack(values, L16) == pack(values.astype(np.uint64), L16)


def test_unpack_takes_gmpy2_integers() -> None:
    values = np.arange(300, dtype=np.uint64)
    plaintexts = [gmpy2.mpz(p) for p in pack(values, L16)]
    assert np.array_equal(unpack(plaintexts, L16, 300), values)


@pytest.mark.parametrize(("key_bits", "slots"), [(2048, 107), (3072, 161)])
def test_sixteen_bit_values_for_five_silos_take_19_bit_slots(key_bits: int, slots: int) -> None:
    layout = slot_layout(value_bits=16, silos=5, key_bits=key_bits)
    assert (layout.slot_bits, layout.slots) == (19, slots)
    assert layout.plaintext_bits < key_bits


@given(st.integers(1, 48), st.integers(1, 2**16), st.sampled_from(KEY_BITS))
def test_a_layout_fits_as_many_slots_as_stay_below_every_modulus_of_the_key_size(
    value_bits: int, silos: int, key_bits: int
) -> None:
    layout = slot_layout(value_bits=value_bits, silos=silos, key_bits=key_bits)
    # any N of key_bits bits is >= 2^(key_bits - 1): a plaintext (and a sum) stays below it
    assert layout.plaintext_bits <= key_bits - 1 < layout.plaintext_bits + layout.slot_bits
    assert silos * ((1 << value_bits) - 1) < 1 << layout.slot_bits


def test_one_silo_still_gets_a_bit_of_headroom() -> None:
    assert slot_layout(value_bits=16, silos=1, key_bits=2048).slot_bits == 17


def test_plaintexts_for_rounds_up() -> None:
    assert [L16.plaintexts_for(k) for k in (0, 1, 107, 108, 214, 215)] == [0, 1, 1, 2, 2, 3]


def test_slot_bits_exactly_wide_enough_for_the_largest_sum_are_accepted() -> None:
    assert slot_layout(value_bits=16, silos=5, key_bits=2048, slot_bits=19).slot_bits == 19


def test_slot_bits_too_narrow_for_the_sum_are_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"scheme\.slot_bits: 18-bit .* at least 19"):
        slot_layout(value_bits=16, silos=5, key_bits=2048, slot_bits=18)


def test_a_slot_larger_than_the_plaintext_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"scheme\.key_bits: a 19-bit slot .*at most 18 bits"):
        slot_layout(value_bits=16, silos=5, key_bits=19)


def test_a_slot_wider_than_64_bits_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"scheme\.value_bits to at most 63"):
        slot_layout(value_bits=64, silos=2, key_bits=2048)


@pytest.mark.parametrize("value_bits", [0, 65])
def test_value_bits_outside_1_to_64_are_refused(value_bits: int) -> None:
    with pytest.raises(ConfigError, match=r"scheme\.value_bits"):
        slot_layout(value_bits=value_bits, silos=5, key_bits=2048)


def test_a_layout_for_no_silos_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least one silo"):
        slot_layout(value_bits=16, silos=0, key_bits=2048)


def test_a_layout_built_by_hand_cannot_overflow_either() -> None:
    with pytest.raises(ConfigError, match="cannot hold the sum of 5"):
        SlotLayout(value_bits=16, slot_bits=18, slots=100, silos=5)


def test_a_value_too_large_for_value_bits_is_refused_with_its_index() -> None:
    values = np.array([0, 1, 65535, 65536, 70000], dtype=np.uint64)
    with pytest.raises(QuantizationError, match=r"2 values .* index 3: 65536.*scheme\.value_bits"):
        pack(values, L16)


@pytest.mark.parametrize(
    "values",
    [
        np.array([1, 2], dtype=np.int64),
        np.array([1.0, 2.0]),
        np.array([True, False]),
        np.zeros((2, 2), dtype=np.uint64),
        np.uint64(3),
    ],
    ids=["signed", "float", "bool", "2-D", "scalar"],
)
def test_pack_refuses_anything_but_a_1d_unsigned_vector(values: npt.NDArray[np.uint64]) -> None:
    with pytest.raises(QuantizationError, match="1-D vector of unsigned integers"):
        pack(values, L16)


@pytest.mark.parametrize("delta", [-1, 1])
def test_unpack_refuses_the_wrong_number_of_plaintexts(delta: int) -> None:
    plaintexts = pack(np.arange(200, dtype=np.uint64), L16)
    wrong = plaintexts[:delta] if delta < 0 else [*plaintexts, 0]
    with pytest.raises(CryptoError, match="200 values of 107 slots need 2 plaintexts, got"):
        unpack(wrong, L16, 200)


@pytest.mark.parametrize("bad", [-1, 1 << L16.plaintext_bits])
def test_unpack_refuses_a_plaintext_out_of_range(bad: int) -> None:
    with pytest.raises(CryptoError, match=r"plaintext 1 is outside \[0, 2\^2033\)"):
        unpack([0, bad], L16, 200)


def test_unpack_refuses_non_zero_padding() -> None:
    plaintexts = pack(np.arange(1, 111, dtype=np.uint64), L16)
    with pytest.raises(CryptoError, match=r"padding slot 109 .* not zero"):
        unpack(plaintexts, L16, 109)


def test_unpack_refuses_a_negative_length() -> None:
    with pytest.raises(CryptoError, match="negative length"):
        unpack([], L16, -1)
