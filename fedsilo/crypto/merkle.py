"""Commitments to a masked vector: a digest of the whole and a Merkle tree of its leaves.

Theory of operation
-------------------
In MaskedInput a silo signs two commitments to its masked vector ``y_u``
(``k``-bit words, ``k = 32`` or ``64``, hashed as little-endian bytes):

* :func:`words_digest` ``D_u``, one SHA-256 over the whole vector, which the
  survivors' consistency signatures repeat; and
* the root of a :class:`MerkleTree` over its *leaves* of
  :data:`LEAF_WORDS` consecutive words (the last leaf may be shorter), so
  that at release any leaf can later be shown to belong to ``y_u`` with
  ``⌈log2(leaf_count)⌉`` hashes (:meth:`MerkleTree.proof`,
  :func:`verify_leaf`). The spot checks of
  :mod:`fedsilo.crypto.sketch` use this.

The tree is a plain binary hash tree with domain separation everywhere::

    leaf_i = SHA-256(0x00 ‖ enc("fedsilo/v1/merkle-leaf") ‖ u64(i) ‖ u64(k) ‖ words_i)
    node   = SHA-256(0x01 ‖ left ‖ right)
    root   = SHA-256(0x02 ‖ enc("fedsilo/v1/merkle-root", k, leaf_words, leaf_count,
                                 length) ‖ top)

(``enc`` is :func:`fedsilo.crypto.encoding.encode`, ``u64`` big-endian.)
Invariants:

* the prefixes ``0x00`` / ``0x01`` / ``0x02`` keep leaves, inner nodes and the
  root apart, so no inner node can be passed off as a leaf;
* a node without a partner at its level is **promoted unchanged**, never
  paired with a copy of itself: duplicating it (as Bitcoin did) lets two
  different leaf lists share a root (CVE-2012-2459);
* the leaf index and the word width are in every leaf hash and the tree's
  shape (word width, leaf size, leaf count, length) is in the root, so trees
  of different shapes never share a root, and a proof fixes the position of
  its leaf;
* verification raises :class:`~fedsilo.errors.CryptoError` and compares
  digests in constant time; it never returns a bool.

Hashing never copies a contiguous vector: SHA-256 reads a ``memoryview`` of
it (a non-contiguous or big-endian array is first copied to little-endian).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Sequence

import numpy as np

from fedsilo.crypto.encoding import encode
from fedsilo.crypto.prg import UIntArray
from fedsilo.errors import CryptoError

LEAF_WORDS = 512  # 2 KiB of uint32 per leaf: ~20k leaves and 15-hash proofs at 10^7 words
DIGEST_BYTES = 32
VECTOR_LABEL = "fedsilo/v1/masked-vector"
LEAF_LABEL = "fedsilo/v1/merkle-leaf"
ROOT_LABEL = "fedsilo/v1/merkle-root"

_LEAF_PREFIX = b"\x00" + encode(LEAF_LABEL)
_NODE_PREFIX = b"\x01"
_ROOT_PREFIX = b"\x02"
_LEAF_HEADER = struct.Struct(">QQ")  # leaf index, word width in bits


def word_bits(words: UIntArray) -> int:
    """The word width (32 or 64) of a one-dimensional unsigned vector; refuses others."""
    if not isinstance(words, np.ndarray) or words.ndim != 1:
        raise CryptoError("a masked vector is a one-dimensional numpy array")
    dtype = words.dtype
    if dtype.kind != "u" or dtype.itemsize not in (4, 8):
        raise CryptoError(f"masked vectors are uint32 or uint64 words, got {dtype}")
    return 8 * dtype.itemsize


def word_bytes(words: UIntArray) -> memoryview:
    """The little-endian bytes of ``words``, without a copy when the array allows it."""
    bits = word_bits(words)
    little = np.ascontiguousarray(words, dtype=np.dtype(f"<u{bits // 8}"))
    return little.view(np.uint8).data


def words_digest(words: UIntArray) -> bytes:
    """``D_u``: SHA-256 of the vector's little-endian words, bound to its width and length."""
    hasher = hashlib.sha256(encode(VECTOR_LABEL, word_bits(words), len(words)))
    hasher.update(word_bytes(words))
    return hasher.digest()


def leaf_count(length: int, leaf_words: int = LEAF_WORDS) -> int:
    """How many leaves a vector of ``length`` words has (the last may be partial)."""
    return _leaf_count(length, leaf_words)


def leaf_span(leaf: int, length: int, leaf_words: int = LEAF_WORDS) -> tuple[int, int]:
    """The word offsets ``(start, stop)`` of ``leaf`` in a vector of ``length`` words."""
    count = _leaf_count(length, leaf_words)
    if not 0 <= leaf < count:
        raise CryptoError(
            f"leaf {leaf} does not exist: a vector of {length} words has leaves 0..{count - 1}"
        )
    start = leaf * leaf_words
    return start, min(start + leaf_words, length)


class MerkleTree:
    """The Merkle tree of one masked vector; every level is kept to serve proofs."""

    def __init__(
        self, levels: list[list[bytes]], root: bytes, length: int, leaf_words: int, bits: int
    ) -> None:
        self._levels = levels
        self._root = root
        self._length = length
        self._leaf_words = leaf_words
        self._bits = bits

    @classmethod
    def of_words(cls, words: UIntArray, leaf_words: int = LEAF_WORDS) -> MerkleTree:
        """Hash ``words`` into leaves of ``leaf_words`` words and build the tree."""
        bits = word_bits(words)
        length = len(words)
        count = _leaf_count(length, leaf_words)
        if count == 0:
            raise CryptoError("cannot commit to an empty vector: it has no leaves")
        data = word_bytes(words)
        step = leaf_words * bits // 8
        seeded = hashlib.sha256(_LEAF_PREFIX)
        leaves = []
        for leaf in range(count):
            hasher = seeded.copy()
            hasher.update(_LEAF_HEADER.pack(leaf, bits))
            hasher.update(data[leaf * step : (leaf + 1) * step])
            leaves.append(hasher.digest())
        levels = [leaves]
        while len(levels[-1]) > 1:
            levels.append(_parent_level(levels[-1]))
        root = _root_hash(levels[-1][0], bits, leaf_words, count, length)
        return cls(levels, root, length, leaf_words, bits)

    @property
    def root(self) -> bytes:
        """The 32-byte root that the silo signs."""
        return self._root

    @property
    def leaf_count(self) -> int:
        return len(self._levels[0])

    @property
    def leaf_words(self) -> int:
        return self._leaf_words

    @property
    def length(self) -> int:
        """The number of words committed to."""
        return self._length

    @property
    def bits(self) -> int:
        """The word width, 32 or 64."""
        return self._bits

    def proof(self, leaf: int) -> tuple[bytes, ...]:
        """The sibling hashes from ``leaf`` up to the top (promoted levels have none)."""
        leaf_span(leaf, self._length, self._leaf_words)  # refuses an index out of range
        siblings = []
        index = leaf
        for level in self._levels[:-1]:
            if index ^ 1 < len(level):
                siblings.append(level[index ^ 1])
            index //= 2
        return tuple(siblings)


def verify_leaf(
    root: bytes,
    leaf: int,
    leaf_count: int,
    length: int,
    words: UIntArray,
    proof: Sequence[bytes],
    leaf_words: int = LEAF_WORDS,
) -> None:
    """Raise :class:`CryptoError` unless ``words`` are leaf ``leaf`` of the tree with ``root``.

    The tree's shape is given, not trusted from the proof: ``leaf_count`` must
    be the leaf count of ``length`` words, ``words`` exactly that leaf's span,
    and ``proof`` exactly as long as that leaf's path.
    """
    expected_count = _leaf_count(length, leaf_words)
    if leaf_count != expected_count:
        raise CryptoError(
            f"a vector of {length} words has {expected_count} leaves of {leaf_words} words, "
            f"not {leaf_count}: the tree shape does not match the vector"
        )
    start, stop = leaf_span(leaf, length, leaf_words)
    bits = word_bits(words)
    if len(words) != stop - start:
        raise CryptoError(
            f"leaf {leaf} holds words {start}..{stop - 1} ({stop - start} words), "
            f"got {len(words)} words"
        )
    path = _path(leaf, leaf_count)
    if len(proof) != len(path):
        raise CryptoError(
            f"the proof of leaf {leaf} of {leaf_count} has {len(path)} hashes, got {len(proof)}"
        )
    if len(root) != DIGEST_BYTES or any(len(h) != DIGEST_BYTES for h in proof):
        raise CryptoError(f"Merkle roots and proof hashes are {DIGEST_BYTES} bytes each")
    hasher = hashlib.sha256(_LEAF_PREFIX)
    hasher.update(_LEAF_HEADER.pack(leaf, bits))
    hasher.update(word_bytes(words))
    node = hasher.digest()
    for sibling, is_right in zip(proof, path, strict=True):
        pair = sibling + node if is_right else node + sibling
        node = hashlib.sha256(_NODE_PREFIX + pair).digest()
    computed = _root_hash(node, bits, leaf_words, leaf_count, length)
    if not hmac.compare_digest(computed, root):
        raise CryptoError(
            f"leaf {leaf} with its proof does not lead to the signed Merkle root: "
            "the words or the proof were altered"
        )


def _leaf_count(length: int, leaf_words: int) -> int:
    if leaf_words < 1:
        raise CryptoError(f"a Merkle leaf holds at least one word, got {leaf_words}")
    if length < 0:
        raise CryptoError(f"a vector length cannot be negative, got {length}")
    return -(-length // leaf_words)


def _parent_level(level: list[bytes]) -> list[bytes]:
    parents = [
        hashlib.sha256(_NODE_PREFIX + left + right).digest()
        for left, right in zip(level[0::2], level[1::2], strict=False)
    ]
    if len(level) % 2:
        parents.append(level[-1])  # promoted unchanged, never duplicated
    return parents


def _path(leaf: int, count: int) -> list[bool]:
    """For each level with a sibling, whether the node is the right child."""
    path = []
    while count > 1:
        if leaf ^ 1 < count:
            path.append(bool(leaf & 1))
        leaf //= 2
        count = -(-count // 2)
    return path


def _root_hash(top: bytes, bits: int, leaf_words: int, count: int, length: int) -> bytes:
    shape = encode(ROOT_LABEL, bits, leaf_words, count, length)
    return hashlib.sha256(_ROOT_PREFIX + shape + top).digest()
