"""An INSECURE test-only scheme with threshold Paillier's data flow, behind the seam.

It exists to prove the seam carries a scheme that is not masking: it must never protect
anything (the "public key" ``K`` in the config section decrypts every contribution).
What it shares with threshold Paillier is the data flow, and the keys: the config section
holds only the public ``K``; each silo's Shamir share ``k_i`` of it is its long-term
secret, read from its secret file (:data:`SECRET_FILE`: canonical JSON sealed to the
silo's certificate key, as a dealer seals Paillier key shares) through the seam's hook
and nowhere else. :func:`deal_shares` deals them for tests and :func:`sealed_shares`
seals them.


1. ``contribute`` (silos): each silo streams its "ciphertext" ``c_u = x_u + K·a_u mod P``
   (``P = 2^127 - 1``: 16-byte elements, wider than any word) and signs its digest;
2. ``decrypt`` (silos): the aggregator names the contributors with their signed digests
   and serves every contribution (``contributions``); each silo fetches them, checks each
   against its signed digest, sums them itself into ``C``, streams its partial
   decryption ``k_i·A`` (``k_i`` its Shamir share of ``K``, ``A = Σ a_u``) as a second
   vector and signs its digest, once per round (recorded in its ledger before it leaves);
3. ``release`` (silos): the aggregator combines ``t`` partials, serves the sum
   ``X = C - K·A`` (``result``) and the ``t`` partials it combined (``partials``), and
   relays their signed digests; each silo fetches both, checks every partial against its
   signed digest, combines them itself, refuses a ``result`` that is not ``C - K·A``, and
   acks the chain head it derives.

A session thus streams two vectors per silo and serves two vectors of other silos, as
threshold Paillier does (ciphertexts, then decryption shares).

Register it with :func:`fedsilo.testing.schemes.registered_test_scheme` (the test kit
must be enabled). Elements are Python integers: test vectors only.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fedsilo.crypto.entropy import Entropy
from fedsilo.crypto.prg import UIntArray
from fedsilo.crypto.quantize import Quantizer
from fedsilo.crypto.signatures import IdentityKey, VerifyingKey, seal_to
from fedsilo.errors import (
    ConfigError,
    ContextMismatchError,
    DecryptionError,
    FedsiloError,
    LocalProtocolError,
    ReleaseVerificationError,
    RemoteProtocolError,
    UnexpectedMessageError,
)
from fedsilo.protocol.answers import AnswerBook
from fedsilo.protocol.chain import ChainLink, aggregate_sha256, sign_ack, verify_ack
from fedsilo.protocol.fields import Reader
from fedsilo.protocol.ledger import RoundLedger
from fedsilo.protocol.messages import Ack, AggregateResult, Outgoing, SessionContext
from fedsilo.protocol.outputs import (
    RESULT_DOWNLOAD,
    Aborted,
    AggregatorOutput,
    Completed,
    Ending,
    Fetch,
    Serve,
    Upload,
)
from fedsilo.protocol.roster import Roster
from fedsilo.protocol.scheme import (
    RELEASE_STAGE,
    FederationFacts,
    Finding,
    Scheme,
    StageSpec,
)
from fedsilo.protocol.thresholds import dropout_findings, read_threshold, threshold_findings
from fedsilo.testing.dealing import DealtSecrets

KIND = "insecure-threshold"
P = (1 << 127) - 1
ELEMENT = 16  # bytes
CONTRIBUTE, DECRYPT = "contribute", "decrypt"
CONTRIBUTIONS, PARTIALS = "contributions", "partials"
_LABEL = "fedsilo/testing/insecure-threshold/v1"
# each silo's share of K, in its state directory (Scheme.secret_file)
SECRET_FILE = "insecure-threshold-share.json"  # noqa: S105 - a file name, not a secret
_SHARE_VERSION = "fedsilo/testing/insecure-threshold/share/v1"
_SHARE_SEAL_LABEL = "fedsilo/testing/insecure-threshold/sealed-share/v1"


class ToyStage(enum.Enum):
    """Where a silo's session stands: the stage whose message it awaits or answers."""

    CONTRIBUTE = CONTRIBUTE
    DECRYPT = DECRYPT
    RELEASE = RELEASE_STAGE.name


# --- the field and the key ----------------------------------------------------------------


def _ints(data: bytes | bytearray) -> list[int]:
    if len(data) % ELEMENT:
        raise RemoteProtocolError(f"{len(data)} bytes are no whole number of elements")
    return [int.from_bytes(data[i : i + ELEMENT], "little") for i in range(0, len(data), ELEMENT)]


def _bytes(values: Sequence[int]) -> bytes:
    return b"".join(v.to_bytes(ELEMENT, "little") for v in values)


def _pad(ctx: SessionContext, sender: int, length: int) -> list[int]:
    """``a_u``: public per-session randomness of silo ``sender``."""
    seed = hashlib.sha256(b"a" + ctx.session_id + sender.to_bytes(4, "big")).digest()
    return [
        int.from_bytes(hashlib.sha256(seed + j.to_bytes(8, "big")).digest()[:16], "big") % P
        for j in range(length)
    ]


def _lagrange_at_zero(indices: Sequence[int]) -> dict[int, int]:
    weights = {}
    for i in indices:
        num, den = 1, 1
        for j in indices:
            if j != i:
                num, den = num * j % P, den * (j - i) % P
        weights[i] = num * pow(den, -1, P) % P
    return weights


@dataclass(frozen=True)
class ToyShare:
    """Silo ``silo``'s Shamir share of ``K`` (degree ``t - 1``): its long-term secret."""

    silo: int
    share: int = field(repr=False)


def _element_hex(value: int) -> str:
    return value.to_bytes(ELEMENT, "big").hex()


def _element(text: Any) -> int:
    """A field element written as :func:`_element_hex` wrote it (ValueError otherwise)."""
    if not isinstance(text, str) or len(text) != 2 * ELEMENT:
        raise ValueError(f"must be {2 * ELEMENT} hex digits")
    value = int.from_bytes(bytes.fromhex(text), "big")
    if value >= P:
        raise ValueError("must be an element of GF(2^127 - 1)")
    return value


def share_file(silo: int, public_key: int, share: int) -> bytes:
    """Silo ``silo``'s secret file: canonical JSON naming the scheme, the silo and the
    public key the share belongs to (never a code-executing format)."""
    return _json(
        {
            "version": _SHARE_VERSION,
            "kind": KIND,
            "silo": silo,
            "public_key": _element_hex(public_key),
            "share": _element_hex(share),
        }
    )


def sealed_shares(
    deal: DealtSecrets, recipients: Mapping[int, VerifyingKey], entropy: Entropy
) -> DealtSecrets:
    """``deal`` with each silo's share sealed to its certificate key (by roster index)."""
    files = {
        i: seal_to(recipients[i], data, _SHARE_SEAL_LABEL, KIND, i, entropy=entropy)
        for i, data in deal.files.items()
    }
    return DealtSecrets(deal.section, files)


def open_share(data: bytes, *, index: int, identity: IdentityKey, public_key: int) -> ToyShare:
    """Silo ``index``'s share from its sealed secret file (see :func:`read_share`)."""
    try:
        opened = identity.open_sealed(data, _SHARE_SEAL_LABEL, KIND, index)
    except DecryptionError:
        raise ConfigError(
            f"{SECRET_FILE}: not sealed to this silo's certificate key (another silo's "
            "share, or one dealt before its certificate was renewed); deal its share again"
        ) from None
    return read_share(opened, index=index, public_key=public_key)


def read_share(data: bytes, *, index: int, public_key: int) -> ToyShare:
    """Silo ``index``'s share from its secret file; a one-line :class:`ConfigError`,
    naming the file, for anything else (another scheme's, another silo's, another key's,
    not a field element)."""

    def refuse(problem: str) -> ConfigError:
        return ConfigError(f"{SECRET_FILE}: {problem}; deal this silo's share again")

    try:
        m = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise refuse("not JSON") from None
    keys = {"version", "kind", "silo", "public_key", "share"}
    if not isinstance(m, dict) or set(m) != keys:
        raise refuse(f"not a key share (a JSON object of {', '.join(sorted(keys))})")
    if m["version"] != _SHARE_VERSION or m["kind"] != KIND:
        raise refuse(f"a {m['kind']!r} secret, not a {KIND} share")
    if isinstance(m["silo"], bool) or m["silo"] != index:
        raise refuse(f"the share of silo {m['silo']!r}, but this is silo {index}")
    try:
        key, share = _element(m["public_key"]), _element(m["share"])
    except ValueError as exc:
        raise refuse(f"its public key or share {exc}") from None
    if key != public_key:
        raise refuse("a share of another public key than the config's scheme.public_key")
    return ToyShare(index, share)


def deal_shares(silos: int, threshold: int, entropy: Entropy) -> DealtSecrets:
    """A fresh ``K`` (the section's ``public_key``) and each silo's share of ``K`` as the
    JSON of its secret file, not yet sealed (:func:`sealed_shares`), every coefficient
    drawn from ``entropy``."""
    if not 1 <= threshold <= silos:
        raise ConfigError(f"cannot deal {threshold}-of-{silos} shares")
    coefficients = [int.from_bytes(entropy.random_bytes(32), "big") % P for _ in range(threshold)]
    key = coefficients[0]
    files = {
        i: share_file(i, key, sum(a * pow(i, c, P) for c, a in enumerate(coefficients)) % P)
        for i in range(1, silos + 1)
    }
    return DealtSecrets({"public_key": _element_hex(key)}, files)


# --- config and params ----------------------------------------------------------------------


@dataclass(frozen=True)
class ToyQuantization:
    clip: float
    levels: int


@dataclass(frozen=True)
class ToySection:
    kind: str
    threshold: int
    colluders: int
    quantization: ToyQuantization
    # as written (hex): the config digest hashes the section, and canonical JSON has no
    # integers this wide; None: not set (the section cannot run)
    public_key: str | None

    @property
    def clip(self) -> float:
        return self.quantization.clip

    def quantizer(self) -> Quantizer:
        return Quantizer(self.quantization.clip, self.quantization.levels, 64)


@dataclass(frozen=True)
class ToyParams:
    silos: int
    threshold: int
    min_silos: int
    quantizer: Quantizer
    public_key: int

    @property
    def quorum(self) -> int:
        return max(self.threshold, self.min_silos)


# --- messages -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contribution:
    """A silo's signed digest of the contribution it streamed."""

    context: SessionContext
    sender: int
    digest: bytes
    signature: bytes


@dataclass(frozen=True)
class Contributors:
    """Who contributed, with each one's signed digest (opens ``decrypt``)."""

    context: SessionContext
    contributions: tuple[Contribution, ...]


@dataclass(frozen=True)
class Partial:
    """A silo's signed digest of the partial decryption it streamed, of the sum of the
    named contributions."""

    context: SessionContext
    sender: int
    contributors: tuple[int, ...]
    digest: bytes
    signature: bytes


@dataclass(frozen=True)
class Release:
    """The partials the aggregator combined (opens ``release``; the sum is a download)."""

    context: SessionContext
    partials: tuple[Partial, ...]


def _ctx_fields(ctx: SessionContext) -> list[bytes | str | int]:
    return [ctx.federation_id, ctx.config_digest, ctx.session_id, ctx.round, ctx.chain_head]


def _contribution_signed(c: Contribution) -> list[Any]:
    return ["contribution", *_ctx_fields(c.context), c.sender, c.digest]


def _partial_signed(p: Partial) -> list[Any]:
    return [
        "partial",
        *_ctx_fields(p.context),
        p.sender,
        list(p.contributors),
        p.digest,
    ]


# --- the wire (canonical JSON, hex for bytes) -----------------------------------------------


def _json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _load(body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RemoteProtocolError(f"a malformed {what} message") from exc


def _contribution_json(c: Contribution) -> dict[str, Any]:
    return {"sender": c.sender, "digest": c.digest.hex(), "signature": c.signature.hex()}


def _contribution(ctx: SessionContext, m: Any) -> Contribution:
    try:
        return Contribution(
            ctx, int(m["sender"]), bytes.fromhex(m["digest"]), bytes.fromhex(m["signature"])
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RemoteProtocolError("a malformed contribution") from exc


def _partial_json(p: Partial) -> dict[str, Any]:
    return {
        "sender": p.sender,
        "contributors": list(p.contributors),
        "digest": p.digest.hex(),
        "signature": p.signature.hex(),
    }


def _partial(ctx: SessionContext, m: Any) -> Partial:
    try:
        return Partial(
            ctx,
            int(m["sender"]),
            tuple(int(i) for i in m["contributors"]),
            bytes.fromhex(m["digest"]),
            bytes.fromhex(m["signature"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RemoteProtocolError("a malformed partial decryption") from exc


class ToyWire:
    """The scheme's bodies: canonical JSON (never a code-executing format)."""

    def silo_body(self, message: Any) -> tuple[str, int, bytes]:
        if isinstance(message, Contribution):
            return CONTRIBUTE, message.sender, _json(_contribution_json(message))
        if isinstance(message, Partial):
            return DECRYPT, message.sender, _json(_partial_json(message))
        if isinstance(message, Ack):
            body = {"sender": message.sender, "head": message.head.hex()}
            return (
                RELEASE_STAGE.name,
                message.sender,
                _json({**body, "signature": message.signature.hex()}),
            )
        raise TypeError(f"{KIND} sends no {type(message).__name__}")

    def silo_message(self, context: SessionContext, stage: str, sender: int, body: bytes) -> Any:
        m = _load(body, stage)
        decoded: Contribution | Partial | Ack
        if stage == CONTRIBUTE:
            decoded = _contribution(context, m)
        elif stage == DECRYPT:
            decoded = _partial(context, m)
        elif stage == RELEASE_STAGE.name:
            try:
                decoded = Ack(
                    context,
                    int(m["sender"]),
                    bytes.fromhex(m["head"]),
                    bytes.fromhex(m["signature"]),
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise RemoteProtocolError("a malformed ack") from exc
        else:
            raise RemoteProtocolError(f"{KIND} has no silo message for stage {stage!r}")
        if decoded.sender != sender:
            raise RemoteProtocolError(
                f"a {stage} message of silo {decoded.sender} sent as {sender}"
            )
        return decoded

    def aggregator_body(self, message: Any) -> tuple[str, bytes]:
        if isinstance(message, Contributors):
            return DECRYPT, _json([_contribution_json(c) for c in message.contributions])
        if isinstance(message, Release):
            return RELEASE_STAGE.name, _json([_partial_json(p) for p in message.partials])
        raise TypeError(f"{KIND} sends no {type(message).__name__}")

    def aggregator_message(self, context: SessionContext, stage: str, body: bytes) -> Any:
        items = _load(body, stage)
        if not isinstance(items, list):
            raise RemoteProtocolError(f"a malformed {stage} message")
        if stage == DECRYPT:
            return Contributors(context, tuple(_contribution(context, c) for c in items))
        if stage == RELEASE_STAGE.name:
            return Release(context, tuple(_partial(context, p) for p in items))
        raise RemoteProtocolError(f"{KIND} has no aggregator message for stage {stage!r}")

    def evidence_body(self, evidence: Any) -> bytes:
        raise LocalProtocolError(f"{KIND} keeps no evidence (no catch-up)")

    def evidence(self, body: bytes) -> Any:
        raise RemoteProtocolError(f"{KIND} keeps no evidence (no catch-up)")

    def dispute_evidence(self, context: SessionContext, messages: Mapping[str, Any]) -> Any:
        raise RemoteProtocolError(f"{KIND} keeps no disputes")


# --- the silo -------------------------------------------------------------------------------


class ToySiloSession:
    def __init__(
        self,
        params: ToyParams,
        *,
        context: SessionContext,
        roster: Roster,
        index: int,
        identity: IdentityKey,
        ledger: RoundLedger,
        protected: UIntArray,
        secret: ToyShare,
    ) -> None:
        if secret.silo != index:  # a share of another silo would decrypt nothing
            raise ConfigError(f"silo {index} was given silo {secret.silo}'s key share")
        ledger.admit(context.round, context.session_id, context.chain_head)  # refuses replays
        self._p, self._ctx, self._roster, self._index = params, context, roster, index
        self._identity, self._ledger, self._share = identity, ledger, secret.share
        pad = _pad(context, index, len(protected))
        key = params.public_key
        values = [int(x) for x in protected.tolist()]
        self._contribution = _bytes([(x + key * a) % P for x, a in zip(values, pad, strict=True)])
        self._length = len(protected)
        self._stage = CONTRIBUTE
        self._contributors: Contributors | None = None
        self._sum: list[int] | None = None
        self._partial: bytes | None = None  # the vector streamed at decrypt, once computed
        self._release: Release | None = None
        self._partials: bytes | None = None  # the t partials the release combined
        self._aggregate: AggregateResult | None = None
        self._acked = False

    @property
    def context(self) -> SessionContext:
        return self._ctx

    @property
    def state(self) -> ToyStage:
        return ToyStage(self._stage)

    @property
    def resumes_at(self) -> str | None:
        return None

    @property
    def survivors(self) -> tuple[int, ...]:
        c = self._contributors
        return () if c is None else tuple(x.sender for x in c.contributions)

    @property
    def aggregate(self) -> AggregateResult | None:
        return self._aggregate

    @property
    def verified(self) -> bool:
        return self._aggregate is not None and not self._acked

    def start(self) -> list[Any]:
        digest = hashlib.sha256(self._contribution).digest()
        unsigned = Contribution(self._ctx, self._index, digest, b"")
        signature = self._identity.sign(_LABEL, *_contribution_signed(unsigned))
        return [
            Upload(CONTRIBUTE, self._length, ELEMENT),
            Contribution(self._ctx, self._index, digest, signature),
        ]

    def vector_chunk(self, offset: int, count: int) -> bytes:
        # the vector of the last Upload: the contribution, then the partial decryption
        vector = self._contribution if self._partial is None else self._partial
        return vector[offset * ELEMENT : (offset + count) * ELEMENT]

    def receive(self, message: Any) -> list[Any]:
        if getattr(message, "context", None) != self._ctx:
            raise ContextMismatchError("the message belongs to another session")
        if isinstance(message, Contributors) and self._stage == CONTRIBUTE:
            senders = [c.sender for c in message.contributions]
            if len(set(senders)) != len(senders) or len(senders) < self._p.quorum:
                raise RemoteProtocolError("the contributor list is not a quorum of distinct silos")
            for c in message.contributions:
                key = self._roster.entry(c.sender).verifying_key
                key.verify(c.signature, _LABEL, *_contribution_signed(c))
            self._contributors, self._stage = message, DECRYPT
            return [Fetch(CONTRIBUTIONS, len(senders) * self._length * ELEMENT)]
        if isinstance(message, Release) and self._stage == DECRYPT and self._sum is not None:
            signers = [p.sender for p in message.partials]
            # the aggregator chooses the list, and so the size of the download it asks for:
            # bounded by the roster before anything is fetched
            if len(set(signers)) != len(signers) or not set(signers) <= set(self.survivors):
                raise ReleaseVerificationError(
                    "the release lists partials of no distinct survivors"
                )
            self._release, self._stage = message, RELEASE_STAGE.name
            size = len(message.partials) * self._length * ELEMENT
            return [Fetch(PARTIALS, size), Fetch(RESULT_DOWNLOAD, self._length * 8)]
        raise UnexpectedMessageError(f"{type(message).__name__} in stage {self._stage}")

    def fetched(self, name: str, data: bytes | bytearray) -> list[Any]:
        if name == CONTRIBUTIONS and self._contributors is not None and self._sum is None:
            return self._decrypt(bytes(data))
        if name == PARTIALS and self._release is not None and self._partials is None:
            self._partials = bytes(data)
            return []
        if name == RESULT_DOWNLOAD and self._partials is not None and self._aggregate is None:
            self._verify(bytes(data))
            return []
        raise LocalProtocolError(f"nothing of {name!r} was asked for")

    def _decrypt(self, data: bytes) -> list[Any]:
        assert self._contributors is not None
        size = self._length * ELEMENT
        total = [0] * self._length
        for k, c in enumerate(self._contributors.contributions):
            part = data[k * size : (k + 1) * size]
            if hashlib.sha256(part).digest() != c.digest:
                raise ReleaseVerificationError(
                    f"silo {c.sender}'s contribution is not what it signed"
                )
            total = [(s + v) % P for s, v in zip(total, _ints(part), strict=True)]
        self._sum = total
        contributors = self.survivors
        digests = [c.digest.hex() for c in self._contributors.contributions]
        view = hashlib.sha256(_json([list(contributors), digests])).digest()
        self._ledger.record_view(self._ctx.session_id, view)
        pads = self._pads(contributors)
        values = _bytes([self._share * a % P for a in pads])
        digest = hashlib.sha256(values).digest()
        unsigned = Partial(self._ctx, self._index, contributors, digest, b"")
        self._ledger.record_reveal(self._ctx.session_id, digest)
        signature = self._identity.sign(_LABEL, *_partial_signed(unsigned))
        self._partial = values
        return [
            Upload(DECRYPT, self._length, ELEMENT),
            Partial(self._ctx, self._index, contributors, digest, signature),
        ]

    def _pads(self, contributors: Sequence[int]) -> list[int]:
        pads = [0] * self._length
        for u in contributors:
            pads = [
                (s + a) % P for s, a in zip(pads, _pad(self._ctx, u, self._length), strict=True)
            ]
        return pads

    def _verify(self, data: bytes) -> None:
        assert self._release is not None and self._sum is not None
        assert self._partials is not None
        partials = self._release.partials
        signers = [p.sender for p in partials]
        if len(set(signers)) != len(signers) or len(signers) < self._p.threshold:
            raise ReleaseVerificationError("the release combines fewer than t distinct partials")
        size = self._length * ELEMENT
        weights = _lagrange_at_zero(signers)
        key_pads = [0] * self._length
        for k, p in enumerate(partials):
            if p.contributors != self.survivors:
                raise ReleaseVerificationError(f"silo {p.sender}'s partial is of another sum")
            self._roster.entry(p.sender).verifying_key.verify(
                p.signature, _LABEL, *_partial_signed(p)
            )
            values = self._partials[k * size : (k + 1) * size]
            if hashlib.sha256(values).digest() != p.digest:
                raise ReleaseVerificationError(f"silo {p.sender}'s partial is not what it signed")
            w = weights[p.sender]
            key_pads = [(s + w * v) % P for s, v in zip(key_pads, _ints(values), strict=True)]
        expected = [(c - k) % P for c, k in zip(self._sum, key_pads, strict=True)]
        if any(x >= 1 << 64 for x in expected):
            raise ReleaseVerificationError("the decrypted sum does not fit its words")
        total = np.array(expected, dtype=np.uint64)
        if data != total.astype("<u8").tobytes():
            raise ReleaseVerificationError("the served sum is not the sum the partials decrypt")
        survivors = self.survivors
        dropped = tuple(i for i in range(1, self._roster.size + 1) if i not in survivors)
        self._aggregate = AggregateResult(self._ctx, survivors, dropped, total)

    def pending(self) -> list[Any]:
        return []

    def snapshot(self) -> dict[str, Any]:
        raise LocalProtocolError(f"{KIND} sessions are not resumable")

    def acknowledge(self, link: ChainLink) -> list[Any]:
        result = self._aggregate
        if result is None or self._acked:
            raise LocalProtocolError("acknowledge() follows a verified release")
        if link.aggregate_sha256 != aggregate_sha256(result.total):
            raise LocalProtocolError("the chain link does not describe this verified round")
        self._ledger.finalize(self._ctx.round, link.head)
        self._acked = True
        ctx = self._ctx
        signature = sign_ack(self._identity, ctx.federation_id, ctx.round, link.head, self._index)
        return [Ack(ctx, self._index, link.head, signature)]


# --- the aggregator --------------------------------------------------------------------------


class ToyAggregatorSession:
    def __init__(
        self, params: ToyParams, *, context: SessionContext, roster: Roster, vector_length: int
    ) -> None:
        self._p, self._ctx, self._roster, self._length = params, context, roster, vector_length
        self._stage: str | None = CONTRIBUTE
        # each silo's streamed vector of each streaming stage, and whose streams ended whole
        self._streams: dict[str, dict[int, bytearray]] = {CONTRIBUTE: {}, DECRYPT: {}}
        self._complete: dict[str, set[int]] = {CONTRIBUTE: set(), DECRYPT: set()}
        self._digests: dict[int, Contribution] = {}
        self._partials: dict[int, Partial] = {}
        self._acks: dict[int, bytes] = {}
        self._book = AnswerBook(roster.name)
        self._contributors: tuple[int, ...] = ()
        self._sum: list[int] = []
        self._result: AggregateResult | None = None
        self._ending: Ending | None = None

    @property
    def stage(self) -> str | None:
        return self._stage

    @property
    def waiting_for(self) -> frozenset[int]:
        if self._stage is None:  # ended: nobody is waited for
            return frozenset()
        if self._stage == CONTRIBUTE:
            everyone = set(range(1, self._roster.size + 1))
            return frozenset(everyone - (set(self._digests) & self._complete[CONTRIBUTE]))
        if self._stage == DECRYPT:
            answered = set(self._partials) & self._complete[DECRYPT]
            return frozenset(set(self._contributors) - answered)
        return frozenset(set(self._contributors) - set(self._acks))

    @property
    def ending(self) -> Ending | None:
        return self._ending

    def received(self, sender: int) -> int:
        """Elements of ``sender``'s vector of the open stage taken so far."""
        streams = self._streams.get(self._stage or "", {})
        return len(streams.get(sender, b"")) // ELEMENT

    def _check(self, message: Any, stage: str) -> None:
        if self._stage != stage:
            raise UnexpectedMessageError(f"a {stage} message in stage {self._stage}")

    def receive(self, message: Any) -> Sequence[AggregatorOutput]:
        if not isinstance(message, (Contribution, Partial, Ack)):
            raise UnexpectedMessageError(f"{type(message).__name__} is no {KIND} message")
        if message.context != self._ctx:
            raise ContextMismatchError("the message belongs to another session")
        if self._book.is_resend(message):  # even once its stage has closed
            return []
        key = self._roster.entry(message.sender).verifying_key
        if isinstance(message, Contribution):
            self._check(message, CONTRIBUTE)
            key.verify(message.signature, _LABEL, *_contribution_signed(message))
            self._digests[message.sender] = message
        elif isinstance(message, Partial):
            self._check(message, DECRYPT)
            if (
                message.sender not in self._contributors
                or message.contributors != self._contributors
            ):
                raise RemoteProtocolError(f"silo {message.sender}'s partial is of another sum")
            key.verify(message.signature, _LABEL, *_partial_signed(message))
            self._partials[message.sender] = message
        else:
            self._check(message, RELEASE_STAGE.name)
            ctx = self._ctx
            verify_ack(
                key, ctx.federation_id, ctx.round, message.head, message.sender, message.signature
            )
            self._acks[message.sender] = message.head
        outputs = self._advance() if not self.waiting_for else []
        self._book.take(message)  # once the step it completes went through
        return outputs

    def receive_chunk(
        self,
        context: SessionContext,
        stage: str,
        sender: int,
        offset: int,
        total_length: int,
        data: bytes,
    ) -> Sequence[AggregatorOutput]:
        if context != self._ctx or stage not in self._streams:
            raise ContextMismatchError("the chunk belongs to another session or stage")
        if self._stage != stage or total_length != self._length:
            raise RemoteProtocolError(f"a {stage} vector of the wrong length, or out of stage")
        if stage == DECRYPT and sender not in self._contributors:
            raise RemoteProtocolError(f"silo {sender} decrypts a sum it is not part of")
        stream = self._streams[stage].setdefault(sender, bytearray())
        if offset * ELEMENT != len(stream) or not data or len(data) % ELEMENT:
            raise RemoteProtocolError(f"the chunk at {offset} does not continue silo {sender}'s")
        if len(stream) + len(data) > self._length * ELEMENT:  # never more than declared
            raise RemoteProtocolError(f"silo {sender}'s {stage} vector runs past its length")
        stream += data
        return []

    def end_of_stream(self, sender: int) -> None:
        if self._stage not in self._streams:
            return
        streams = self._streams[self._stage]
        if len(streams.get(sender, b"")) == self._length * ELEMENT:
            self._complete[self._stage].add(sender)

    def close_stage(self) -> Sequence[AggregatorOutput]:
        return self._advance()

    def abandon(self, reason: FedsiloError) -> None:
        self._abort(reason)

    def _abort(self, error: FedsiloError) -> list[AggregatorOutput]:
        self._stage, self._ending = None, Aborted(error)
        return []

    def _whole(self, stage: str, signed: Mapping[int, Contribution | Partial]) -> tuple[int, ...]:
        """The silos whose vector of ``stage`` arrived whole and is the one they signed."""
        streams, complete = self._streams[stage], self._complete[stage]
        return tuple(
            i
            for i in sorted(signed)
            if i in complete and hashlib.sha256(bytes(streams[i])).digest() == signed[i].digest
        )

    def _advance(self) -> list[AggregatorOutput]:
        if self._stage == CONTRIBUTE:
            contributors = self._whole(CONTRIBUTE, self._digests)
            if len(contributors) < self._p.quorum:
                return self._abort(
                    LocalProtocolError(f"only {len(contributors)} silos contributed")
                )
            self._contributors, self._stage = contributors, DECRYPT
            listed = Contributors(self._ctx, tuple(self._digests[i] for i in contributors))
            streams = self._streams[CONTRIBUTE]
            data = b"".join(bytes(streams[i]) for i in contributors)
            total = [0] * self._length
            for i in contributors:
                total = [(s + v) % P for s, v in zip(total, _ints(streams[i]), strict=True)]
            self._sum = total
            return [Serve(CONTRIBUTIONS, data), *(Outgoing(i, listed) for i in contributors)]
        if self._stage == DECRYPT:
            signers = self._whole(DECRYPT, self._partials)[: self._p.threshold]
            if len(signers) < self._p.threshold:
                return self._abort(LocalProtocolError(f"only {len(signers)} partials came in"))
            streams = self._streams[DECRYPT]
            weights = _lagrange_at_zero(signers)
            key_pads = [0] * self._length
            for i in signers:
                w = weights[i]
                values = _ints(streams[i])
                key_pads = [(s + w * v) % P for s, v in zip(key_pads, values, strict=True)]
            words = [(c - k) % P for c, k in zip(self._sum, key_pads, strict=True)]
            if any(x >= 1 << 64 for x in words):  # the toy has no proofs: a silo lied
                return self._abort(LocalProtocolError("the partials decrypt to no sum of words"))
            released = np.array(words, dtype=np.uint64)
            dropped = tuple(
                i for i in range(1, self._roster.size + 1) if i not in self._contributors
            )
            self._result = AggregateResult(self._ctx, self._contributors, dropped, released)
            self._stage = RELEASE_STAGE.name
            release = Release(self._ctx, tuple(self._partials[i] for i in signers))
            return [
                Serve(PARTIALS, b"".join(bytes(streams[i]) for i in signers)),
                Serve(RESULT_DOWNLOAD, released.astype("<u8").tobytes()),
                *(Outgoing(i, release) for i in self._contributors),
            ]
        if self._stage == RELEASE_STAGE.name:
            assert self._result is not None
            self._stage, self._ending = None, Completed(self._result, dict(self._acks), None)
        return []


# --- the scheme ------------------------------------------------------------------------------


class InsecureThreshold(Scheme):
    """INSECURE, test only: threshold Paillier's data flow over a toy cipher."""

    kind = KIND
    stages = (
        StageSpec(CONTRIBUTE, "silos", 30.0),
        StageSpec(DECRYPT, "silos", 30.0),
        RELEASE_STAGE,
    )
    downloads = (RESULT_DOWNLOAD, CONTRIBUTIONS, PARTIALS)
    secret_file = SECRET_FILE

    def parse(self, reader: Reader, section: dict[str, Any], facts: FederationFacts) -> ToySection:
        m = reader.mapping(
            section, "scheme", {"kind", "threshold", "colluders", "quantization", "public_key"}
        )
        threshold, colluders = read_threshold(reader, m, facts)
        q = m.get("quantization", {})
        quantization = ToyQuantization(float(q.get("clip", 1.0)), int(q.get("levels", 1 << 16)))
        # optional here so that local_section() parses; params() refuses a section without it
        public_key = reader.get(m, "public_key", "scheme", _element, default=None)
        written = None if public_key is None else _element_hex(public_key)
        return ToySection(KIND, threshold, colluders, quantization, written)

    def rules(self, config: ToySection, facts: FederationFacts) -> list[Finding]:
        n, t = facts.silos, config.threshold
        min_silos = t if facts.min_silos is None else facts.min_silos
        return [*threshold_findings(n, t, config.colluders), *dropout_findings(n, t, min_silos)]

    def quantizer(self, config: ToySection) -> Quantizer:
        return config.quantizer()

    def params(
        self, config: ToySection, facts: FederationFacts, vector_length: int | None
    ) -> ToyParams:
        self.check(config, facts)
        min_silos = config.threshold if facts.min_silos is None else facts.min_silos
        if config.public_key is None:
            raise ConfigError(
                f"scheme.public_key: required: the {KIND} scheme runs only with the public "
                "key its silos' shares were dealt for"
            )
        return ToyParams(
            facts.silos,
            config.threshold,
            min_silos,
            config.quantizer(),
            _element(config.public_key),
        )

    def local_section(self) -> dict[str, Any]:
        return {"kind": KIND, "colluders": 0, "quantization": {"clip": 1.0, "levels": 1 << 16}}

    @property
    def wire(self) -> ToyWire:
        return ToyWire()

    def announced(self, params: ToyParams) -> bytes:
        return _json({"kind": KIND, "threshold": params.threshold})

    def silo_secret(
        self, params: ToyParams, data: bytes, *, index: int, identity: IdentityKey
    ) -> ToyShare:
        return open_share(data, index=index, identity=identity, public_key=params.public_key)

    def deal_test_secrets(
        self,
        *,
        silos: int,
        threshold: int,
        entropy: Entropy,
        recipients: Mapping[int, VerifyingKey],
    ) -> DealtSecrets:
        return sealed_shares(deal_shares(silos, threshold, entropy), recipients, entropy)

    def silo_session(
        self,
        params: ToyParams,
        *,
        context: SessionContext,
        roster: Roster,
        index: int,
        identity: IdentityKey,
        entropy: Entropy,
        ledger: RoundLedger,
        protected: UIntArray,
        revoked: Mapping[int, str] | None = None,
        secret: Any = None,
    ) -> ToySiloSession:
        if not isinstance(secret, ToyShare):
            raise ConfigError(
                f"a {KIND} silo session needs this silo's key share ({SECRET_FILE}, read by "
                f"silo_secret); it was given {type(secret).__name__}"
            )
        return ToySiloSession(
            params, context=context, roster=roster, index=index, identity=identity,
            ledger=ledger, protected=protected, secret=secret,
        )  # fmt: skip

    def aggregator_session(
        self, params: ToyParams, *, context: SessionContext, roster: Roster, vector_length: int
    ) -> ToyAggregatorSession:
        return ToyAggregatorSession(
            params, context=context, roster=roster, vector_length=vector_length
        )


__all__ = ["SECRET_FILE", "InsecureThreshold", "ToyShare", "deal_shares", "read_share"]
