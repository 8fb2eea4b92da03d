"""A test kit's dealer of long-term per-silo secrets, for schemes that keep one.

A scheme with a :attr:`~fedsilo.protocol.scheme.Scheme.secret_file` needs each silo's
secret provisioned before the silo first runs, and the public values that go with them
in its config section. In production that is a ceremony outside fedsilo; in tests a
scheme may offer :class:`SecretDealer`, and the kit (``scheme_driver``, the node tests)
deals with it. The seam's :class:`~fedsilo.protocol.scheme.Scheme` knows nothing of this.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from fedsilo.crypto.entropy import Entropy
from fedsilo.crypto.signatures import VerifyingKey


@dataclass(frozen=True)
class DealtSecrets:
    """What a deal made: the public keys of the scheme's config section (merged into it),
    and each silo's secret file, by roster index."""

    section: dict[str, Any]
    files: dict[int, bytes] = field(repr=False)


@runtime_checkable
class SecretDealer(Protocol):
    """A scheme whose test federations the kit can deal secrets for."""

    def deal_test_secrets(
        self,
        *,
        silos: int,
        threshold: int,
        entropy: Entropy,
        recipients: Mapping[int, VerifyingKey],
    ) -> DealtSecrets:
        """Fresh secrets for ``silos`` silos at ``threshold``, drawn from ``entropy``, each
        silo's file sealed to its certificate key (``recipients``, by roster index)."""
        ...


__all__ = ["DealtSecrets", "SecretDealer"]
