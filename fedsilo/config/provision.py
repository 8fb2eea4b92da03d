"""`fedsilo certs provision`: a whole local federation for development and demos.

Creates a CA, every roster member's key and certificate (each in its own
directory, as if made at that institution), a CRL, a copy of the config
with the CA and every member's fingerprint pinned (and the model's layout
and initial model, when the caller passes their pins), and every member's
endorsement of that copy. All keys are made on one machine, so this is
**for development only**; production members each run ``fedsilo certs
request`` themselves.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
from pathlib import Path

import yaml

from fedsilo.config.endorse import endorse
from fedsilo.config.load import load_config
from fedsilo.config.model import FederationConfig, ModelPin
from fedsilo.errors import ConfigError
from fedsilo.pki.ca import CRL_FILE, CertificateAuthority, init_ca
from fedsilo.pki.files import certificate_pem, crl_pem, load_csr, write_public
from fedsilo.pki.identity import Role, fingerprint
from fedsilo.pki.request import create_request

DEV_WARNING = (
    "development PKI: every private key was generated on this machine; "
    "production members create their own keys with `fedsilo certs request`"
)


def _endpoint(address: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    host = address.rpartition(":")[0].strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return (host,), ()
    return (), (host,)


def provision(
    config_path: Path,
    out_dir: Path,
    now: dt.datetime,
    days: int = 365,
    model: ModelPin | None = None,
) -> Path:
    """Provision ``out_dir``; returns the path of the pinned config copy.

    ``model`` holds the SHA-256 of the task's model layout and of its initial model
    (computed by the caller, which can build the model); it is pinned into the copy with
    the fingerprints."""
    config = load_config(config_path)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ConfigError(f"{out_dir} is not empty; provision into a new directory")
    init_ca(config.federation, out_dir / "ca", now)
    ca = CertificateAuthority(out_dir / "ca")
    fingerprints = {}
    dns, ips = _endpoint(config.aggregator.address)
    members = [(config.aggregator.name, Role.AGGREGATOR)] + [
        (s.name, Role.SILO) for s in config.silos
    ]
    for name, role in members:
        member_dir = out_dir / name
        files = create_request(
            config.federation,
            name,
            role,
            member_dir,
            dns_names=dns if role is Role.AGGREGATOR else (),
            ip_addresses=ips if role is Role.AGGREGATOR else (),
        )
        cert = ca.sign(load_csr(files.csr), now, days)
        write_public(member_dir / f"{name}.crt", certificate_pem(cert))
        fingerprints[name] = fingerprint(cert)
    write_public(out_dir / "ca" / CRL_FILE, crl_pem(ca.crl(now)))
    pinned = _pin(config, fingerprint(ca.certificate), fingerprints)
    if model is not None:
        pinned = dataclasses.replace(pinned, model=model)
    out_config = out_dir / config_path.name
    header = f"# Pinned by `fedsilo certs provision` ({DEV_WARNING}).\n"
    write_public(out_config, (header + yaml.safe_dump(pinned.document(), sort_keys=False)).encode())
    for name, _ in members:  # development only: this machine holds every member's key
        endorse(pinned, out_config, out_dir / name / f"{name}.key", out_dir / name / f"{name}.crt")
    return out_config


def _pin(config: FederationConfig, ca_fp: str, fps: dict[str, str]) -> FederationConfig:
    return dataclasses.replace(
        config,
        ca_fingerprint=ca_fp,
        aggregator=dataclasses.replace(config.aggregator, fingerprint=fps[config.aggregator.name]),
        silos=tuple(dataclasses.replace(s, fingerprint=fps[s.name]) for s in config.silos),
    )
