"""Regenerate the TEST-ONLY Paillier primes (run only when the key generator changes on purpose).

    python -m tests.vectors.generate_paillier_keys        (from the repository root)

It writes ``tests/vectors/paillier_test_keys.json``: for ``|N|`` = 512 and 1024 bits, two
safe primes ``p = 2p' + 1`` and ``q = 2q' + 1`` drawn by
:func:`fedsilo.crypto.paillier.random_safe_prime` from a seeded (public!) entropy
stream, so the file is reproducible and its factorisations are known to everyone.
They exist so the test suite need not generate primes; they protect nothing and must
never appear in a federation config.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # also runnable as `python tests/vectors/generate_paillier_keys.py`
    sys.path.insert(0, str(ROOT))

from fedsilo.crypto.paillier import random_safe_prime  # noqa: E402
from fedsilo.testing.entropy import SeededEntropy  # noqa: E402

KEYS_FILE = Path(__file__).parent / "paillier_test_keys.json"
SEED = "fedsilo/paillier-test-keys/v1"
SIZES = (512, 1024)


def primes_for(key_bits: int) -> tuple[int, int]:
    """The two distinct safe primes of ``key_bits / 2`` bits for the test key of that size."""
    entropy = SeededEntropy(SEED, key_bits)
    p = random_safe_prime(key_bits // 2, entropy)
    q = p
    while q == p:
        q = random_safe_prime(key_bits // 2, entropy)
    return p, q


def keys_document() -> dict[str, object]:
    keys = {}
    for bits in SIZES:
        p, q = primes_for(bits)
        keys[str(bits)] = {"p": format(p, "x"), "q": format(q, "x"), "n_bits": (p * q).bit_length()}
    return {
        "warning": (
            "TEST-ONLY Paillier primes, derived from a public seed: anyone can factor these "
            "moduli. Never use them outside the test suite."
        ),
        "test_only": True,
        "generator": "tests/vectors/generate_paillier_keys.py",
        "seed": SEED,
        "keys": keys,
    }


def main() -> None:
    KEYS_FILE.write_text(json.dumps(keys_document(), indent=2) + "\n")
    print(f"wrote {KEYS_FILE}")


if __name__ == "__main__":
    main()
