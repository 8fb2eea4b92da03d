"""The live federation most node tests share: an aggregator served in this process, round 1
open, adverts waiting a minute for the silos a test starts by hand."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.nodes.live import LiveFederation


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveFederation]:
    federation = LiveFederation(tmp_path, advertise_keys=60)
    federation.run_rounds()
    try:
        yield federation
    finally:
        federation.close()
