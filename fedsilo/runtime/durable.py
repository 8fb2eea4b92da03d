"""Durable writes: a file replaced atomically and made to survive a power cut.

Temp file in the same directory, write, fsync, rename over the target, fsync the
directory: after a crash the file holds either the old bytes or the new, never a
torn mix, and once this returns the new bytes survive.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

TEMP_SUFFIX = ".tmp"


def replace_durably(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Atomically and durably replace ``path`` with ``data`` (raises ``OSError``)."""
    directory = path.parent
    fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    fsync_directory(directory)


def fsync_directory(directory: Path) -> None:
    """Make a directory's entries (a rename, a new file) durable."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
