"""Before round 1 the aggregator waits (up to ``timeouts.join``) for every silo to join."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.nodes.live import LiveFederation

pytestmark = pytest.mark.slow

SILOS = ["s1", "s2", "s3", "s4", "s5"]


def test_round_one_waits_for_every_silo_to_join_so_late_starters_are_included(
    tmp_path: Path,
) -> None:
    live = LiveFederation(tmp_path, join=60, advertise_keys=10)
    try:
        thread = threading.Thread(target=live.node.run, daemon=True)
        thread.start()
        time.sleep(2.0)
        # without the join wait, round 1 would be open (and its first deadline running)
        assert live.node.mailbox.progress is None
        live.start_silos(SILOS)
        thread.join(60)
        live.finish()
        live.assert_released_exactly(SILOS)
    finally:
        live.close()
