"""The test-only Paillier primes (tests/vectors/paillier_test_keys.json) and a context."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from fedsilo.crypto.encoding import encode

KEYS_FILE = Path(__file__).parent.parent / "vectors" / "paillier_test_keys.json"
CONTEXT = encode("fedsilo/test", "federation", 7)


@functools.cache
def keys_document() -> dict[str, object]:
    document: dict[str, object] = json.loads(KEYS_FILE.read_text())
    return document


def primes(bits: int) -> tuple[int, int]:
    """The test-only safe primes ``p, q`` of a ``bits``-bit modulus (512 or 1024)."""
    keys = keys_document()["keys"]
    assert isinstance(keys, dict)
    entry = keys[str(bits)]
    return int(entry["p"], 16), int(entry["q"], 16)
