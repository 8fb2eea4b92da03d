"""Known-answer vectors pin the encoding, the KDF, mask derivation and Shamir shares."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from fedsilo.crypto import feldman, group, kdf
from fedsilo.crypto.encoding import encode
from fedsilo.crypto.prg import keystream_words
from fedsilo.testing.entropy import SeededEntropy

VECTORS = Path(__file__).parent.parent / "vectors"


def load(name: str) -> Any:
    return json.loads((VECTORS / f"{name}.json").read_text())


def test_encoding_matches_known_answers() -> None:
    for case in load("encoding"):
        fields = ast.literal_eval(case["fields"])
        assert encode(*fields).hex() == case["hex"], case["name"]


def test_kdf_matches_known_answers() -> None:
    v = load("kdf")
    a = X25519PrivateKey.from_private_bytes(bytes.fromhex(v["private_a"]))
    b = X25519PrivateKey.from_private_bytes(bytes.fromhex(v["private_b"]))
    fed, digest, session, rnd = v["session"]
    binding = (fed, bytes.fromhex(digest), bytes.fromhex(session), rnd)
    shared = kdf.agree(a, kdf.x25519_public_bytes(b))
    assert shared.hex() == v["shared"]
    assert kdf.derive_mask_seed(shared, binding, 3, 5).hex() == v["mask_seed_3_5"]
    assert kdf.derive_share_key(shared, binding, 3, 5).hex() == v["share_key_3_to_5"]
    assert kdf.derive_share_key(shared, binding, 5, 3).hex() == v["share_key_5_to_3"]
    assert kdf.derive_self_mask_key(bytes([9] * 32), binding, 3).hex() == v["self_mask_key_3"]


def test_mask_derivation_matches_known_answers() -> None:
    v = load("mask")
    key = bytes.fromhex(v["key"])
    assert [int(w) for w in keystream_words(key, 32, 8)] == v["u32_at_0"]
    assert [int(w) for w in keystream_words(key, 32, 8, offset=1001)] == v["u32_at_1001"]
    assert [str(int(w)) for w in keystream_words(key, 64, 4)] == v["u64_at_0"]
    assert [str(int(w)) for w in keystream_words(key, 64, 4, offset=77)] == v["u64_at_77"]


def test_keystream_is_rfc8439_chacha20() -> None:
    # RFC 8439 appendix A.1, test vectors 1 and 2: all-zero key and nonce, blocks 0 and 1.
    block0 = bytes.fromhex(
        "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
        "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586"
    )
    block1 = bytes.fromhex(
        "9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed"
        "29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f"
    )
    assert keystream_words(bytes(32), 32, 16).tobytes() == block0
    assert keystream_words(bytes(32), 32, 16, offset=16).tobytes() == block1


def test_feldman_shares_match_known_answers() -> None:
    v = load("feldman")
    secret = group.scalar_from_bytes(bytes.fromhex(v["secret"]))
    shares, commitments = feldman.deal(
        secret, v["threshold"], v["holders"], SeededEntropy(v["entropy_seed"])
    )
    assert [s.to_bytes().hex() for s in shares] == v["shares"]
    assert commitments.digest().hex() == v["commitments_sha256"]
    decoded = [feldman.Share.from_bytes(bytes.fromhex(h)) for h in v["shares"]]
    assert feldman.reconstruct(decoded[1:], v["threshold"]) == secret
