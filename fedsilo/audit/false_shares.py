"""Checking, offline, that a silo revealed a false unmasking share.

The aggregator logs a ``false-share`` event with the evidence
(:class:`~fedsilo.protocol.masking.sharing.FalseShareEvidence` as JSON: the
revealer's signed unmasking response and the dealers' signed Feldman
commitments). Anyone with the config and the roster's certificates can check it
(``fedsilo audit false-share``): nothing the aggregator says is trusted, only
the two silos' signatures and one group computation.
"""

from __future__ import annotations

import json
from pathlib import Path

from fedsilo.audit.operators import silo_roster
from fedsilo.audit.resets import config_digest_bytes
from fedsilo.config.model import FederationConfig
from fedsilo.errors import ConfigError
from fedsilo.protocol.masking.sharing import FalseShareEvidence, evidence_from, verify_false_share


def load_evidence(path: Path) -> FalseShareEvidence:
    """The evidence in ``path``: the ``evidence`` of a logged ``false-share`` event, or the
    whole event line."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path} holds no JSON false-share evidence: {exc}") from exc
    if isinstance(data, dict) and data.get("event") == "false-share":
        data = data.get("evidence")
    if not isinstance(data, dict):
        raise ConfigError(f"{path} holds no false-share evidence")
    return evidence_from(data)


def audit_false_share(path: Path, config: FederationConfig, certs_dir: Path) -> str:
    """The one-line verdict on the evidence in ``path``; raises :class:`CryptoError` if it
    proves nothing (or :class:`ConfigError` if it is not evidence for this federation)."""
    evidence = load_evidence(path)
    ctx = evidence.context
    if ctx.federation_id != config.federation or ctx.config_digest != config_digest_bytes(config):
        raise ConfigError(
            f"the evidence is from federation {ctx.federation_id!r} under another config "
            f"than {config.digest()}"
        )
    scheme = config.scheme
    if scheme.kind != "masking":
        raise ConfigError("false-share evidence belongs to a masking federation")
    roster = silo_roster(config, certs_dir)
    liar = verify_false_share(evidence, roster, scheme.threshold)
    return (
        f"PROVEN: {liar} revealed a false share of the {evidence.kind} of "
        f"{roster.name(evidence.owner)} in round {ctx.round} (session "
        f"{ctx.session_id.hex()[:16]}…), signed with its own key"
    )


__all__ = ["audit_false_share", "load_evidence"]
