"""Regenerate the golden round chain (run only when the chain or server step changes on purpose).

    python -m tests.vectors.generate_chain        (from the repository root)

It writes ``tests/vectors/chain.json``: ``H_1 .. H_5`` for FedAvg and FedAdam, from
the derivation in ``tests/training/chain_fixture.py`` (the one the tests run). A
change to any head is a change of the chain (``fedsilo/chain/v1``), of the server
step (``fedsilo/server-step/v1``) or of how models and states are hashed: it must
come with a new version label, never silently.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # also runnable as `python tests/vectors/generate_chain.py`
    sys.path.insert(0, str(ROOT))

from tests.training.chain_fixture import chain_document  # noqa: E402

CHAIN_FILE = Path(__file__).parent / "chain.json"


def main() -> None:
    CHAIN_FILE.write_text(json.dumps(chain_document(), indent=2) + "\n")
    print(f"wrote {CHAIN_FILE}")


if __name__ == "__main__":
    main()
