"""Production randomness is the operating system's CSPRNG, drawn afresh for every request.

A statistical check cannot tell ``os.urandom`` from a seeded Mersenne Twister
(``random.randbytes`` passes every such test), so these tests check what
:class:`SystemEntropy` draws from: ``os.urandom`` itself by default, and, through a
recording fake from the test kit, exactly what that source gave, for the size asked.
"""

from __future__ import annotations

import os

import pytest

from fedsilo.crypto.entropy import SystemEntropy
from fedsilo.testing.entropy import RecordingSource


def test_system_entropy_draws_from_os_urandom_by_default() -> None:
    assert SystemEntropy().source is os.urandom


@pytest.mark.parametrize("size", [1, 16, 32, 4096])
def test_system_entropy_returns_what_its_source_returns_for_the_size_asked(size: int) -> None:
    source = RecordingSource(size)
    drawn = SystemEntropy(source).random_bytes(size)
    assert source.sizes == [size]
    assert drawn == source.answers[0]


def test_system_entropy_asks_its_source_again_for_every_draw() -> None:
    source = RecordingSource()
    entropy = SystemEntropy(source)
    first, second = entropy.random_bytes(32), entropy.random_bytes(32)
    assert source.sizes == [32, 32] and first != second
    assert [first, second] == source.answers
