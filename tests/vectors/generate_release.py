"""Regenerate the verified-release vectors (run only when a format changes on purpose).

    python tests/vectors/generate_release.py

It writes ``tests/vectors/release.json``: fixed input vectors (ChaCha20
keystreams of fixed keys, themselves pinned by ``mask.json`` and RFC 8439)
and what ``fedsilo.crypto.merkle`` and ``fedsilo.crypto.sketch`` make of them:
``D_u``, Merkle roots and proofs, challenge words, sketches, the digest and
sketch of a non-wrapped sum, and spot-check leaves. The tests in
``tests/crypto/test_merkle.py`` and ``tests/crypto/test_sketch.py`` recompute
every value from the inputs. A change to any of them is a wire-format change:
it must come with a new version label, never silently.
"""

from __future__ import annotations

import json
from pathlib import Path

from fedsilo.crypto.merkle import MerkleTree, leaf_span, words_digest
from fedsilo.crypto.prg import UIntArray, keystream_words
from fedsilo.crypto.sketch import (
    WideSum,
    challenge_seed,
    challenge_words,
    sketch,
    spot_check_leaves,
)

RELEASE_FILE = Path(__file__).parent / "release.json"

# Input vectors: name -> (keystream key byte, word width, length, leaf words).
# 1300 uint32 words in leaves of 512 make 3 leaves (odd: the last is promoted,
# and partial); 700 uint64 words in leaves of 100 make 7.
INPUTS = {"u32": (0x11, 32, 1300, 512), "u64": (0x22, 64, 700, 100)}
SEED_FIELDS = ("fedsilo-kav", 7, bytes(range(16)))
SUM_KEYS = (0x31, 0x32, 0x33)  # three uint32 vectors summed (about half the words wrap)
SUM_LENGTH = 1000


def input_words(key_byte: int, bits: int, length: int) -> UIntArray:
    return keystream_words(bytes([key_byte]) * 32, bits, length)


def merkle_vectors() -> dict[str, object]:
    out: dict[str, object] = {}
    for name, (key_byte, bits, length, leaf_words) in INPUTS.items():
        words = input_words(key_byte, bits, length)
        tree = MerkleTree.of_words(words, leaf_words)
        last = tree.leaf_count - 1
        out[name] = {
            "key_byte": key_byte,
            "bits": bits,
            "length": length,
            "leaf_words": leaf_words,
            "words_digest": words_digest(words).hex(),
            "root": tree.root.hex(),
            "leaf_count": tree.leaf_count,
            "proofs": {
                str(leaf): {
                    "span": list(leaf_span(leaf, length, leaf_words)),
                    "hashes": [h.hex() for h in tree.proof(leaf)],
                }
                for leaf in (0, last)
            },
        }
    return out


def sketch_vectors() -> dict[str, object]:
    seed = challenge_seed(*SEED_FIELDS)
    u32 = input_words(*INPUTS["u32"][:3])
    u64 = input_words(*INPUTS["u64"][:3])
    total = WideSum.zeros(SUM_LENGTH, 32)
    for key_byte in SUM_KEYS:
        total.count_vector()
        total.add(input_words(key_byte, 32, SUM_LENGTH))
    return {
        "seed_fields": [SEED_FIELDS[0], SEED_FIELDS[1], SEED_FIELDS[2].hex()],
        "seed": seed.hex(),
        "challenge_0_at_0": [str(int(w)) for w in challenge_words(seed, 0, 0, 4)],
        "challenge_1_at_1000": [str(int(w)) for w in challenge_words(seed, 1, 1000, 4)],
        "sketch_u32_at_0": [str(z) for z in sketch(u32, seed)],
        "sketch_u32_at_12345": [str(z) for z in sketch(u32, seed, offset=12345)],
        "sketch_u64_at_0_three_challenges": [str(z) for z in sketch(u64, seed, 3)],
        "wide_sum": {
            "key_bytes": list(SUM_KEYS),
            "bits": 32,
            "length": SUM_LENGTH,
            "wrapped_words": int((total.carries > 0).sum()),
            "digest": total.digest().hex(),
            "sketch": [str(z) for z in total.sketch(seed)],
        },
        "spot_checks": {
            "leaf_count": 1000,
            "k": 8,
            "leaves": list(spot_check_leaves(seed, 1000, 8)),
        },
    }


def main() -> None:
    document = {"merkle": merkle_vectors(), "sketch": sketch_vectors()}
    RELEASE_FILE.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {RELEASE_FILE}")


if __name__ == "__main__":
    main()
