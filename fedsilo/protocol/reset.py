"""Epoch resets: the one audited way past a round that can never be unmasked.

Theory of operation
-------------------
A round that reached unmasking is never re-run. Re-running it is exactly the
differencing attack: two sums of one round over two survivor sets differ by
the updates of the silos in one set and not the other. So the silo ledger
(:mod:`fedsilo.protocol.ledger`) lets each silo reveal in one session per
round, ever, and the aggregator finishes a round from its journals. If fewer
than ``t`` good unmasking responses can ever be had (silos lost their session
secrets, or the operators refuse to continue a suspicious session), the round
fails and the federation halts, naming the round.

The only way on is an **epoch reset**: a :class:`ResetRecord` naming the
failed round ``r`` and the state to resume from, the chain head
``H_{r-1}`` (which commits to ``model_r`` and the optimizer state; ``H_0`` is
the config digest). It takes effect only when

* it is for this federation and this config digest;
* ``resume_round == failed_round - 1 >= 0`` and ``resume_head`` is 32 bytes
  (and, for ``resume_round == 0``, the config digest itself);
* ``1 <= reset_index <= max_resets`` (a config key, default 1, in the digest
  every member endorsed): ``reset_index`` is 1 for the federation's first
  reset and grows by one with each;
* at least ``t = scheme.threshold`` distinct roster silos signed it, each
  operator with the identity key of its silo's certificate. A signature that
  does not verify is refused naming its silo, never skipped.

Operators sign :func:`reset_body`, ``encode("fedsilo/v1/epoch-reset",
federation, config_digest, reset_index, failed_round, resume_round,
resume_head)``: every field but the signatures. ``reset_index`` is signed, so
a signature for one reset never counts for another, even of the same round.
:func:`reset_digest` (SHA-256 of the body) names a reset in each silo's
ledger, which applies it once, in order: ``RoundLedger.apply_reset`` refuses a
reset for another round or head, out of order, or already applied, and then
drops the round's session records (keeping every session id ever seen, so no
id is reused).

**Each reset is one more differencing sample.** After a reset the aggregator
may run the failed round again, on the same model, with fresh sessions and
possibly another survivor set; if the first run's sum had been revealed to
it, the two sums differ by the updates of the silos in one run and not the
other. That is why a reset needs ``t`` operators (the same threshold that
guards unmasking, so colluders alone cannot reach it), why ``max_resets``
bounds how many a federation will ever accept, and why the auditor flags
every reset record it sees.

How the parties use it: the aggregator host proposes the record from its
state, ``t`` or more operators each check its terms
(:func:`verify_reset_terms`) and sign it (:func:`sign_reset`), the host
installs it after :func:`verify_reset`, and every silo, before admitting a
session, runs :func:`apply_reset_records` over the records the aggregator
serves: it verifies each against its own config and roster and applies it
to its ledger. A silo never applies a reset on the aggregator's word alone.

The serialized record (:meth:`ResetRecord.to_json`) is versioned JSON,
``"version": "fedsilo/epoch-reset/v1"``, bytes as lowercase hex; anything
malformed is refused with a one-line :class:`~fedsilo.errors.ConfigError`
naming the key. This module is pure: no files, no clock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from hmac import compare_digest

from fedsilo.crypto.encoding import Field, encode
from fedsilo.crypto.signatures import IdentityKey
from fedsilo.errors import ConfigError, ResetRefusedError, RosterError, SignatureError
from fedsilo.protocol.chain import HEAD_BYTES
from fedsilo.protocol.ledger import RoundLedger
from fedsilo.protocol.roster import Roster, SiloEntry
from fedsilo.protocol.strict_json import (
    exact_keys,
    hex_bytes,
    json_list,
    json_object,
    load_object,
    natural,
    require_version,
)

RESET_LABEL = "fedsilo/v1/epoch-reset"
VERSION = "fedsilo/epoch-reset/v1"

_RECORD_KEYS = frozenset(
    {
        "version",
        "federation",
        "config_digest",
        "reset_index",
        "failed_round",
        "resume_round",
        "resume_head",
        "signatures",
    }
)
_SIGNATURE_KEYS = frozenset({"silo", "signature"})


def _short(value: bytes) -> str:
    return f"{value.hex()[:16]}…"


@dataclass(frozen=True)
class OperatorSignature:
    """One silo operator's signature over :func:`reset_body`."""

    silo: int
    """The signer's roster index (1..n)."""
    signature: bytes


@dataclass(frozen=True)
class ResetRecord:
    """An epoch reset: run ``failed_round`` again from ``H_{resume_round}``."""

    federation: str
    config_digest: bytes
    reset_index: int
    """1 for the first reset of this federation, then 2, ..."""
    failed_round: int
    resume_round: int
    """``failed_round - 1``."""
    resume_head: bytes
    """``H_{resume_round}``: commits to ``model_{failed_round}`` and the optimizer state."""
    signatures: tuple[OperatorSignature, ...] = ()
    """Sorted by silo index."""

    @classmethod
    def propose(
        cls,
        federation: str,
        config_digest: bytes,
        reset_index: int,
        failed_round: int,
        resume_head: bytes,
    ) -> ResetRecord:
        """The unsigned record for ``failed_round``, resuming from ``failed_round - 1``."""
        return cls(
            federation,
            bytes(config_digest),
            reset_index,
            failed_round,
            failed_round - 1,
            bytes(resume_head),
        )

    def body(self) -> bytes:
        """:func:`reset_body`: what every operator signs."""
        return reset_body(self)

    def digest(self) -> bytes:
        """:func:`reset_digest`: the name of this reset in a silo's ledger."""
        return reset_digest(self)

    @property
    def signers(self) -> tuple[int, ...]:
        """The roster indices that signed, in order."""
        return tuple(s.silo for s in self.signatures)

    def to_json(self) -> str:
        """The versioned JSON form (bytes as lowercase hex), for operators to pass around."""
        return json.dumps(
            {
                "version": VERSION,
                "federation": self.federation,
                "config_digest": self.config_digest.hex(),
                "reset_index": self.reset_index,
                "failed_round": self.failed_round,
                "resume_round": self.resume_round,
                "resume_head": self.resume_head.hex(),
                "signatures": [
                    {"silo": s.silo, "signature": s.signature.hex()} for s in self.signatures
                ],
            },
            indent=2,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> ResetRecord:
        """Parse :meth:`to_json` output; anything else raises a one-line ConfigError."""
        data = load_object(text)
        require_version(data, "version", VERSION)
        exact_keys(data, _RECORD_KEYS, "the reset record")
        federation = data["federation"]
        if not isinstance(federation, str) or not federation or not federation.isprintable():
            raise ConfigError("federation: expected a non-empty printable string")
        try:
            federation.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ConfigError("federation: not valid Unicode text") from exc
        signatures = json_list(data["signatures"], "signatures", "signatures")
        return cls(
            federation=federation,
            config_digest=hex_bytes(data["config_digest"], "config_digest"),
            reset_index=natural(data["reset_index"], "reset_index"),
            failed_round=natural(data["failed_round"], "failed_round"),
            resume_round=natural(data["resume_round"], "resume_round"),
            resume_head=hex_bytes(data["resume_head"], "resume_head"),
            signatures=tuple(
                _signature(value, f"signatures[{i}]") for i, value in enumerate(signatures)
            ),
        )


def _signature(value: object, where: str) -> OperatorSignature:
    value = json_object(value, where)
    exact_keys(value, _SIGNATURE_KEYS, where)
    return OperatorSignature(
        silo=natural(value["silo"], f"{where}.silo"),
        signature=hex_bytes(value["signature"], f"{where}.signature"),
    )


def _body_fields(record: ResetRecord) -> tuple[Field, ...]:
    return (
        record.federation,
        record.config_digest,
        record.reset_index,
        record.failed_round,
        record.resume_round,
        record.resume_head,
    )


def reset_body(record: ResetRecord) -> bytes:
    """The exact bytes every operator signs: the label and every field but the signatures."""
    return encode(RESET_LABEL, *_body_fields(record))


def reset_digest(record: ResetRecord) -> bytes:
    """SHA-256 of :func:`reset_body`: the name of this reset in a silo's ledger."""
    return hashlib.sha256(reset_body(record)).digest()


def sign_reset(record: ResetRecord, identity: IdentityKey, silo_index: int) -> ResetRecord:
    """``record`` with one more signature, by the operator of roster silo ``silo_index``."""
    if isinstance(silo_index, bool) or not isinstance(silo_index, int) or silo_index < 1:
        raise ConfigError(f"a roster index is 1..n, got {silo_index!r}")
    if silo_index in record.signers:
        raise ResetRefusedError(
            f"silo {silo_index} already signed this reset of round {record.failed_round}: "
            "each operator signs once"
        )
    signature = OperatorSignature(silo_index, identity.sign(RESET_LABEL, *_body_fields(record)))
    ordered = sorted((*record.signatures, signature), key=lambda s: s.silo)
    return replace(record, signatures=tuple(ordered))


def verify_operator_signature(
    record: ResetRecord, roster: Roster, signature: OperatorSignature
) -> SiloEntry:
    """The roster entry that made ``signature``; raises ResetRefusedError naming the silo."""
    try:
        entry = roster.entry(signature.silo)
    except RosterError as exc:
        raise ResetRefusedError(
            f"a signature on the reset of round {record.failed_round} names silo "
            f"{signature.silo}, which is not on the roster"
        ) from exc
    try:
        entry.verifying_key.verify(signature.signature, RESET_LABEL, *_body_fields(record))
    except SignatureError as exc:
        raise ResetRefusedError(
            f"the signature of silo {entry.index} ({entry.name}) does not verify over this "
            f"reset of round {record.failed_round}: it signed another record, or not at all"
        ) from exc
    return entry


def verify_reset(
    record: ResetRecord,
    roster: Roster,
    threshold: int,
    max_resets: int,
    federation: str,
    config_digest: bytes,
) -> None:
    """Raise :class:`~fedsilo.errors.ResetRefusedError` unless ``record`` may take effect.

    See the module doc for the rules. ``threshold`` is ``scheme.threshold`` and
    ``max_resets`` the config's ``max_resets``; ``federation`` and ``config_digest``
    are this party's own. Passing returns nothing: the record is then safe to
    install (aggregator) or to apply to the silo ledger."""
    if threshold < 1:
        raise ConfigError(f"threshold must be >= 1, got {threshold}")
    verify_reset_terms(record, max_resets, federation, config_digest)
    seen: dict[int, str] = {}
    for signature in record.signatures:
        if signature.silo in seen:
            raise ResetRefusedError(
                f"silo {signature.silo} ({seen[signature.silo]}) signed the reset of round "
                f"{record.failed_round} twice: each operator counts once"
            )
        seen[signature.silo] = verify_operator_signature(record, roster, signature).name
    if len(seen) < threshold:
        names = ", ".join(seen.values()) or "nobody"
        raise ResetRefusedError(
            f"the reset of round {record.failed_round} is signed by {len(seen)} silo "
            f"operator(s) ({names}); it takes effect only when t = {threshold} have signed"
        )


def verify_reset_terms(
    record: ResetRecord, max_resets: int, federation: str, config_digest: bytes
) -> None:
    """Every rule of :func:`verify_reset` but the signatures; raises ResetRefusedError.

    An operator checks these before signing, so no signature is ever made on a
    record that could not take effect."""
    if max_resets < 0:
        raise ConfigError(f"max_resets must be >= 0, got {max_resets}")
    _require_this_federation(record, federation, config_digest)
    _require_resume_point(record)
    _require_within_max(record, max_resets)


def _require_this_federation(record: ResetRecord, federation: str, config_digest: bytes) -> None:
    if record.federation != federation:
        raise ResetRefusedError(
            f"the reset is for federation {record.federation!r}, this is {federation!r}"
        )
    if not compare_digest(record.config_digest, bytes(config_digest)):
        raise ResetRefusedError(
            f"the reset was made under config digest {_short(record.config_digest)}, this "
            f"config digests to {_short(bytes(config_digest))}: it belongs to another config"
        )


def _require_resume_point(record: ResetRecord) -> None:
    if record.failed_round < 1 or record.resume_round != record.failed_round - 1:
        raise ResetRefusedError(
            f"the reset names failed round {record.failed_round} and resume round "
            f"{record.resume_round}: a reset resumes from the round just before the failed one"
        )
    if len(record.resume_head) != HEAD_BYTES:
        raise ResetRefusedError(
            f"resume_head is {len(record.resume_head)} bytes: a chain head is {HEAD_BYTES}"
        )
    if record.resume_round == 0 and not compare_digest(record.resume_head, record.config_digest):
        raise ResetRefusedError(
            "the reset resumes from round 0, whose chain head H_0 is the config digest, but "
            f"it names head {_short(record.resume_head)}"
        )


def _require_within_max(record: ResetRecord, max_resets: int) -> None:
    if max_resets == 0:
        raise ResetRefusedError(
            "max_resets is 0: this federation's config allows no epoch reset, so a failed "
            f"round {record.failed_round} ends it"
        )
    if not 1 <= record.reset_index <= max_resets:
        raise ResetRefusedError(
            f"this is reset {record.reset_index}, but the config allows resets 1 to "
            f"{max_resets} (max_resets): each reset is one more differencing sample"
        )


def apply_reset_records(
    ledger: RoundLedger,
    records: Iterable[ResetRecord],
    roster: Roster,
    threshold: int,
    max_resets: int,
    federation: str,
    config_digest: bytes,
) -> tuple[ResetRecord, ...]:
    """What a silo does with the resets the aggregator serves; returns those applied now.

    In index order, every record of the ledger's next round (``final_round + 1``)
    that the ledger has not applied yet is verified (:func:`verify_reset`, raising
    on any flaw) and applied (``RoundLedger.apply_reset``, one durable write each).
    A record already applied is skipped, and so is one of another round: an
    earlier round's reset was superseded when that round became final, and a
    later round's can only apply once the silo has caught up to it. A silo calls
    this before it admits a session, and, while catching up, again at each chain
    position before it accepts the next round, so it counts every reset at the
    position where it was made."""
    applied: list[ResetRecord] = []
    for record in sorted(records, key=lambda r: r.reset_index):
        record_digest = record.digest()
        if ledger.reset_applied(record_digest) or record.failed_round != ledger.final_round + 1:
            continue
        verify_reset(record, roster, threshold, max_resets, federation, config_digest)
        ledger.apply_reset(
            record_digest, record.reset_index, record.failed_round, record.resume_head
        )
        applied.append(record)
    return tuple(applied)
