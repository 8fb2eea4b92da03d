"""`fedsilo certs ...`: the federation PKI."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from fedsilo.config.provision import DEV_WARNING
from fedsilo.pki.ca import (
    CRL_FILE,
    DEFAULT_CRL_DAYS,
    DEFAULT_LEAF_DAYS,
    CertificateAuthority,
    init_ca,
)
from fedsilo.pki.files import certificate_pem, crl_pem, load_certificate, load_csr, write_public
from fedsilo.pki.identity import Role, fingerprint
from fedsilo.pki.inspect import CertificateInfo, describe
from fedsilo.pki.request import create_request


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _init_ca(args: argparse.Namespace) -> int:
    cert = init_ca(args.federation, Path(args.out), _now())
    print(f"CA for {args.federation} created: {cert} ({fingerprint(load_certificate(cert))})")
    print(f"keep {Path(args.out) / 'ca.key'} offline; it signs every certificate of the federation")
    return 0


def _request(args: argparse.Namespace) -> int:
    files = create_request(
        args.federation, args.name, Role(args.role), Path(args.out), tuple(args.dns), tuple(args.ip)
    )
    print(f"private key: {files.key} (mode 0600, never leaves this directory)")
    print(f"request:     {files.csr} (send this file to the CA holder)")
    return 0


def _sign(args: argparse.Namespace) -> int:
    ca = CertificateAuthority(Path(args.ca))
    cert = ca.sign(load_csr(Path(args.csr)), _now(), args.days)
    write_public(Path(args.out), certificate_pem(cert))
    info = describe(cert)
    print(f"issued {args.out}: {info.role} {info.name}, serial {info.serial}, {info.fingerprint}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    serial = CertificateAuthority(Path(args.ca)).revoke(args.serial, _now())
    print(f"revoked serial {serial}; publish a new CRL: fedsilo certs crl --ca {args.ca}")
    return 0


def _crl(args: argparse.Namespace) -> int:
    ca = CertificateAuthority(Path(args.ca))
    crl = ca.crl(_now(), args.days)
    out = Path(args.out) if args.out else Path(args.ca) / CRL_FILE
    write_public(out, crl_pem(crl))
    print(f"CRL written to {out}; next update due {crl.next_update_utc:%Y-%m-%d %H:%M} UTC")
    return 0


def _inspect(args: argparse.Namespace) -> int:
    info = describe(load_certificate(Path(args.file)))
    if args.field:
        value = info.as_dict()[args.field]
        print(", ".join(value) if isinstance(value, list) else value)
    elif args.json:
        print(json.dumps(info.as_dict(), indent=2))
    else:
        print(info.as_text())
    return 0


def _provision(args: argparse.Namespace) -> int:
    print(f"warning: {DEV_WARNING}")
    from fedsilo.runtime.provisioning import provision_federation  # noqa: PLC0415  loads torch

    pinned = provision_federation(Path(args.config), Path(args.out), _now())
    print(f"provisioned {args.out}: CA in ca/, one directory per member, CRL in ca/crl.pem")
    print(f"pinned config: {pinned}")
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    certs = commands.add_parser("certs", help="the federation PKI").add_subparsers(
        dest="certs_command", required=True
    )
    p = certs.add_parser("init-ca", help="create the federation CA (keep it offline)")
    p.add_argument("--federation", required=True)
    p.add_argument("--out", required=True, help="CA directory to create")
    p.set_defaults(handler=_init_ca)

    p = certs.add_parser("request", help="make this institution's key and signing request")
    p.add_argument("--federation", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--dns", action="append", default=[], help="aggregator DNS name (repeatable)")
    p.add_argument("--ip", action="append", default=[], help="aggregator IP address (repeatable)")
    p.add_argument("--out", required=True, help="this institution's directory")
    p.set_defaults(handler=_request)

    p = certs.add_parser("sign", help="issue a certificate for a request (CA holder)")
    p.add_argument("csr")
    p.add_argument("--ca", required=True, help="CA directory")
    p.add_argument("--out", required=True, help="certificate file to write")
    p.add_argument("--days", type=int, default=DEFAULT_LEAF_DAYS)
    p.set_defaults(handler=_sign)

    p = certs.add_parser("revoke", help="revoke an issued certificate by serial (hex)")
    p.add_argument("serial")
    p.add_argument("--ca", required=True)
    p.set_defaults(handler=_revoke)

    p = certs.add_parser("crl", help="publish a CA-signed revocation list")
    p.add_argument("--ca", required=True)
    p.add_argument("--days", type=int, default=DEFAULT_CRL_DAYS, help="days until next update")
    p.add_argument("--out", help="CRL file (default: CA_DIR/crl.pem)")
    p.set_defaults(handler=_crl)

    p = certs.add_parser("inspect", help="show a certificate's name, role, SAN, fingerprint")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--field", choices=list(CertificateInfo.__dataclass_fields__), help="print one field"
    )
    p.set_defaults(handler=_inspect)

    p = certs.add_parser("provision", help="a whole local federation (development only)")
    p.add_argument("config")
    p.add_argument("--out", required=True)
    p.set_defaults(handler=_provision)
