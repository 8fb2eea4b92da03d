"""Endorsements: each institution signs the config digest with its certificate key.

Signed bytes (version 1), in the length-prefixed encoding of
:mod:`fedsilo.crypto.encoding`::

    encode("fedsilo/v1/config-endorsement", federation, signer name, digest bytes)

An endorsement is stored beside the config as ``<config>.endorsements/<name>.sig``,
a JSON document carrying the signer's certificate, so it can be checked
against the roster's pinned fingerprint without other files.
"""

from __future__ import annotations

import base64
import enum
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fedsilo.config.model import FederationConfig
from fedsilo.crypto.signatures import VerifyingKey
from fedsilo.errors import ConfigError, CryptoError, PKIError, SignatureError
from fedsilo.pki import validate
from fedsilo.pki.files import (
    certificate_from_pem,
    certificate_pem,
    load_certificate,
    load_identity_key,
    write_public,
)
from fedsilo.pki.identity import certificate_identity, fingerprint

if TYPE_CHECKING:
    from cryptography import x509

LABEL = "fedsilo/v1/config-endorsement"
FORMAT = "fedsilo-endorsement/v1"


def endorsement_dir(config_path: Path) -> Path:
    return Path(f"{config_path}.endorsements")


def _digest_bytes(config: FederationConfig) -> bytes:
    return bytes.fromhex(config.digest().removeprefix("sha256:"))


def _pinned(config: FederationConfig, name: str) -> str | None:
    if name == config.aggregator.name:
        return config.aggregator.fingerprint
    for silo in config.silos:
        if silo.name == name:
            return silo.fingerprint
    raise ConfigError(f"{name!r} is neither the aggregator nor a silo of {config.federation}")


def endorse(config: FederationConfig, config_path: Path, key_path: Path, cert_path: Path) -> Path:
    """Sign ``config``'s digest as the member named in ``cert_path``; returns the file."""
    cert = load_certificate(cert_path)
    federation, name = certificate_identity(cert)
    if federation != config.federation:
        raise ConfigError(
            f"{cert_path} belongs to federation {federation!r}, not {config.federation!r}"
        )
    pinned = _pinned(config, name)
    if pinned is not None and pinned != fingerprint(cert):
        raise ConfigError(f"{cert_path} is not the certificate pinned for {name!r} in the config")
    identity = load_identity_key(key_path)
    if identity.verifying_key.to_der() != VerifyingKey.from_public_key(cert.public_key()).to_der():
        raise ConfigError(f"{key_path} is not the key of {cert_path}")
    signature = identity.sign(LABEL, config.federation, name, _digest_bytes(config))
    document = {
        "format": FORMAT,
        "signer": name,
        "config_digest": config.digest(),
        "certificate": certificate_pem(cert).decode(),
        "signature": base64.b64encode(signature).decode(),
    }
    out_dir = endorsement_dir(config_path)
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"{name}.sig"
    write_public(out, json.dumps(document, indent=2).encode())
    return out


class EndorsementStatus(enum.Enum):
    VALID = "valid"
    MISSING = "missing"
    INVALID = "invalid"


@dataclass(frozen=True)
class EndorsementCheck:
    name: str
    status: EndorsementStatus
    reason: str


def check_endorsement(
    config: FederationConfig, config_path: Path, name: str, ca_cert: x509.Certificate | None
) -> EndorsementCheck:
    """Whether ``name`` endorsed exactly this config with its pinned certificate."""
    path = endorsement_dir(config_path) / f"{name}.sig"
    if not path.exists():
        return EndorsementCheck(name, EndorsementStatus.MISSING, f"no endorsement at {path}")
    try:
        _verify(config, name, path, ca_cert)
    except (ConfigError, CryptoError, PKIError, ValueError, KeyError, TypeError) as exc:
        return EndorsementCheck(name, EndorsementStatus.INVALID, str(exc))
    return EndorsementCheck(name, EndorsementStatus.VALID, "signed the current digest")


def _verify(
    config: FederationConfig, name: str, path: Path, ca_cert: x509.Certificate | None
) -> None:
    doc = json.loads(path.read_text())
    if doc.get("format") != FORMAT or doc.get("signer") != name:
        raise ConfigError(f"{path} is not a {FORMAT} endorsement by {name!r}")
    cert = certificate_from_pem(doc["certificate"].encode())
    pinned = _pinned(config, name)
    if pinned is None:
        raise ConfigError(
            f"{name!r} has no pinned fingerprint, so its endorsement cannot be checked"
        )
    if fingerprint(cert) != pinned:
        raise ConfigError("made with a certificate other than the pinned one")
    if ca_cert is not None:
        validate.check_issued_by(cert, ca_cert)
    if doc.get("config_digest") != config.digest():
        raise ConfigError(
            f"endorses {doc.get('config_digest')}, but the config now digests to {config.digest()}"
        )
    try:
        VerifyingKey.from_public_key(cert.public_key()).verify(
            base64.b64decode(doc["signature"]),
            LABEL,
            config.federation,
            name,
            _digest_bytes(config),
        )
    except SignatureError as exc:
        raise ConfigError("the signature does not verify over the current digest") from exc


def require_endorsements(
    config: FederationConfig, config_path: Path, ca_cert: x509.Certificate | None
) -> None:
    """Refuse to run unless every member endorsed exactly this config."""
    problems = [
        f"{c.name}: {c.reason}"
        for c in (check_endorsement(config, config_path, n, ca_cert) for n in config.member_names)
        if c.status is not EndorsementStatus.VALID
    ]
    if problems:
        raise ConfigError(
            f"{config_path}: not every member endorsed this config ({config.digest()}): "
            + "; ".join(problems)
        )
