"""A readable description of a certificate: ``fedsilo certs inspect``."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from cryptography import x509

from fedsilo.pki.identity import fingerprint
from fedsilo.pki.validate import is_ca, role_of


@dataclass(frozen=True)
class CertificateInfo:
    """What an operator or auditor wants to see of a certificate."""

    name: str
    role: str
    subject_alt_names: list[str]
    fingerprint: str
    serial: str
    not_before: str
    not_after: str
    issuer: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def as_text(self) -> str:
        width = max(len(k) for k in self.as_dict())
        rows = []
        for key, value in self.as_dict().items():
            shown = ", ".join(value) if isinstance(value, list) else str(value)
            rows.append(f"{key.replace('_', ' '):<{width}}  {shown}")
        return "\n".join(rows)


def describe(cert: x509.Certificate) -> CertificateInfo:
    try:
        sans = [
            str(v.value)
            for v in cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        ]
    except x509.ExtensionNotFound:
        sans = []
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    role = role_of(cert)
    return CertificateInfo(
        name=str(cn[0].value) if cn else "",
        role="ca" if is_ca(cert) else (role.value if role else "unknown"),
        subject_alt_names=sans,
        fingerprint=fingerprint(cert),
        serial=f"{cert.serial_number:x}",
        not_before=cert.not_valid_before_utc.isoformat(),
        not_after=cert.not_valid_after_utc.isoformat(),
        issuer=cert.issuer.rfc4514_string(),
    )
