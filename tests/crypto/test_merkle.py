"""The commitments to a masked vector: its digest and its Merkle tree."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedsilo.crypto.encoding import encode
from fedsilo.crypto.merkle import (
    LEAF_WORDS,
    MerkleTree,
    leaf_count,
    leaf_span,
    verify_leaf,
    words_digest,
)
from fedsilo.crypto.prg import UIntArray, keystream_words
from fedsilo.errors import CryptoError

VECTORS = Path(__file__).parent.parent / "vectors"
KEY = bytes(range(32))


def vector(length: int, bits: int = 32) -> UIntArray:
    return keystream_words(KEY, bits, length)


def verify(tree: MerkleTree, whole: UIntArray, at: int, /, **changes: Any) -> None:
    """verify_leaf of leaf ``at`` of ``whole`` against ``tree``, some arguments replaced."""
    start, stop = leaf_span(at, len(whole), tree.leaf_words)
    arguments: dict[str, Any] = {
        "root": tree.root,
        "leaf": at,
        "leaf_count": tree.leaf_count,
        "length": len(whole),
        "words": whole[start:stop],
        "proof": tree.proof(at),
        "leaf_words": tree.leaf_words,
    }
    verify_leaf(**(arguments | changes))


# --- shape -------------------------------------------------------------------------------


def test_leaves_cover_the_vector_and_only_the_last_is_partial() -> None:
    assert leaf_count(10**7) == 19532
    assert leaf_span(0, 10**7) == (0, LEAF_WORDS)
    assert leaf_span(19531, 10**7) == (19531 * LEAF_WORDS, 10**7)
    assert [leaf_span(i, 10, 4) for i in range(leaf_count(10, 4))] == [(0, 4), (4, 8), (8, 10)]


def test_a_leaf_outside_the_vector_does_not_exist() -> None:
    with pytest.raises(CryptoError, match=r"leaves 0\.\.2"):
        leaf_span(3, 10, 4)
    with pytest.raises(CryptoError, match="does not exist"):
        leaf_span(-1, 10, 4)


def test_an_empty_vector_has_no_tree() -> None:
    assert leaf_count(0) == 0
    with pytest.raises(CryptoError, match="empty"):
        MerkleTree.of_words(vector(0))


def test_only_uint32_and_uint64_vectors_are_committed_to() -> None:
    wrong: list[npt.NDArray[Any]] = [
        np.zeros(4, np.int64),
        np.zeros(4, np.uint16),
        np.zeros((2, 2), np.uint32),
    ]
    for bad in wrong:
        with pytest.raises(CryptoError):
            MerkleTree.of_words(bad)
        with pytest.raises(CryptoError):
            words_digest(bad)


# --- completeness ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "length",
    [1, LEAF_WORDS, LEAF_WORDS + 1, 3 * LEAF_WORDS, 4 * LEAF_WORDS, 5 * LEAF_WORDS + 7],
    ids=["one-word", "one-leaf", "partial-last-leaf", "odd-leaves", "2^m-leaves", "5-and-a-bit"],
)
def test_every_leaf_proof_verifies(length: int) -> None:
    words = vector(length)
    tree = MerkleTree.of_words(words)
    assert tree.leaf_count == leaf_count(length)
    for leaf in range(tree.leaf_count):
        verify(tree, words, leaf)


@given(st.integers(1, 200), st.integers(1, 9), st.sampled_from([32, 64]))
def test_every_leaf_proof_verifies_for_any_shape(length: int, leaf_words: int, bits: int) -> None:
    words = vector(length, bits)
    tree = MerkleTree.of_words(words, leaf_words)
    for leaf in range(tree.leaf_count):
        verify(tree, words, leaf)


def test_an_odd_node_is_promoted_so_its_proof_skips_that_level() -> None:
    tree = MerkleTree.of_words(vector(3 * LEAF_WORDS))  # leaves (0, 1) pair up; 2 is promoted
    assert [len(tree.proof(leaf)) for leaf in range(3)] == [2, 2, 1]
    assert tree.proof(2) == (hashlib.sha256(b"\x01" + _leaf(tree, 0) + _leaf(tree, 1)).digest(),)


def _leaf(tree: MerkleTree, leaf: int) -> bytes:
    """The hash of ``leaf``, read back from its sibling's proof."""
    return tree.proof(leaf ^ 1)[0]


def test_a_proof_at_ten_million_words_is_at_most_fifteen_hashes() -> None:
    shape = MerkleTree.of_words(vector(leaf_count(10**7)), leaf_words=1)  # same shape, cheaper
    lengths = {len(shape.proof(leaf)) for leaf in range(shape.leaf_count)}
    assert max(lengths) == 15


# --- soundness ---------------------------------------------------------------------------


@given(st.integers(1, 120), st.integers(1, 8), st.data())
def test_flipping_any_word_of_a_leaf_fails(
    length: int, leaf_words: int, data: st.DataObject
) -> None:
    words = vector(length)
    tree = MerkleTree.of_words(words, leaf_words)
    leaf = data.draw(st.integers(0, tree.leaf_count - 1))
    start, stop = leaf_span(leaf, length, leaf_words)
    altered = words[start:stop].copy()
    altered[data.draw(st.integers(0, stop - start - 1))] ^= data.draw(st.integers(1, 2**32 - 1))
    with pytest.raises(CryptoError, match="does not lead to the signed Merkle root"):
        verify(tree, words, leaf, words=altered)


@given(st.integers(2, 120), st.integers(1, 8), st.data())
def test_altering_any_proof_hash_fails(length: int, leaf_words: int, data: st.DataObject) -> None:
    words = vector(length)
    tree = MerkleTree.of_words(words, leaf_words)
    if tree.leaf_count < 2:
        return
    leaf = data.draw(st.integers(0, tree.leaf_count - 1))
    proof = list(tree.proof(leaf))
    position = data.draw(st.integers(0, len(proof) - 1))
    byte = data.draw(st.integers(0, 31))
    proof[position] = (
        proof[position][:byte] + bytes([proof[position][byte] ^ 1]) + proof[position][byte + 1 :]
    )
    with pytest.raises(CryptoError, match="signed Merkle root"):
        verify(tree, words, leaf, proof=tuple(proof))


def test_a_leaf_presented_at_another_index_fails() -> None:
    words = vector(4 * LEAF_WORDS)
    tree = MerkleTree.of_words(words)
    for leaf, claimed in ((0, 1), (1, 0), (2, 3)):
        with pytest.raises(CryptoError, match="signed Merkle root"):
            verify(tree, words, leaf, leaf=claimed)


def test_an_index_outside_the_tree_is_refused() -> None:
    words = vector(3 * LEAF_WORDS)
    tree = MerkleTree.of_words(words)
    with pytest.raises(CryptoError, match="does not exist"):
        verify(tree, words, 2, leaf=3)
    with pytest.raises(CryptoError, match="does not exist"):
        tree.proof(3)


def test_a_wrong_leaf_count_is_refused() -> None:
    words = vector(3 * LEAF_WORDS)
    tree = MerkleTree.of_words(words)
    for wrong in (2, 4):
        with pytest.raises(CryptoError, match="tree shape does not match"):
            verify(tree, words, 0, leaf_count=wrong)


def test_a_wrong_length_fails_even_with_the_same_leaf_count() -> None:
    words = vector(2 * LEAF_WORDS + 10)
    tree = MerkleTree.of_words(words)
    with pytest.raises(CryptoError, match="signed Merkle root"):
        verify(tree, words, 0, length=len(words) + 1)  # still 3 leaves: only the root tells
    with pytest.raises(CryptoError, match="holds words"):
        verify(tree, words, 2, length=len(words) + 1)  # the last leaf would be longer


def test_a_leaf_of_the_wrong_size_is_refused() -> None:
    words = vector(2 * LEAF_WORDS)
    tree = MerkleTree.of_words(words)
    with pytest.raises(CryptoError, match="512 words"):
        verify(tree, words, 0, words=words[: LEAF_WORDS - 1])


def test_a_proof_of_the_wrong_length_is_refused() -> None:
    words = vector(4 * LEAF_WORDS)
    tree = MerkleTree.of_words(words)
    proof = tree.proof(1)
    for wrong in (proof[:-1], (*proof, proof[0]), ()):
        with pytest.raises(CryptoError, match="has 2 hashes"):
            verify(tree, words, 1, proof=wrong)


def test_hashes_of_the_wrong_size_are_refused() -> None:
    words = vector(2 * LEAF_WORDS)
    tree = MerkleTree.of_words(words)
    with pytest.raises(CryptoError, match="32 bytes"):
        verify(tree, words, 0, root=tree.root[:31])
    with pytest.raises(CryptoError, match="32 bytes"):
        verify(tree, words, 0, proof=(tree.proof(0)[0] + b"\x00",))


def test_a_leaf_of_another_word_width_fails() -> None:
    words = vector(2 * LEAF_WORDS)
    tree = MerkleTree.of_words(words)
    as_u64 = words[:LEAF_WORDS].astype(np.uint64)
    with pytest.raises(CryptoError, match="signed Merkle root"):
        verify(tree, words, 0, words=as_u64)


@given(st.integers(1, 3000), st.data())
def test_vectors_differing_in_one_word_have_different_roots(
    length: int, data: st.DataObject
) -> None:
    words = vector(length)
    other = words.copy()
    other[data.draw(st.integers(0, length - 1))] ^= data.draw(st.integers(1, 2**32 - 1))
    assert MerkleTree.of_words(words).root != MerkleTree.of_words(other).root
    assert words_digest(words) != words_digest(other)


def test_trees_of_different_shapes_never_share_a_root() -> None:
    words = vector(64)
    roots = {
        MerkleTree.of_words(words, 8).root,
        MerkleTree.of_words(words, 16).root,
        MerkleTree.of_words(words[:63], 8).root,
        MerkleTree.of_words(words.view(np.uint64), 4).root,  # the same bytes as 32 uint64
    }
    assert len(roots) == 4


# --- the digest ----------------------------------------------------------------------------


def test_the_digest_is_sha256_of_the_label_shape_and_little_endian_words() -> None:
    words = np.array([1, 2**32 - 1, 0x01020304], dtype=np.uint32)
    expected = hashlib.sha256(
        encode("fedsilo/v1/masked-vector", 32, 3) + bytes.fromhex("01000000ffffffff04030201")
    ).digest()
    assert words_digest(words) == expected


def test_the_digest_binds_word_width_and_length() -> None:
    assert words_digest(np.zeros(2, np.uint32)) != words_digest(np.zeros(1, np.uint64))
    assert words_digest(np.zeros(2, np.uint32)) != words_digest(np.zeros(3, np.uint32))


def test_strided_and_big_endian_vectors_are_hashed_by_value() -> None:
    words = vector(1000)
    assert words_digest(words[::2]) == words_digest(words[::2].copy())
    assert words_digest(words.astype(">u4")) == words_digest(words)
    assert MerkleTree.of_words(words.astype(">u4")).root == MerkleTree.of_words(words).root


# --- known answers -------------------------------------------------------------------------


def test_merkle_commitments_match_known_answers() -> None:
    vectors = json.loads((VECTORS / "release.json").read_text())["merkle"]
    for name, v in vectors.items():
        words = keystream_words(bytes([v["key_byte"]]) * 32, v["bits"], v["length"])
        assert words_digest(words).hex() == v["words_digest"], name
        tree = MerkleTree.of_words(words, v["leaf_words"])
        assert (tree.root.hex(), tree.leaf_count) == (v["root"], v["leaf_count"]), name
        for leaf, proof in v["proofs"].items():
            start, stop = proof["span"]
            assert leaf_span(int(leaf), v["length"], v["leaf_words"]) == (start, stop)
            assert [h.hex() for h in tree.proof(int(leaf))] == proof["hashes"], name
            verify_leaf(
                bytes.fromhex(v["root"]),
                int(leaf),
                v["leaf_count"],
                v["length"],
                words[start:stop],
                [bytes.fromhex(h) for h in proof["hashes"]],
                v["leaf_words"],
            )
