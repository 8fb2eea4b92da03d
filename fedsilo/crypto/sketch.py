"""Checking a released sum: a linear sketch, the non-wrapped sum, and spot-check leaves.

Theory of operation
-------------------
The aggregator publishes the *non-wrapped* sum ``Y = Σ_u y_u`` of the
survivors' masked vectors (:class:`WideSum`: the sum mod ``2^k`` plus one carry
byte per word) and fixes it with ``H(Y)`` (:meth:`WideSum.digest`). Only then
is the challenge seed :func:`challenge_seed` drawn, and from it
:data:`CHALLENGES` challenge vectors ``rho_j``, uniform mod ``p = 2^61 - 1``
(:func:`challenge_words`). Every survivor signs ``z_{u,j} = ⟨rho_j, y_u⟩ mod p``
(:func:`sketch`); a silo accepts ``Y`` only if, for every ``j``,

    ``Σ_u z_{u,j} ≡ ⟨rho_j, Y⟩  (mod p)``        (:meth:`WideSum.sketch`).

The sketch is linear over the integers, so an honest ``Y`` always passes. A
forged ``Y' = Y + Δ`` is fixed before ``rho_j`` is drawn; if ``Δ ≢ 0 (mod p)``
then ``⟨rho_j, Δ⟩`` is uniform mod ``p`` and each challenge passes with
probability ``1/p`` (plus the ``2^-61`` bias of ``rho``): about ``2^-122`` for two.
``Δ ≢ 0 (mod p)`` holds for every nonzero ``Δ`` whose words are below ``p``
in absolute value. With 32-bit words and at most 255 vectors every word of
``Y`` and ``Y'`` is below ``2^40``, so this always holds. **With 64-bit words
it does not**: adding a multiple of ``p`` to one word of ``Y`` leaves every
sketch unchanged, and only the spot checks stand in the way.

A survivor that colludes with the aggregator can lie in its own ``z``; the
spot checks catch that. :func:`spot_check_leaves` picks, from the same seed,
:data:`SPOT_CHECKS` Merkle leaves (:mod:`fedsilo.crypto.merkle`) that every
survivor opens against its signed root; their sum must equal ``Y`` there.

Exact arithmetic without big integers
-------------------------------------
``⟨rho, y⟩`` is computed exactly and then reduced, chunk by chunk, with numpy
on ``uint64`` and no per-word Python work. Each 61-bit ``rho`` is split into
``rho_lo`` (32 bits) and ``rho_hi`` (29 bits) and each word into 32-bit limbs, so
every product ``P`` of a ``rho`` half and a limb is below ``2^64``. A chunk of
``m <= 2^24`` products is summed twice: wrapping (``Σ P mod 2^64``) and after
a shift (``H = Σ (P >> 32)``, exact since it is below ``m · 2^32``). The
exact sum is ``H · 2^32 + ((Σ P - H · 2^32) mod 2^64)``, because the low
halves sum to less than ``m · 2^32 < 2^64``. (A carry byte times a half is
below ``2^40``: the plain sum is exact.) Python integers combine the few
sums of each chunk. Drawing ``rho`` costs a 64-bit ChaCha20 word per word and
challenge (four times the keystream of a uint32 mask for two challenges);
the eleven numpy passes per word and challenge cost about as much again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fedsilo.crypto.encoding import Field, digest, encode
from fedsilo.crypto.merkle import word_bits, word_bytes
from fedsilo.crypto.prg import Keystream, UIntArray, word_dtype
from fedsilo.errors import CryptoError

SKETCH_PRIME = (1 << 61) - 1
CHALLENGES = 2
SPOT_CHECKS = 64
MAX_VECTORS = 255  # one carry byte per word
SKETCH_CHUNK_WORDS = 1 << 16  # 512 KiB per uint64 buffer row; 16 Ki to 64 Ki measure alike

SEED_LABEL = "fedsilo/v1/sketch"
CHALLENGE_LABEL = "fedsilo/v1/sketch-challenge"
SPOT_CHECK_LABEL = "fedsilo/v1/spot-check"
WIDE_SUM_LABEL = "fedsilo/v1/wide-sum"

_LOW32 = np.uint64(0xFFFFFFFF)
_HIGH29 = np.uint64((1 << 29) - 1)
_RHO_MASK = np.uint64(SKETCH_PRIME)
_SHIFT32 = np.uint64(32)
_WRAP = (1 << 64) - 1


def challenge_seed(*fields: Field) -> bytes:
    """The 32-byte challenge seed: SHA-256 of ``encode("fedsilo/v1/sketch", *fields)``.

    The caller binds the session context, every survivor's commitments and
    ``H(Y)``, so no challenge exists before ``Y`` is fixed.
    """
    return digest(SEED_LABEL, *fields)


def challenge_words(seed: bytes, j: int, offset: int, count: int) -> npt.NDArray[np.uint64]:
    """Words ``offset .. offset + count`` of the challenge vector ``rho_j``, uniform mod ``p``.

    ``rho_j`` is the ChaCha20 keystream of the key ``SHA-256(encode(
    "fedsilo/v1/sketch-challenge", seed, j))`` read as 64-bit little-endian
    words, each masked to its low 61 bits. A word equal to ``p`` itself reads
    as ``0 (mod p)``: ``0`` is drawn with probability ``2^-60`` and every other
    residue with ``2^-61``, a bias of ``2^-61``. Any slice equals the same
    slice of the whole vector (the keystream is seekable).
    """
    if count < 0:
        raise CryptoError(f"a challenge slice has a non-negative length, got {count}")
    out = np.empty(count, dtype=np.uint64)
    Keystream(_challenge_key(seed, j), 64, offset).fill(out)
    np.bitwise_and(out, _RHO_MASK, out=out)
    return out


def sketch(
    words: UIntArray,
    seed: bytes,
    challenges: int = CHALLENGES,
    offset: int = 0,
    *,
    chunk_words: int = SKETCH_CHUNK_WORDS,
) -> tuple[int, ...]:
    """``(⟨rho_j, words⟩ mod p)`` for ``j = 0 .. challenges - 1``, exactly.

    ``words`` (uint32 or uint64, read as non-negative integers) sit at
    positions ``offset ..`` of the vector, so the sketches of consecutive
    slices add up to the sketch of the whole. Extra memory is ``O(chunk_words)``.
    """
    word_bits(words)
    return _inner_products(seed, challenges, offset, [(words, 0)], chunk_words)


@dataclass(eq=False)
class WideSum:
    """The non-wrapped sum ``Y = low + carries · 2^bits`` of ``count`` vectors.

    ``low`` is the sum mod ``2^bits`` (what the masks are removed from) and
    ``carries`` how often each word wrapped. A carry byte bounds the sum to
    :data:`MAX_VECTORS` vectors. A vector may be folded in several slices
    (:meth:`add` at an offset); :meth:`count_vector` declares each vector once.
    """

    bits: int
    low: UIntArray
    carries: npt.NDArray[np.uint8]
    count: int = 0

    def __post_init__(self) -> None:
        dtype = word_dtype(self.bits)
        if self.low.dtype != dtype or self.low.ndim != 1:
            raise CryptoError(f"the low words of a {self.bits}-bit sum are a {dtype} vector")
        if self.carries.dtype != np.uint8 or self.carries.shape != self.low.shape:
            raise CryptoError("a sum has one uint8 carry per word")
        if not 0 <= self.count <= MAX_VECTORS:
            raise CryptoError(f"a sum folds 0 to {MAX_VECTORS} vectors, not {self.count}")

    @classmethod
    def zeros(cls, length: int, bits: int) -> WideSum:
        """The empty sum of ``length`` words."""
        if length < 0:
            raise CryptoError(f"a sum has a non-negative length, got {length}")
        return cls(bits, np.zeros(length, word_dtype(bits)), np.zeros(length, np.uint8))

    def count_vector(self) -> None:
        """Declare one more vector (folded by one or more :meth:`add` calls)."""
        if self.count >= MAX_VECTORS:
            raise CryptoError(
                f"a sum holds at most {MAX_VECTORS} vectors (one carry byte per word); "
                "refusing another"
            )
        self.count += 1

    def add(self, words: UIntArray, offset: int = 0) -> None:
        """Fold ``words`` into positions ``offset ..`` in place, carrying out of each word."""
        if word_bits(words) != self.bits or words.dtype != self.low.dtype:
            raise CryptoError(
                f"a {self.bits}-bit sum folds {self.low.dtype} words, got {words.dtype}"
            )
        stop = offset + len(words)
        if offset < 0 or stop > len(self.low):
            raise CryptoError(
                f"words {offset}..{stop - 1} do not fit in a sum of {len(self.low)} words"
            )
        if stop > offset and int(self.carries[offset:stop].max()) == 255:
            raise CryptoError("a word of the sum already carried 255 times: it cannot take more")
        scratch = np.empty(min(len(words), SKETCH_CHUNK_WORDS), dtype=np.bool_)
        for start in range(0, len(words), SKETCH_CHUNK_WORDS):
            addend = words[start : start + SKETCH_CHUNK_WORDS]
            low = self.low[offset + start : offset + start + len(addend)]
            carry = self.carries[offset + start : offset + start + len(addend)]
            wrapped = scratch[: len(addend)]
            np.add(low, addend, out=low)
            np.less(low, addend, out=wrapped)  # the sum wrapped iff it is below the addend
            np.add(carry, wrapped, out=carry)

    def wrapped(self) -> UIntArray:
        """The sum mod ``2^bits`` (the array itself, not a copy)."""
        return self.low

    def sketch(
        self,
        seed: bytes,
        challenges: int = CHALLENGES,
        offset: int = 0,
        *,
        chunk_words: int = SKETCH_CHUNK_WORDS,
    ) -> tuple[int, ...]:
        """``(⟨rho_j, Y⟩ mod p)_j``: the sum of the folded vectors' :func:`sketch` values."""
        parts = [(self.low, 0), (self.carries, self.bits)]
        return _inner_products(seed, challenges, offset, parts, chunk_words)

    @staticmethod
    def byte_size(length: int, bits: int) -> int:
        """How long :meth:`to_bytes` of a sum of ``length`` words of ``bits`` bits is."""
        return length * (bits // 8 + 1)

    def to_bytes(self) -> bytes:
        """The low words (little-endian), then one carry byte per word."""
        return bytes(word_bytes(self.low)) + self.carries.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes | bytearray, length: int, bits: int, count: int) -> WideSum:
        """Parse :meth:`to_bytes` of a sum of ``count`` vectors of ``length`` words.

        A ``bytearray`` is wrapped, not copied (the sum then shares it: a downloaded ``Y``
        is parsed without another 5 bytes per word of fresh memory); ``bytes`` are copied.
        """
        dtype = word_dtype(bits)
        if length < 0 or len(data) != length * (dtype.itemsize + 1):
            raise CryptoError(
                f"a {bits}-bit sum of {length} words is {max(length, 0) * (dtype.itemsize + 1)} "
                f"bytes, got {len(data)}"
            )
        if not 0 <= count <= MAX_VECTORS:
            raise CryptoError(f"a sum folds 0 to {MAX_VECTORS} vectors, not {count}")
        shared = isinstance(data, bytearray)
        low = np.frombuffer(data, dtype.newbyteorder("<"), length).astype(dtype, copy=not shared)
        carries = np.frombuffer(data, np.uint8, length, length * dtype.itemsize)
        if not shared:
            carries = carries.copy()
        if count == 0 and (low.any() or carries.any()):
            raise CryptoError("a sum of no vectors is zero")
        if length and int(carries.max()) > max(count - 1, 0):
            raise CryptoError(
                f"a sum of {count} vectors carries at most {max(count - 1, 0)} times per word, "
                f"got {int(carries.max())}"
            )
        return cls(bits, low, carries, count)

    def digest(self) -> bytes:
        """``H(Y)``: SHA-256 of :meth:`to_bytes`, bound to the width, length and count."""
        hasher = hashlib.sha256(encode(WIDE_SUM_LABEL, self.bits, len(self.low), self.count))
        hasher.update(word_bytes(self.low))
        hasher.update(np.ascontiguousarray(self.carries).data)
        return hasher.digest()

    def span(self, start: int, stop: int) -> WideSum:
        """A copy of words ``start .. stop - 1`` (same width and count)."""
        if not 0 <= start <= stop <= len(self.low):
            raise CryptoError(f"words {start}..{stop} are not a span of {len(self.low)} words")
        return WideSum(
            self.bits, self.low[start:stop].copy(), self.carries[start:stop].copy(), self.count
        )

    def __eq__(self, other: object) -> bool:
        """Equal when both hold exactly the same integers ``Y`` (``count`` is not compared:
        :meth:`digest` binds it)."""
        if not isinstance(other, WideSum):
            return NotImplemented
        return (
            self.bits == other.bits
            and np.array_equal(self.low, other.low)
            and np.array_equal(self.carries, other.carries)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable: not hashable


def spot_check_leaves(seed: bytes, leaf_count: int, k: int) -> tuple[int, ...]:
    """``k`` distinct leaves of ``0 .. leaf_count - 1``, sorted, chosen from ``seed``.

    Every ``k``-subset is equally likely: a partial Fisher-Yates shuffle
    driven by the ChaCha20 keystream of ``SHA-256(encode(
    "fedsilo/v1/spot-check", seed, leaf_count))``, with rejection sampling so
    each draw is exactly uniform. A larger ``k`` extends the choice of a
    smaller one. If ``k >= leaf_count`` every leaf is checked.

    Why :data:`SPOT_CHECKS` ``= 64``: if a fraction ``f`` of ``Y``'s leaves is
    forged (and a colluding survivor hides it from the sketch), all ``k``
    checks miss with probability about ``(1 - f)^k``; for ``f = 10 %`` and
    ``k = 64`` that is ``0.9^64 ≈ 0.12 %``, at the price of 64 leaves and
    proofs per survivor (about 160 KiB at 10^7 uint32 words).
    """
    _checked_seed(seed)
    if leaf_count < 0 or k < 0:
        raise CryptoError(f"cannot choose {k} of {leaf_count} leaves")
    if k >= leaf_count:
        return tuple(range(leaf_count))
    draws = _UniformDraws(digest(SPOT_CHECK_LABEL, seed, leaf_count))
    moved: dict[int, int] = {}  # the virtual array's positions that differ from identity
    for i in range(k):
        j = i + draws.below(leaf_count - i)
        moved[i], moved[j] = moved.get(j, j), moved.get(i, i)
    return tuple(sorted(moved[i] for i in range(k)))


def _checked_seed(seed: bytes) -> bytes:
    if len(seed) != 32:
        raise CryptoError(f"a challenge seed is 32 bytes, got {len(seed)}")
    return seed


def _challenge_key(seed: bytes, j: int) -> bytes:
    if j < 0:
        raise CryptoError(f"challenge indices start at 0, got {j}")
    return digest(CHALLENGE_LABEL, _checked_seed(seed), j)


class _UniformDraws:
    """Exactly uniform integers below a bound, from a keystream (rejection sampling)."""

    def __init__(self, key: bytes) -> None:
        self._stream = Keystream(key, 64)
        self._buffer = np.empty(64, dtype=np.uint64)
        self._words: list[int] = []

    def below(self, bound: int) -> int:
        limit = (1 << 64) - (1 << 64) % bound  # the largest multiple of bound that fits
        while True:
            if not self._words:
                self._stream.fill(self._buffer)
                self._words = self._buffer.tolist()[::-1]
            value: int = self._words.pop()
            if value < limit:
                return value % bound


@dataclass(frozen=True)
class _Limb:
    """A row of limbs below ``2^bits`` (at most 32) weighing ``2^shift`` in the sum."""

    shift: int
    bits: int


class _Scratch:
    """Buffers reused across chunks: the challenge halves, the limbs and their products."""

    def __init__(self, challenges: int, limbs: int, chunk: int) -> None:
        self.halves = np.empty((2 * challenges, chunk), np.uint64)  # rho_lo rows, then rho_hi rows
        self.limbs = np.empty((limbs, chunk), np.uint64)
        self.products = np.empty((2 * challenges, chunk), np.uint64)


def _limb_rows(parts: Sequence[tuple[npt.NDArray[np.unsignedinteger], int]]) -> list[_Limb]:
    """The weight and width of every limb row of ``parts`` (uint64 words: two 32-bit rows)."""
    rows = []
    for words, shift in parts:
        if words.dtype.itemsize == 8:
            rows += [_Limb(shift, 32), _Limb(shift + 32, 32)]
        else:
            rows.append(_Limb(shift, 8 * words.dtype.itemsize))
    return rows


def _inner_products(
    seed: bytes,
    challenges: int,
    offset: int,
    parts: Sequence[tuple[npt.NDArray[np.unsignedinteger], int]],
    chunk_words: int,
) -> tuple[int, ...]:
    """``(Σ_parts 2^shift · ⟨rho_j, words⟩ mod p)_j`` over equal-length unsigned ``parts``."""
    if challenges < 1:
        raise CryptoError(f"a sketch has at least one challenge, got {challenges}")
    if not 1 <= chunk_words <= 1 << 24:
        raise CryptoError(f"a sketch chunk holds 1 to 2^24 words, got {chunk_words}")
    length = len(parts[0][0])
    streams = [Keystream(_challenge_key(seed, j), 64, offset) for j in range(challenges)]
    rows = _limb_rows(parts)
    scratch = _Scratch(challenges, len(rows), min(chunk_words, max(length, 1)))
    totals = [0] * challenges
    for start in range(0, length, chunk_words):
        stop = min(start + chunk_words, length)
        _fill_halves(streams, scratch, stop - start)
        limbs = _fill_limbs(parts, scratch, start, stop)
        for row, limb in zip(limbs, rows, strict=True):
            sums = _exact_row_sums(scratch.halves[:, : stop - start], row, limb.bits, scratch)
            for j in range(challenges):
                totals[j] += (sums[j] + (sums[challenges + j] << 32)) << limb.shift
        totals = [t % SKETCH_PRIME for t in totals]
    return tuple(totals)


def _fill_halves(streams: Sequence[Keystream], scratch: _Scratch, n: int) -> None:
    """Draw the next ``n`` words of every ``rho_j`` and split them into 32- and 29-bit halves."""
    c = len(streams)
    low, high = scratch.halves[:c, :n], scratch.halves[c:, :n]
    for j, stream in enumerate(streams):
        stream.fill(high[j])
    np.bitwise_and(high, _LOW32, out=low)
    np.right_shift(high, _SHIFT32, out=high)
    np.bitwise_and(high, _HIGH29, out=high)  # rho masked to 61 bits


def _fill_limbs(
    parts: Sequence[tuple[npt.NDArray[np.unsignedinteger], int]],
    scratch: _Scratch,
    start: int,
    stop: int,
) -> npt.NDArray[np.uint64]:
    """The 32-bit limbs of ``parts[start:stop]`` as uint64 rows."""
    limbs = scratch.limbs[:, : stop - start]
    row = 0
    for words, _ in parts:
        chunk = words[start:stop]
        if words.dtype.itemsize == 8:
            np.bitwise_and(chunk, _LOW32, out=limbs[row])
            np.right_shift(chunk, _SHIFT32, out=limbs[row + 1])
            row += 2
        else:
            np.copyto(limbs[row], chunk)
            row += 1
    return limbs


def _exact_row_sums(
    halves: npt.NDArray[np.uint64], row: npt.NDArray[np.uint64], bits: int, scratch: _Scratch
) -> list[int]:
    """``Σ_i halves[r, i] · row[i]`` exactly, for every row ``r`` (``row < 2^bits``)."""
    products = scratch.products[:, : len(row)]
    np.multiply(halves, row, out=products)
    wrapped: list[int] = np.add.reduce(products, axis=1).tolist()
    if bits <= 8:  # products < 2^40 and at most 2^24 of them: the plain sum is exact
        return wrapped
    np.right_shift(products, _SHIFT32, out=products)
    high = np.add.reduce(products, axis=1).tolist()
    return [(h << 32) + ((w - (h << 32)) & _WRAP) for w, h in zip(wrapped, high, strict=True)]
