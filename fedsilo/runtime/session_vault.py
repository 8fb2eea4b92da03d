"""A silo's resumable session, encrypted at rest under a key only its identity can derive.

Once a silo has signed its survivor view (and, later, revealed), the session
must outlive a crash: a restarted silo resumes *that* session, never a new one
of the same round. The session's
:meth:`~fedsilo.protocol.scheme.SiloSession.snapshot` holds its secrets (the
shares it holds of its peers' secrets), so it is sealed with ChaCha20-Poly1305
under ``IdentityKey.storage_key`` (HKDF of the node's private key), bound to the
federation, the silo and the session id, and written to
``STATE_DIR/sessions/<session id>.bin`` (temp file, fsync, rename) before the
message acting on it leaves. It is deleted once the round is final here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fedsilo.crypto import aead
from fedsilo.crypto.encoding import encode
from fedsilo.crypto.entropy import Entropy
from fedsilo.crypto.signatures import IdentityKey
from fedsilo.errors import ConfigError, DecryptionError, DurabilityError
from fedsilo.protocol.scheme import SiloSession
from fedsilo.runtime.state import write_atomically

LABEL = "fedsilo/v1/session-at-rest"


class SessionVault:
    """The sealed snapshots of one silo's open sessions."""

    def __init__(
        self, directory: Path, identity: IdentityKey, federation: str, name: str, entropy: Entropy
    ) -> None:
        self._dir = directory
        self._key = identity.storage_key(LABEL, federation, name)
        self._entropy = entropy
        self._binding = (federation, name)

    def _path(self, session_id: bytes) -> Path:
        return self._dir / f"{session_id.hex()}.bin"

    def _ad(self, session_id: bytes) -> bytes:
        return encode(LABEL, *self._binding, session_id)

    def keep(self, session: SiloSession) -> None:
        """Seal and store ``session`` if it is resumable (for masking: it signed its view)."""
        if session.resumes_at is None:
            return
        sid = session.context.session_id
        data = json.dumps(session.snapshot()).encode()
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            write_atomically(
                self._path(sid), aead.seal(self._key, data, self._ad(sid), self._entropy)
            )
        except OSError as exc:
            raise DurabilityError(
                f"could not keep the session in {self._dir} ({exc}); nothing more was sent"
            ) from exc

    def load(self, session_id: bytes) -> dict[str, Any] | None:
        """The stored snapshot of ``session_id``, if any (refused if tampered with)."""
        path = self._path(session_id)
        if not path.is_file():
            return None
        try:
            plain = aead.open_sealed(self._key, path.read_bytes(), self._ad(session_id))
            loaded: dict[str, Any] = json.loads(plain)
        except (OSError, ValueError, DecryptionError) as exc:
            raise ConfigError(
                f"the kept session {path} is unreadable or was altered ({exc}); refusing to run"
            ) from exc
        return loaded

    def discard_all_but(self, session_id: bytes | None = None) -> None:
        """Remove every kept session but ``session_id`` (the round is final, or abandoned)."""
        if not self._dir.is_dir():
            return
        for path in self._dir.glob("*.bin"):
            if session_id is None or path.name != f"{session_id.hex()}.bin":
                path.unlink()
