"""Names, roles, identity URIs and fingerprints."""

from __future__ import annotations

import enum
import hashlib
import re

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from fedsilo.errors import PKIError
from fedsilo.protocol.fields import NAME_PATTERN

FINGERPRINT_PATTERN = re.compile(r"^sha256:[0-9a-f]{64}$")
URI_PREFIX = "fedsilo://"


class Role(enum.Enum):
    """What a certificate may be used for in a federation."""

    SILO = "silo"
    AGGREGATOR = "aggregator"


def check_name(value: str, what: str = "name") -> str:
    """A federation id or member name: lowercase DNS-label style, 1..63 characters."""
    if not isinstance(value, str) or not NAME_PATTERN.match(value):
        raise PKIError(
            f"{what} {value!r} must be 1-63 lowercase letters, digits, '.' or '-', "
            "starting and ending with a letter or digit"
        )
    return value


def identity_uri(federation: str, name: str) -> str:
    """The URI SAN of member ``name`` of ``federation``."""
    return f"{URI_PREFIX}{check_name(federation, 'federation id')}/{check_name(name)}"


def parse_identity_uri(uri: str) -> tuple[str, str]:
    """``(federation, name)`` from a ``fedsilo://<federation>/<name>`` URI."""
    if not uri.startswith(URI_PREFIX) or uri.count("/") != 3:
        raise PKIError(f"{uri!r} is not a fedsilo identity (fedsilo://<federation>/<name>)")
    federation, name = uri[len(URI_PREFIX) :].split("/")
    return check_name(federation, "federation id"), check_name(name)


def fingerprint(certificate: x509.Certificate) -> str:
    """``sha256:<hex>`` over the DER encoding of the whole certificate."""
    return "sha256:" + hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()


def check_fingerprint(value: str) -> str:
    if not isinstance(value, str) or not FINGERPRINT_PATTERN.match(value):
        raise PKIError(f"fingerprint {value!r} must be written sha256:<64 lowercase hex digits>")
    return value


def uri_sans(certificate: x509.Certificate | x509.CertificateSigningRequest) -> list[str]:
    """The URI subject alternative names of a certificate or request."""
    try:
        ext = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return list(ext.value.get_values_for_type(x509.UniformResourceIdentifier))


def certificate_identity(
    certificate: x509.Certificate | x509.CertificateSigningRequest,
) -> tuple[str, str]:
    """``(federation, name)`` of the single fedsilo URI SAN of ``certificate``."""
    uris = [u for u in uri_sans(certificate) if u.startswith(URI_PREFIX)]
    if len(uris) != 1:
        raise PKIError(
            f"a fedsilo certificate has exactly one fedsilo:// URI SAN, found {len(uris)}"
        )
    return parse_identity_uri(uris[0])
