"""The pinned roster of a config, as the trust store needs it."""

from __future__ import annotations

from pathlib import Path

from fedsilo.config.model import FederationConfig
from fedsilo.pki.files import load_certificate
from fedsilo.pki.identity import Role
from fedsilo.pki.trust import (
    Clock,
    CrlFloor,
    CrlSource,
    InMemoryCrlNumber,
    Member,
    TrustStore,
    utc_now,
)


def members(config: FederationConfig) -> dict[str, Member]:
    """Every member by name: the aggregator (index 0) and the silos (1..n, roster order)."""
    agg = config.aggregator
    out = {agg.name: Member(agg.name, Role.AGGREGATOR, 0, agg.fingerprint)}
    for i, silo in enumerate(config.silos, start=1):
        out[silo.name] = Member(silo.name, Role.SILO, i, silo.fingerprint)
    return out


def trust_store(
    config: FederationConfig,
    ca_path: Path,
    crl_path: Path,
    clock: Clock = utc_now,
    crl_floor: CrlFloor | None = None,
) -> TrustStore:
    """The trust store of a node: the pinned CA, the pinned roster, the CRL file, and the
    highest CRL number accepted (a node passes the one it keeps in its state directory)."""
    return TrustStore(
        config.federation,
        members(config),
        load_certificate(ca_path),
        CrlSource(crl_path),
        config.ca_fingerprint,
        clock,
        crl_floor or CrlFloor(InMemoryCrlNumber()),
    )
