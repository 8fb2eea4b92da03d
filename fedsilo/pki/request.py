"""A member's key and certificate signing request, made where the member runs.

The private key is written to the member's own directory (mode 0600) and
never leaves it; only the ``.csr`` file is handed to the CA holder.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fedsilo.errors import PKIError
from fedsilo.pki.files import write_private_key, write_public
from fedsilo.pki.identity import Role, check_name, identity_uri
from fedsilo.pki.validate import REQUIRED_EKU


@dataclass(frozen=True)
class RequestFiles:
    key: Path
    csr: Path


def create_request(
    federation: str,
    name: str,
    role: Role,
    out_dir: Path,
    dns_names: tuple[str, ...] = (),
    ip_addresses: tuple[str, ...] = (),
) -> RequestFiles:
    """Generate ``<name>.key`` (0600) and ``<name>.csr`` in ``out_dir``."""
    check_name(name)
    sans: list[x509.GeneralName] = [x509.UniformResourceIdentifier(identity_uri(federation, name))]
    sans += [x509.DNSName(d) for d in dns_names]
    for ip in ip_addresses:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(ip)))
        except ValueError as exc:
            raise PKIError(f"--ip {ip!r} is not an IP address") from exc
    if role is Role.SILO and (dns_names or ip_addresses):
        raise PKIError("a silo names no --dns or --ip: silos connect out and accept no connections")
    if role is Role.AGGREGATOR and not (dns_names or ip_addresses):
        raise PKIError("an aggregator must name the --dns names or --ip addresses silos dial")
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_path, csr_path = out_dir / f"{name}.key", out_dir / f"{name}.csr"
    if csr_path.exists():
        raise PKIError(f"{csr_path} already exists")
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([REQUIRED_EKU[role]]), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_private_key(key_path, key)
    write_public(csr_path, csr.public_bytes(serialization.Encoding.PEM))
    return RequestFiles(key_path, csr_path)
