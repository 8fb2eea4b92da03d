"""The highest CRL number a node has accepted, kept in its state directory.

With it a node refuses an older CRL after a newer one even across restarts (an
older, still unexpired CRL would un-revoke certificates): see
:class:`fedsilo.pki.trust.CrlFloor`.
"""

from __future__ import annotations

from pathlib import Path

from fedsilo.errors import ConfigError, DurabilityError
from fedsilo.runtime.durable import replace_durably

CRL_NUMBER_FILE = "crl-number"


class FileCrlNumber:
    """A :class:`~fedsilo.pki.trust.CrlNumberStore` over one small file (``0`` if absent)."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def load(self) -> int:
        try:
            text = self._path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return 0
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"the CRL number file {self._path} is unreadable: {exc}") from exc
        if not text.isdigit():
            raise ConfigError(
                f"the CRL number file {self._path} does not hold a number; refusing to start "
                "(restore it: deleting it would let an older CRL be accepted)"
            )
        return int(text)

    def save(self, number: int) -> None:
        try:
            replace_durably(self._path, f"{number}\n".encode("ascii"))
        except OSError as exc:
            raise DurabilityError(
                f"could not record CRL number {number} in {self._path} ({exc})"
            ) from exc
