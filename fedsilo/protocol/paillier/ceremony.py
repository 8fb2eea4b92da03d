"""The threshold Paillier key ceremony, as a pure recipe: a dealt key in, what the
federation keeps out.

A named, trusted dealer (never the aggregator: an auditor rule) deals a ``t``-of-``n``
key (:func:`fedsilo.crypto.paillier.deal`). :func:`hold_ceremony` turns the deal into
the three things the federation keeps:

* the **public key section** of the config (``scheme.public_key``: epoch, ``N``, ``v``,
  the ``v_i`` and the obfuscator root ``h``, as lowercase hex), which the config digest,
  and so every endorsement, covers;
* each silo's **sealed share**: its ``s_i`` sealed to its certificate key
  (:func:`fedsilo.crypto.signatures.seal_to`) under a label that names the federation,
  the key's epoch and the silo's roster index, so it opens only for that silo, in that
  federation, for that key (:func:`open_key_share`, which also checks the share against
  its verification key);
* the **ceremony record**: canonical JSON naming the federation, the epoch, the digest
  of the public key section, each silo's name, certificate fingerprint and the digest of
  its sealed share, the dealer's name and certificate fingerprint, the time, and the
  dealer's statement that it keeps no secret afterwards, signed with the dealer's
  certificate key (:func:`verify_ceremony_record`).

Nothing here does I/O or reads a clock: the caller passes the time and writes the files.
The dealer's process should end after the ceremony: Python cannot wipe integers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fedsilo.crypto.entropy import Entropy
from fedsilo.crypto.paillier import (
    DealtKey,
    KeyShare,
    PaillierPublicKey,
    ThresholdKey,
    check_key_share,
)
from fedsilo.crypto.signatures import IdentityKey, VerifyingKey, seal_to
from fedsilo.errors import ConfigError, CryptoError, DecryptionError, SignatureError
from fedsilo.protocol import strict_json

RECORD_VERSION = "fedsilo/paillier/ceremony/v1"
_RECORD_LABEL = "fedsilo/paillier/ceremony-record/v1"
_SHARE_LABEL = "fedsilo/paillier/key-share/v1"
_SHARE_VERSION = "fedsilo/paillier/key-share/v1"
ERASED = "the dealer erased p, q, M, d and the sharing polynomial and keeps no share"
_PUBLIC_KEYS = frozenset({"epoch", "n", "v", "verification_keys", "obfuscator_root"})
_RECORD_KEYS = frozenset(
    {"version", "federation", "epoch", "public_key_sha256", "silos", "dealer", "dealt_at", "erased"}
)


@dataclass(frozen=True)
class CeremonyMember:
    """A party of the ceremony: its roster name and its certificate's public key."""

    name: str
    key: VerifyingKey


@dataclass(frozen=True)
class Ceremony:
    """What a ceremony leaves: the config's public key section, each silo's sealed share
    (by name) and the dealer's signed record."""

    public_key: dict[str, Any]
    sealed_shares: dict[str, bytes] = field(repr=False)
    record: bytes


def _hex(value: int) -> str:
    return format(value, "x")


def public_key_section(key: ThresholdKey, epoch: int) -> dict[str, Any]:
    """``scheme.public_key`` for ``key`` at ``epoch`` (hex: the config digest's canonical
    JSON refuses integers this large)."""
    return {
        "epoch": epoch,
        "n": _hex(key.public.n),
        "v": _hex(key.v),
        "verification_keys": [_hex(v) for v in key.verification_keys],
        "obfuscator_root": _hex(key.obfuscator_root),
    }


def public_key_sha256(section: Mapping[str, Any]) -> str:
    """The digest the ceremony record names: SHA-256 of the section's canonical JSON."""
    return hashlib.sha256(_canonical(dict(section))).hexdigest()


def threshold_key_of(section: Mapping[str, Any], *, threshold: int, silos: int) -> ThresholdKey:
    """The :class:`ThresholdKey` of a ``scheme.public_key`` section; a one-line
    :class:`ConfigError` naming the key path for anything malformed or degenerate."""
    where = "scheme.public_key"
    if not isinstance(section, Mapping) or set(section) != _PUBLIC_KEYS:
        raise ConfigError(f"{where}: expected exactly {', '.join(sorted(_PUBLIC_KEYS))}")

    def number(value: object, path: str) -> int:
        if not isinstance(value, str) or not value or value != value.lower():
            raise ConfigError(f"{where}.{path}: expected lowercase hex")
        try:
            return int(value, 16)
        except ValueError:
            raise ConfigError(f"{where}.{path}: expected lowercase hex") from None

    keys = section["verification_keys"]
    if not isinstance(keys, list) or len(keys) != silos:
        raise ConfigError(f"{where}.verification_keys: expected one per silo ({silos})")
    try:
        return ThresholdKey(
            public=PaillierPublicKey(number(section["n"], "n")),
            v=number(section["v"], "v"),
            verification_keys=tuple(
                number(v, f"verification_keys[{i}]") for i, v in enumerate(keys)
            ),
            threshold=threshold,
            silos=silos,
            obfuscator_root=number(section["obfuscator_root"], "obfuscator_root"),
        )
    except CryptoError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def hold_ceremony(
    dealt: DealtKey,
    *,
    federation: str,
    epoch: int,
    silos: Sequence[CeremonyMember],
    dealer: str,
    dealer_identity: IdentityKey,
    entropy: Entropy,
    now: dt.datetime,
) -> Ceremony:
    """Seal each share of ``dealt`` to its silo (``silos`` in roster order: share ``i``
    goes to ``silos[i - 1]``) and sign the record as ``dealer``."""
    if len(silos) != dealt.key.silos:
        raise ConfigError(f"a key for {dealt.key.silos} silos cannot be dealt to {len(silos)}")
    section = public_key_section(dealt.key, epoch)
    sealed = {
        member.name: seal_to(
            member.key,
            _share_json(share),
            _SHARE_LABEL,
            federation,
            epoch,
            share.index,
            entropy=entropy,
        )
        for member, share in zip(silos, dealt.shares, strict=True)
    }
    body = {
        "version": RECORD_VERSION,
        "federation": federation,
        "epoch": epoch,
        "public_key_sha256": public_key_sha256(section),
        "silos": [
            {
                "name": m.name,
                "certificate": m.key.fingerprint(),
                "sealed_share_sha256": hashlib.sha256(sealed[m.name]).hexdigest(),
            }
            for m in silos
        ],
        "dealer": {"name": dealer, "certificate": dealer_identity.verifying_key.fingerprint()},
        "dealt_at": now.astimezone(dt.UTC).isoformat(),
        "erased": ERASED,
    }
    signature = dealer_identity.sign(_RECORD_LABEL, _canonical(body))
    record = json.dumps({"record": body, "signature": signature.hex()}, sort_keys=True)
    return Ceremony(section, sealed, record.encode())


def verify_ceremony_record(
    data: bytes,
    *,
    dealer_key: VerifyingKey,
    public_key: Mapping[str, Any],
    silos: Sequence[CeremonyMember],
) -> dict[str, object]:
    """The ceremony record's body, once its dealer's signature verifies and it names this
    public key section and these silos' certificates; raises :class:`ConfigError` (or
    :class:`SignatureError`) saying what does not match."""
    document = strict_json.load_object(data.decode("utf-8", errors="replace"))
    strict_json.exact_keys(document, frozenset({"record", "signature"}), "the ceremony record")
    body = strict_json.json_object(document["record"], "record")
    strict_json.exact_keys(body, _RECORD_KEYS, "record")
    strict_json.require_version(body, "version", RECORD_VERSION)
    signature = strict_json.hex_bytes(document["signature"], "signature")
    dealer = strict_json.json_object(body["dealer"], "record.dealer")
    if dealer.get("certificate") != dealer_key.fingerprint():
        raise ConfigError("the ceremony record names another dealer certificate")
    try:
        dealer_key.verify(signature, _RECORD_LABEL, _canonical(body))
    except SignatureError as exc:
        raise SignatureError("the ceremony record's dealer signature does not verify") from exc
    if body["public_key_sha256"] != public_key_sha256(public_key):
        raise ConfigError("the ceremony record is of another public key than the config's")
    named = strict_json.json_list(body["silos"], "record.silos", "silos")
    expected = [(m.name, m.key.fingerprint()) for m in silos]
    got = [
        (entry.get("name"), entry.get("certificate"))
        for entry in (strict_json.json_object(e, "record.silos[]") for e in named)
    ]
    if got != expected:
        raise ConfigError("the ceremony record dealt to other silos or certificates")
    return body


def open_key_share(
    sealed: bytes,
    *,
    identity: IdentityKey,
    federation: str,
    key: ThresholdKey,
    epoch: int,
    index: int,
) -> KeyShare:
    """Silo ``index``'s share from its sealed file, checked against its verification key;
    a one-line :class:`ConfigError` for anything else."""
    try:
        opened = identity.open_sealed(sealed, _SHARE_LABEL, federation, epoch, index)
    except DecryptionError:
        raise ConfigError(
            "the Paillier key share is not sealed to this silo's certificate for this "
            f"federation, key epoch {epoch} and roster index {index}; ask the dealer for "
            "this silo's share"
        ) from None
    try:
        data = strict_json.load_object(opened.decode("utf-8"))
        strict_json.exact_keys(data, frozenset({"version", "index", "share"}), "key share")
        strict_json.require_version(data, "version", _SHARE_VERSION)
        if data["index"] != index:
            raise ConfigError(f"the key share is silo {data['index']!r}'s, not silo {index}'s")
        value = data["share"]
        if not isinstance(value, str):
            raise ConfigError("the key share's value is not hex")
        share = KeyShare(index, int(value, 16))
        check_key_share(key, share)
    except (UnicodeDecodeError, ValueError, CryptoError) as exc:
        raise ConfigError(f"the Paillier key share does not belong to this key ({exc})") from exc
    return share


def _share_json(share: KeyShare) -> bytes:
    return _canonical({"version": _SHARE_VERSION, "index": share.index, "share": _hex(share.value)})


def _canonical(value: object) -> bytes:
    """Sorted keys, no whitespace: for these ASCII strings, small integers and lists the
    same bytes as the config digest's JSON canonicalization."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
