"""The silo's unmask ledger on disk: written and fsynced before the message leaves."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from fedsilo.errors import ConfigError
from fedsilo.protocol.masking.ledger import SignedView


class FileUnmaskLedger:
    """A JSON file replaced atomically (write, fsync, rename, fsync the directory)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        except (OSError, ValueError) as exc:
            raise ConfigError(f"the unmask ledger {path} is unreadable; refusing to start") from exc
        self._data.setdefault("views", {})
        self._data.setdefault("unmasked", [])

    @staticmethod
    def _key(round_number: int, model_hash: bytes) -> str:
        return f"{round_number}:{model_hash.hex()}"

    def _save(self) -> None:
        fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=".ledger-")
        with os.fdopen(fd, "w") as handle:
            json.dump(self._data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self._path)
        dir_fd = os.open(self._path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def signed_view(self, round_number: int, model_hash: bytes) -> SignedView | None:
        view = self._data["views"].get(self._key(round_number, model_hash))
        return SignedView(tuple(view["survivors"]), tuple(view["dropped"])) if view else None

    def record_signed_view(self, round_number: int, model_hash: bytes, view: SignedView) -> None:
        with self._lock:
            self._data["views"][self._key(round_number, model_hash)] = {
                "survivors": list(view.survivors),
                "dropped": list(view.dropped),
            }
            self._save()

    def has_unmasked(self, round_number: int, model_hash: bytes) -> bool:
        return self._key(round_number, model_hash) in self._data["unmasked"]

    def record_unmasked(self, round_number: int, model_hash: bytes) -> None:
        with self._lock:
            self._data["unmasked"].append(self._key(round_number, model_hash))
            self._save()
