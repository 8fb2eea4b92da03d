"""Regenerate the known-answer vectors (run only when a format changes on purpose).

    python tests/vectors/generate.py

A change to any vector is a wire-format change: it must come with a new
version label, never silently.
"""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from fedsilo.crypto import feldman, group, kdf
from fedsilo.crypto.encoding import encode
from fedsilo.crypto.prg import keystream_words
from fedsilo.testing.entropy import SeededEntropy

HERE = Path(__file__).parent
SESSION = ("hospital-net", bytes(range(32)), b"session-0001", 7)


def encoding_vectors() -> list[dict[str, object]]:
    cases: list[tuple[str, list[object]]] = [
        ("empty", []),
        ("label-and-ints", ["fedsilo/v1/advert", 0, 1, -1, 255, 256, 2**64]),
        ("bytes-and-nesting", [b"", b"\x00\xff", ["ab", "c"], [[1, 2], []]]),
        ("split-ambiguity-1", ["ab", "c"]),
        ("split-ambiguity-2", ["a", "bc"]),
    ]
    return [{"name": n, "fields": repr(f), "hex": encode(*f).hex()} for n, f in cases]  # type: ignore[arg-type]


def kdf_vectors() -> dict[str, object]:
    a = X25519PrivateKey.from_private_bytes(bytes([1] * 32))
    b = X25519PrivateKey.from_private_bytes(bytes([2] * 32))
    shared = kdf.agree(a, kdf.x25519_public_bytes(b))
    return {
        "private_a": bytes([1] * 32).hex(),
        "private_b": bytes([2] * 32).hex(),
        "session": [SESSION[0], SESSION[1].hex(), SESSION[2].hex(), SESSION[3]],
        "shared": shared.hex(),
        "mask_seed_3_5": kdf.derive_mask_seed(shared, SESSION, 3, 5).hex(),
        "share_key_3_to_5": kdf.derive_share_key(shared, SESSION, 3, 5).hex(),
        "share_key_5_to_3": kdf.derive_share_key(shared, SESSION, 5, 3).hex(),
        "self_mask_key_3": kdf.derive_self_mask_key(bytes([9] * 32), SESSION, 3).hex(),
    }


def mask_vectors() -> dict[str, object]:
    key = bytes(range(32))
    return {
        "key": key.hex(),
        "u32_at_0": [int(w) for w in keystream_words(key, 32, 8)],
        "u32_at_1001": [int(w) for w in keystream_words(key, 32, 8, offset=1001)],
        "u64_at_0": [str(int(w)) for w in keystream_words(key, 64, 4)],
        "u64_at_77": [str(int(w)) for w in keystream_words(key, 64, 4, offset=77)],
    }


def feldman_vectors() -> dict[str, object]:
    secret = int.from_bytes(bytes(range(100, 132)), "big") % group.Q
    shares, commitments = feldman.deal(secret, 3, [1, 2, 4, 7], SeededEntropy("feldman-kav"))
    return {
        "secret": group.scalar_to_bytes(secret).hex(),
        "threshold": 3,
        "holders": [1, 2, 4, 7],
        "entropy_seed": "feldman-kav",
        "shares": [s.to_bytes().hex() for s in shares],
        "commitments_sha256": commitments.digest().hex(),
    }


def main() -> None:
    vectors = {
        "encoding": encoding_vectors(),
        "kdf": kdf_vectors(),
        "mask": mask_vectors(),
        "feldman": feldman_vectors(),
    }
    for name, data in vectors.items():
        (HERE / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
