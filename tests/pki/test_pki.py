"""The PKI: CA, requests, issuance, inspection, revocation."""

from __future__ import annotations

import datetime as dt
import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fedsilo.errors import PKIError
from fedsilo.pki import validate
from fedsilo.pki.ca import CA_KEY, CertificateAuthority, init_ca
from fedsilo.pki.files import load_csr
from fedsilo.pki.identity import Role, fingerprint
from fedsilo.pki.inspect import describe
from fedsilo.pki.request import create_request

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
FED = "hospital-net"


@pytest.fixture
def ca(tmp_path: Path) -> CertificateAuthority:
    init_ca(FED, tmp_path / "ca", NOW)
    return CertificateAuthority(tmp_path / "ca")


def issue(
    ca: CertificateAuthority, tmp: Path, name: str, role: Role = Role.SILO, **kw: object
) -> x509.Certificate:
    files = create_request(FED, name, role, tmp / name, **kw)  # type: ignore[arg-type]
    return ca.sign(load_csr(files.csr), NOW, 90)


def test_silo_certificate_carries_the_requested_identity_role_and_validity(
    ca: CertificateAuthority, tmp_path: Path
) -> None:
    cert = issue(ca, tmp_path, "st-marys")
    info = describe(cert)
    assert info.subject_alt_names == ["fedsilo://hospital-net/st-marys"]
    assert info.role == "silo" and info.name == "st-marys"
    assert info.fingerprint == fingerprint(cert)
    assert cert.not_valid_before_utc == NOW
    assert cert.not_valid_after_utc == NOW + dt.timedelta(days=90)
    assert validate.extended_key_usages(cert) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert not validate.is_ca(cert)
    validate.check_issued_by(cert, ca.certificate)


def test_a_member_certificate_signs_and_may_open_what_is_sealed_to_it(
    ca: CertificateAuthority, tmp_path: Path
) -> None:
    """Its key signs, and opens a key share a dealer sealed to it (ECDH): the critical
    key usage must allow both, or a relying party that enforces it would refuse."""
    usage = issue(ca, tmp_path, "st-marys").extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.key_agreement
    assert not usage.value.key_cert_sign


def test_aggregator_certificate_names_its_endpoints_and_server_usage(
    ca: CertificateAuthority, tmp_path: Path
) -> None:
    cert = issue(
        ca,
        tmp_path,
        "agg",
        Role.AGGREGATOR,
        dns_names=("agg.example.org",),
        ip_addresses=("127.0.0.1",),
    )
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["agg.example.org"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert validate.role_of(cert) is Role.AGGREGATOR


def test_private_keys_stay_in_their_directory_with_mode_0600(
    ca: CertificateAuthority, tmp_path: Path
) -> None:
    files = create_request(FED, "st-marys", Role.SILO, tmp_path / "st-marys")
    ca.sign(load_csr(files.csr), NOW)
    keys = sorted(
        p.relative_to(tmp_path) for p in tmp_path.rglob("*") if b"PRIVATE KEY" in _bytes(p)
    )
    assert keys == [Path("ca") / CA_KEY, Path("st-marys") / "st-marys.key"]
    for key in keys:
        assert stat.S_IMODE((tmp_path / key).stat().st_mode) == 0o600


def _bytes(p: Path) -> bytes:
    return p.read_bytes() if p.is_file() else b""


def test_an_existing_key_is_never_overwritten(ca: CertificateAuthority, tmp_path: Path) -> None:
    with pytest.raises(PKIError, match="already exists"):
        init_ca(FED, tmp_path / "ca", NOW)
    create_request(FED, "st-marys", Role.SILO, tmp_path / "st-marys")
    (tmp_path / "st-marys" / "st-marys.csr").unlink()
    with pytest.raises(PKIError, match="refusing to overwrite"):
        create_request(FED, "st-marys", Role.SILO, tmp_path / "st-marys")


def test_a_silo_request_with_endpoints_or_an_aggregator_without_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PKIError, match="silo names no"):
        create_request(FED, "s", Role.SILO, tmp_path / "s", dns_names=("x.org",))
    with pytest.raises(PKIError, match="aggregator must name"):
        create_request(FED, "a", Role.AGGREGATOR, tmp_path / "a")


def handmade_csr(
    name: str = "st-marys",
    federation: str = FED,
    eku: list[x509.ObjectIdentifier] | None = None,
    key: object = None,
) -> x509.CertificateSigningRequest:
    from cryptography.hazmat.primitives.asymmetric import ec

    private = key or ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(f"fedsilo://{federation}/{name}")]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage(eku or [ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    )
    return builder.sign(private, hashes.SHA256())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("csr", "message"),
    [
        (lambda: handmade_csr(federation="other-net"), "federation 'other-net'"),
        (lambda: handmade_csr(name="Bad_Name"), "name"),
        (lambda: handmade_csr(eku=[ExtendedKeyUsageOID.CODE_SIGNING]), "extended key usage"),
        (
            lambda: handmade_csr(
                eku=[ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
            ),
            "extended key usage",
        ),
        (lambda: handmade_csr(key=rsa.generate_private_key(65537, 2048)), "below 3072"),
    ],
    ids=["other-federation", "malformed-name", "wrong-eku", "two-roles", "weak-key"],
)
def test_a_malformed_request_is_refused(
    ca: CertificateAuthority, csr: object, message: str
) -> None:
    with pytest.raises(PKIError, match=message):
        ca.sign(csr(), NOW)  # type: ignore[operator]


def test_a_request_with_a_broken_signature_is_refused(ca: CertificateAuthority) -> None:
    pem = bytearray(handmade_csr().public_bytes(serialization.Encoding.DER))
    pem[-5] ^= 0x01
    with pytest.raises(PKIError, match="signature"):
        ca.sign(x509.load_der_x509_csr(bytes(pem)), NOW)


def test_validity_is_bounded(ca: CertificateAuthority) -> None:
    with pytest.raises(PKIError, match="between 1 and 825"):
        ca.sign(handmade_csr(), NOW, days=3650)


def test_revoked_serials_appear_on_a_signed_crl_with_next_update(
    ca: CertificateAuthority, tmp_path: Path
) -> None:
    cert = issue(ca, tmp_path, "st-marys")
    other = issue(ca, tmp_path, "city-general")
    ca.revoke(f"{cert.serial_number:X}", NOW)
    crl = ca.crl(NOW, days=7)
    validate.check_crl(crl, ca.certificate, NOW)
    assert crl.next_update_utc == NOW + dt.timedelta(days=7)
    with pytest.raises(PKIError, match="revoked"):
        validate.check_not_revoked(cert, crl)
    validate.check_not_revoked(other, crl)


def test_a_stale_crl_fails_closed(ca: CertificateAuthority) -> None:
    crl = ca.crl(NOW, days=7)
    with pytest.raises(PKIError, match="stale"):
        validate.check_crl(crl, ca.certificate, NOW + dt.timedelta(days=8))


def test_a_crl_from_another_ca_is_refused(ca: CertificateAuthority, tmp_path: Path) -> None:
    init_ca(FED, tmp_path / "rogue", NOW)
    rogue = CertificateAuthority(tmp_path / "rogue")
    with pytest.raises(PKIError, match="not signed by the federation CA"):
        validate.check_crl(rogue.crl(NOW), ca.certificate, NOW)


def test_revoking_a_serial_this_ca_never_issued_is_refused(ca: CertificateAuthority) -> None:
    with pytest.raises(PKIError, match="not issued by this CA"):
        ca.revoke("abcdef", NOW)
    with pytest.raises(PKIError, match="not hexadecimal"):
        ca.revoke("xyz", NOW)
