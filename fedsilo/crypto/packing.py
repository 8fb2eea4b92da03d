"""Packing quantized values into Paillier plaintexts, many per plaintext, without carries.

Theory of operation
-------------------
A Paillier plaintext is an integer mod ``N`` (``|N|`` = ``key_bits``); one
ciphertext per parameter would cost ~512 bytes per value at 2048 bits. So a
plaintext is cut into ``slots`` fixed-width *slots* of ``slot_bits`` bits
each, slot 0 in the least significant bits::

    m = v_0 + v_1 * 2^s + v_2 * 2^(2s) + ... + v_(slots-1) * 2^((slots-1)s)

and ``slots = floor((key_bits - 1) / s)``, so ``m < 2^(key_bits - 1) <= N``.
Plaintext ``k`` holds values ``k*slots .. k*slots + slots - 1``; the last one
is padded with zero slots.

**Offset binary.** Every value is a non-negative integer below
``2^value_bits``: the quantizer (:mod:`fedsilo.crypto.quantize`) maps
``[-c, c]`` onto ``[0, L - 1]``, and the aggregate subtracts ``n * c`` after
decoding. Negative values in two's complement would borrow from the slot
above when added; non-negative ones never do.

**Headroom.** Homomorphic addition adds plaintexts as integers (mod ``N``).
The sum of ``n`` packed plaintexts is ``Σ_j (Σ_u v_(u,j)) * 2^(js)``. If each
slot's sum ``Σ_u v_(u,j) <= n * (2^value_bits - 1)`` is below ``2^s``, this
*is* the base-``2^s`` representation of the sum, digit by digit: no slot
carries into the next, and the whole stays below ``2^(slots*s) <= N``, so the
reduction mod ``N`` never happens either. ``s = value_bits + ceil(log2 n)``
bits always suffice (``n * (2^b - 1) < 2^(b + ceil(log2 n))``); the default
keeps at least one bit of headroom. :func:`slot_layout` refuses, at config
load, any layout where this could fail, so honest inputs cannot overflow by
construction. (A dishonest silo can encrypt any plaintext below ``N`` and so
corrupt the sum, as it can by sending a bad update; :func:`unpack` notices
only sums outside the layout's range or with non-zero padding.)

**Why not phe's encoding.** ``phe.EncodedNumber`` stores a float as an
integer mantissa and an exponent chosen from the value's own precision; the
exponent travels in the clear beside the ciphertext and so leaks every
value's magnitude. It also spends a whole ciphertext on one value and
represents negatives by wrapping mod ``N``, which rules out packing.

**Vectorized.** Values go to bits with ``np.unpackbits`` (only the low bytes
a slot needs), are laid out ``slot_bits`` per value and ``slots`` per row, and
each row goes back to bytes with ``np.packbits`` and to a Python integer with
one ``int.from_bytes`` per plaintext; :func:`unpack` runs the same steps
backwards with one ``int.to_bytes`` per plaintext. No Python code runs per
value. Work is done in chunks of about 2^16 values so that the bit arrays stay
a few megabytes whatever the vector's length.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fedsilo.crypto.prg import UIntArray
from fedsilo.errors import ConfigError, CryptoError, QuantizationError

MAX_SLOT_BITS = 64
"""Sums are unpacked into uint64 words, so no slot may be wider."""

# about 2^16 values per chunk: the bit arrays of one chunk stay a few MiB (cache-friendly)
_CHUNK_VALUES = 1 << 16


def _headroom_bits(silos: int) -> int:
    """``max(1, ceil(log2 silos))``, exactly (no floating point)."""
    return max(1, (silos - 1).bit_length())


def default_slot_bits(value_bits: int, silos: int) -> int:
    """``value_bits + max(1, ceil(log2 silos))``: the slot that holds the sum of ``silos``
    values of ``value_bits`` bits, with at least one bit of headroom."""
    return value_bits + _headroom_bits(silos)


def _check_counts(value_bits: int, silos: int) -> None:
    if not 1 <= value_bits <= 64:
        raise ConfigError(
            f"scheme.value_bits: {value_bits} is outside 1..64; "
            "quantized values are packed from 64-bit words"
        )
    if silos < 1:
        raise ConfigError(f"silos: a slot layout needs at least one silo, got {silos}")


def _check_capacity(value_bits: int, silos: int, slot_bits: int) -> None:
    largest = silos * ((1 << value_bits) - 1)
    if largest.bit_length() > slot_bits:
        raise ConfigError(
            f"scheme.slot_bits: {slot_bits}-bit slots cannot hold the sum of {silos} "
            f"{value_bits}-bit values; set scheme.slot_bits to at least {largest.bit_length()}"
        )
    if slot_bits > MAX_SLOT_BITS:
        raise ConfigError(
            f"scheme.slot_bits: {slot_bits}-bit slots are wider than the {MAX_SLOT_BITS}-bit "
            f"words sums are unpacked into; lower scheme.value_bits to at most "
            f"{MAX_SLOT_BITS - _headroom_bits(silos)}"
        )


@dataclass(frozen=True)
class SlotLayout:
    """How quantized values sit in Paillier plaintexts (build it with :func:`slot_layout`).

    Every slot holds the sum of up to ``silos`` values of ``value_bits`` bits
    without carrying into the next slot.
    """

    value_bits: int
    """Bits of one quantized value: every value is below ``2^value_bits``."""
    slot_bits: int
    """Value bits plus headroom; ``silos * (2^value_bits - 1) < 2^slot_bits``."""
    slots: int
    """Slots per plaintext, ``floor((key_bits - 1) / slot_bits)``."""
    silos: int
    """The number of packed vectors whose sum every slot holds."""

    def __post_init__(self) -> None:
        # the invariants that make overflow impossible hold for every layout, not only for
        # those slot_layout built
        _check_counts(self.value_bits, self.silos)
        _check_capacity(self.value_bits, self.silos, self.slot_bits)
        if self.slots < 1:
            raise ConfigError(f"a slot layout needs at least one slot, got {self.slots}")

    @property
    def plaintext_bits(self) -> int:
        """Bits of a packed plaintext, ``slots * slot_bits`` (below ``key_bits``, so below N)."""
        return self.slots * self.slot_bits

    def plaintexts_for(self, length: int) -> int:
        """How many plaintexts hold ``length`` values: ``ceil(length / slots)``."""
        if length < 0:
            raise CryptoError(f"a vector cannot have a negative length ({length})")
        return -(-length // self.slots)


def slot_layout(
    *, value_bits: int, silos: int, key_bits: int, slot_bits: int | None = None
) -> SlotLayout:
    """The layout packing ``value_bits``-bit values for a sum over ``silos`` silos into
    plaintexts of a ``key_bits``-bit Paillier key.

    ``slot_bits`` defaults to ``value_bits + max(1, ceil(log2 silos))``. Raises
    :class:`~fedsilo.errors.ConfigError`, naming the config key to change, if a
    slot could overflow, does not fit in ``key_bits - 1`` bits (or in 64 bits),
    or if ``value_bits`` is outside 1..64 or ``silos`` below 1.
    """
    _check_counts(value_bits, silos)
    bits = default_slot_bits(value_bits, silos) if slot_bits is None else slot_bits
    _check_capacity(value_bits, silos, bits)
    if bits > key_bits - 1:
        raise ConfigError(
            f"scheme.key_bits: a {bits}-bit slot does not fit a {key_bits}-bit key's plaintext "
            f"(at most {key_bits - 1} bits); raise scheme.key_bits or lower scheme.slot_bits"
        )
    return SlotLayout(
        value_bits=value_bits, slot_bits=bits, slots=(key_bits - 1) // bits, silos=silos
    )


def _plaintext_bytes(layout: SlotLayout) -> int:
    return -(-layout.plaintext_bits // 8)


def _slot_bytes(layout: SlotLayout) -> int:
    return -(-layout.slot_bits // 8)


def _chunk_plaintexts(layout: SlotLayout) -> int:
    return max(1, _CHUNK_VALUES // layout.slots)


def _checked_words(values: UIntArray, value_bits: int) -> npt.NDArray[np.uint64]:
    """``values`` as little-endian uint64 words, after checking each fits ``value_bits``."""
    if (
        not isinstance(values, np.ndarray)
        or values.ndim != 1
        or not np.issubdtype(values.dtype, np.unsignedinteger)
    ):
        raise QuantizationError("pack takes a 1-D vector of unsigned integers (quantize first)")
    words: npt.NDArray[np.uint64] = values.astype("<u8", copy=False)
    # compare against a uint64 scalar: 2^64 - 1 (value_bits = 64) is a valid limit
    bad = np.flatnonzero(words > np.uint64((1 << value_bits) - 1))
    if bad.size:
        first = int(bad[0])
        raise QuantizationError(
            f"{bad.size} values do not fit {value_bits} bits (first at index {first}: "
            f"{int(words[first])}); quantize to at most 2^{value_bits} levels "
            "(scheme.value_bits)"
        )
    return words


def pack(values: UIntArray, layout: SlotLayout) -> list[int]:
    """Pack quantized ``values`` into ``layout.plaintexts_for(len(values))`` plaintexts.

    Slot ``j`` of plaintext ``k`` holds ``values[k * slots + j]``, slot 0 in the
    least significant bits; the last plaintext is zero-padded. Raises
    :class:`~fedsilo.errors.QuantizationError` if ``values`` is not a 1-D array of
    unsigned integers or any value is ``>= 2^value_bits``.
    """
    words = _checked_words(values, layout.value_bits)
    plaintexts: list[int] = []
    step = _chunk_plaintexts(layout) * layout.slots
    for start in range(0, len(words), step):
        plaintexts.extend(_pack_chunk(words[start : start + step], layout))
    return plaintexts


def _pack_chunk(words: npt.NDArray[np.uint64], layout: SlotLayout) -> list[int]:
    count = layout.plaintexts_for(len(words))
    size, width = _plaintext_bytes(layout), layout.plaintext_bits
    padded = np.zeros(count * layout.slots, dtype="<u8")
    padded[: len(words)] = words
    # little-endian bytes, then bits LSB first: column i is bit i of the value. Only the
    # low bytes a slot can use are unpacked (3 of 8 for 19-bit slots).
    low = padded.view(np.uint8).reshape(-1, 8)[:, : _slot_bytes(layout)]
    bits = np.unpackbits(low, axis=1, bitorder="little")[:, : layout.slot_bits]
    # a row is a plaintext's bits LSB first: slot j at bits j*s .. j*s + s - 1
    rows = np.zeros((count, size * 8), dtype=np.uint8)
    rows[:, :width] = bits.reshape(count, width)
    data = np.packbits(rows, axis=1, bitorder="little").tobytes()
    return [int.from_bytes(data[k * size : (k + 1) * size], "little") for k in range(count)]


def unpack(plaintexts: Sequence[int], layout: SlotLayout, length: int) -> npt.NDArray[np.uint64]:
    """The ``length`` slot values of decrypted (summed) ``plaintexts``, as uint64.

    The inverse of :func:`pack`, also for sums: every slot value up to
    ``2^slot_bits - 1`` is returned as it is. Raises
    :class:`~fedsilo.errors.CryptoError` if there are not
    ``layout.plaintexts_for(length)`` plaintexts, one is negative or
    ``>= 2^plaintext_bits``, or a padding slot past ``length`` is not zero.
    """
    need = layout.plaintexts_for(length)
    if len(plaintexts) != need:
        raise CryptoError(
            f"{length} values of {layout.slots} slots need {need} plaintexts, got "
            f"{len(plaintexts)}; the ciphertext vector does not match the model's length"
        )
    out = np.empty(need * layout.slots, dtype=np.uint64)
    step = _chunk_plaintexts(layout)
    for first in range(0, need, step):
        part = plaintexts[first : first + step]
        start = first * layout.slots
        out[start : start + len(part) * layout.slots] = _unpack_chunk(part, first, layout)
    padding = np.flatnonzero(out[length:])
    if padding.size:
        raise CryptoError(
            f"padding slot {length + int(padding[0])} of the last plaintext is not zero: "
            f"these plaintexts do not hold a packed vector of {length} values"
        )
    return out[:length]


def _plaintext_data(plaintexts: Sequence[int], first: int, layout: SlotLayout) -> bytes:
    """The plaintexts as fixed-width little-endian byte strings, after a range check."""
    size, width = _plaintext_bytes(layout), layout.plaintext_bits
    parts: list[bytes] = []
    for k, value in enumerate(plaintexts, start=first):
        m = operator.index(value)  # int or gmpy2.mpz; a float is a bug, not a plaintext
        if m < 0 or m.bit_length() > width:
            raise CryptoError(
                f"plaintext {k} is outside [0, 2^{width}): it was not packed with this layout "
                "(do scheme.key_bits, value_bits and slot_bits match the silos'?)"
            )
        parts.append(m.to_bytes(size, "little"))
    return b"".join(parts)


def _unpack_chunk(
    plaintexts: Sequence[int], first: int, layout: SlotLayout
) -> npt.NDArray[np.uint64]:
    count, size, width = len(plaintexts), _plaintext_bytes(layout), layout.plaintext_bits
    raw = np.frombuffer(_plaintext_data(plaintexts, first, layout), dtype=np.uint8)
    bits = np.unpackbits(raw.reshape(count, size), axis=1, bitorder="little")[:, :width]
    # one row of bits per slot, LSB first, padded to whole bytes, back to little-endian words
    slot_bytes = _slot_bytes(layout)
    per_slot = np.zeros((count * layout.slots, slot_bytes * 8), dtype=np.uint8)
    per_slot[:, : layout.slot_bits] = bits.reshape(-1, layout.slot_bits)
    low = np.packbits(per_slot, axis=1, bitorder="little")
    words = np.zeros((count * layout.slots, 8), dtype=np.uint8)
    words[:, :slot_bytes] = low
    return words.view("<u8").reshape(-1).astype(np.uint64, copy=False)
