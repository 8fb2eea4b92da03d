"""Who may sign an epoch reset: the silo operators, by their pinned certificates.

An operator signature counts only when made with the key of the certificate
pinned for a silo in the config (fingerprint), naming that silo in this
federation, with the silo role. Certificates come from a directory laid out as
``aggregator start --certs`` reads it: ``NAME.crt`` or ``NAME/NAME.crt``.
"""

from __future__ import annotations

from pathlib import Path

from fedsilo.config.model import FederationConfig
from fedsilo.crypto.signatures import IdentityKey, VerifyingKey
from fedsilo.errors import ConfigError, PKIError
from fedsilo.pki import validate
from fedsilo.pki.files import load_certificate, load_identity_key
from fedsilo.pki.identity import Role, certificate_identity, fingerprint
from fedsilo.protocol.roster import Roster, SiloEntry


def operator_identity(
    config: FederationConfig, key_path: Path, cert_path: Path
) -> tuple[SiloEntry, IdentityKey]:
    """The silo a certificate speaks for (its roster entry) and the key that signs for it."""
    cert = load_certificate(cert_path)
    federation, name = certificate_identity(cert)
    if federation != config.federation:
        raise PKIError(
            f"{cert_path} belongs to federation {federation!r}, not {config.federation!r}"
        )
    if name not in config.silo_names:
        raise PKIError(
            f"{cert_path} is the certificate of {name!r}, which is not a silo of "
            f"{config.federation}: only silo operators sign epoch resets"
        )
    index = config.silo_names.index(name) + 1
    entry = _silo_entry(config, index, cert_path)
    identity = load_identity_key(key_path)
    if identity.verifying_key.to_der() != entry.verifying_key.to_der():
        raise PKIError(f"{key_path} is not the key of {cert_path}")
    return entry, identity


def _certificate_path(certs_dir: Path, name: str) -> Path:
    for path in (certs_dir / f"{name}.crt", certs_dir / name / f"{name}.crt"):
        if path.is_file():
            return path
    raise ConfigError(f"no certificate for {name} in {certs_dir} (NAME.crt or NAME/NAME.crt)")


def _silo_entry(config: FederationConfig, index: int, cert_path: Path) -> SiloEntry:
    """Roster entry ``index`` from ``cert_path``, which must be the pinned silo certificate."""
    silo = config.silos[index - 1]
    cert = load_certificate(cert_path)
    try:
        validate.check_identity(cert, config.federation, silo.name)
        validate.check_role(cert, Role.SILO)
    except PKIError as exc:
        raise PKIError(f"{cert_path}: {exc}") from exc
    if silo.fingerprint is None:
        raise ConfigError(
            f"silos[{index - 1}].fingerprint is not pinned: epoch-reset signatures are checked "
            "only against pinned silo certificates"
        )
    if fingerprint(cert) != silo.fingerprint:
        raise PKIError(f"{cert_path} is not the certificate pinned for {silo.name} in the config")
    return SiloEntry(index, silo.name, VerifyingKey.from_public_key(cert.public_key()))


def silo_roster(config: FederationConfig, certs_dir: Path) -> Roster:
    """The roster whose keys verify operator signatures, from the pinned certificates."""
    return Roster(
        tuple(
            _silo_entry(config, i, _certificate_path(certs_dir, silo.name))
            for i, silo in enumerate(config.silos, 1)
        )
    )
