"""Production randomness is the operating system's CSPRNG, drawn afresh for every request.

A statistical check cannot tell ``os.urandom`` from a seeded Mersenne Twister
(``random.randbytes`` passes every such test), so these tests replace
``os.urandom`` with a recording fake and check that :class:`SystemEntropy`
hands back exactly what the operating system gave it, for the size asked.
"""

from __future__ import annotations

import os

import pytest

from fedsilo.crypto.entropy import SystemEntropy


class RecordingUrandom:
    """Stands in for ``os.urandom``: remembers each request and answers with bytes no
    other generator would produce (a counter pattern, different on every call)."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.answers: list[bytes] = []

    def __call__(self, size: int) -> bytes:
        self.sizes.append(size)
        answer = bytes((len(self.answers) * 31 + i) % 256 for i in range(size))
        self.answers.append(answer)
        return answer


@pytest.fixture
def urandom(monkeypatch: pytest.MonkeyPatch) -> RecordingUrandom:
    fake = RecordingUrandom()
    monkeypatch.setattr(os, "urandom", fake)
    return fake


@pytest.mark.parametrize("size", [1, 16, 32, 4096])
def test_system_entropy_returns_what_os_urandom_returns_for_the_size_asked(
    urandom: RecordingUrandom, size: int
) -> None:
    drawn = SystemEntropy().random_bytes(size)
    assert urandom.sizes == [size]
    assert drawn == urandom.answers[0]


def test_system_entropy_asks_the_operating_system_again_for_every_draw(
    urandom: RecordingUrandom,
) -> None:
    source = SystemEntropy()
    first, second = source.random_bytes(32), source.random_bytes(32)
    assert urandom.sizes == [32, 32]
    assert [first, second] == urandom.answers
