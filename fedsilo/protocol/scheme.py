"""The seam every protection scheme sits behind.

A scheme says what it is made of, and nothing above the protocol layer has to
know which scheme runs:

* its **stages** (:class:`StageSpec`): the name, who must speak before the stage
  closes, and the key of its deadline under ``timeouts.stages`` in the config.
  Every scheme ends with the scheme-neutral :data:`RELEASE_STAGE` (fetch the
  released aggregate, verify it, derive the next model, ack ``H_r``);
* its **config section** (:meth:`Scheme.parse`): ``scheme:`` of the config file,
  read with the same problem-collecting reader as the rest of the file;
* its **rules** (:meth:`Scheme.rules`): every safety rule, implemented once and
  used by config loading, the nodes and the auditor alike (:meth:`Scheme.check`
  raises the first failure as a one-line :class:`ConfigError`);
* its **parameters** (:meth:`Scheme.params`): what its sessions run with;
* its **wire** (:class:`SchemeWire`): the bodies of its messages, which the transport
  carries in scheme-neutral envelopes (the envelope's context names session, stage and
  speaker), and the parameters every session announcement states
  (:meth:`Scheme.announced`, compared by each silo with its own);
* its **sessions**: the silo and aggregator state machines
  (:class:`SiloSession`, :class:`AggregatorSession`), built and resumed by the
  scheme (:meth:`Scheme.silo_session`, :meth:`Scheme.aggregator_session`), and
  the check of a missed round's evidence (:meth:`Scheme.verify_evidence`). The
  runtime reaches a scheme's sessions only through these.

The registry of schemes is :mod:`fedsilo.protocol.registry`; it is closed.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from fedsilo.crypto.entropy import Entropy
from fedsilo.crypto.prg import UIntArray
from fedsilo.crypto.quantize import Quantizer
from fedsilo.crypto.signatures import IdentityKey
from fedsilo.errors import ConfigError, FedsiloError
from fedsilo.protocol.chain import ChainHead, ChainLink
from fedsilo.protocol.fields import Reader
from fedsilo.protocol.ledger import RoundLedger
from fedsilo.protocol.messages import AggregateResult, SessionContext
from fedsilo.protocol.outputs import RESULT_DOWNLOAD, AggregatorOutput, Ending, Fetch
from fedsilo.protocol.roster import Roster


class Verdict(enum.Enum):
    """What a rule says about a config."""

    PASS = "pass"  # noqa: S105 - a verdict, not a password
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Finding:
    """The verdict of one rule, with why and, unless it passes, what to change."""

    rule: str
    verdict: Verdict
    reason: str
    fix: str = ""


def passes(rule: str, reason: str) -> Finding:
    return Finding(rule, Verdict.PASS, reason)


def fails(rule: str, reason: str, fix: str) -> Finding:
    return Finding(rule, Verdict.FAIL, reason, fix)


def warns(rule: str, reason: str, fix: str) -> Finding:
    return Finding(rule, Verdict.WARN, reason, fix)


def raise_first_failure(findings: Sequence[Finding]) -> None:
    """The first failing finding as a one-line :class:`ConfigError` (rule, why, the fix)."""
    for finding in findings:
        if finding.verdict is Verdict.FAIL:
            raise ConfigError(f"{finding.rule}: {finding.reason}; {finding.fix}")


Speaker = Literal["silos", "aggregator"]


@dataclass(frozen=True)
class StageSpec:
    """One stage of a scheme's session.

    ``name`` is the stage's name on the wire and in logs; ``timeout_key`` its deadline's
    key under ``timeouts.stages``; ``speaker`` who must speak before the stage closes
    (the aggregator's stage deadline runs while it waits for them). A silo speaks first
    in the first stage; every later stage opens with the aggregator's message to each
    silo, which the silo awaits."""

    name: str
    speaker: Speaker
    default_seconds: float
    # the silos' work at this stage is release verification (timed apart in their logs)
    verifies: bool = False

    @property
    def timeout_key(self) -> str:
        return self.name.replace("-", "_")


# Every scheme's last stage: the survivors fetch the released aggregate, verify it (the
# scheme's own check), derive the next model themselves and ack the chain head H_r.
RELEASE_STAGE = StageSpec("release", "silos", 120.0, verifies=True)


@dataclass(frozen=True)
class FederationFacts:
    """What a scheme's rules and parameters may read of the rest of the config."""

    silo_names: tuple[str, ...]
    aggregator: str
    max_samples: int
    min_silos: int | None  # None: not set in the file (it defaults to the threshold)

    @property
    def silos(self) -> int:
        return len(self.silo_names)


class SchemeConfig(Protocol):
    """What every scheme's typed config section has (a frozen dataclass)."""

    @property
    def kind(self) -> str: ...

    @property
    def threshold(self) -> int: ...

    @property
    def colluders(self) -> int: ...

    @property
    def clip(self) -> float:
        """Every silo clips each coordinate of its delta to ``[-clip, clip]``."""
        ...


@runtime_checkable
class SchemeWire(Protocol):
    """A scheme's message bodies on the wire. Each body travels in an envelope whose
    context names its session, its stage and its speaker; the stage says which of the
    scheme's messages the body is. Decoding raises
    :class:`~fedsilo.errors.RemoteProtocolError` for a body that is not one."""

    def silo_body(self, message: Any) -> tuple[str, int, bytes]:
        """The stage a silo's small message answers, the silo that speaks, and its body."""
        ...

    def silo_message(self, context: SessionContext, stage: str, sender: int, body: bytes) -> Any:
        """Silo ``sender``'s message for ``stage`` of session ``context``."""
        ...

    def aggregator_body(self, message: Any) -> tuple[str, bytes]:
        """The stage an aggregator message opens (the silos await it there) and its body."""
        ...

    def aggregator_message(self, context: SessionContext, stage: str, body: bytes) -> Any:
        """The aggregator's message opening ``stage`` of session ``context``, as the silo
        session takes it."""
        ...

    def evidence_body(self, evidence: Any) -> bytes:
        """A final round's evidence (its session's context included), as the archive keeps
        it and a catching-up silo receives it."""
        ...

    def evidence(self, body: bytes) -> Any:
        """The evidence :meth:`evidence_body` wrote, for :meth:`Scheme.verify_evidence`."""
        ...

    def dispute_evidence(self, context: SessionContext, messages: Mapping[str, Any]) -> Any:
        """The evidence a silo's dispute holds, from the aggregator's signed messages of
        the session by stage (as :meth:`aggregator_message` decoded them), for
        :meth:`Scheme.verify_evidence`; raises if a message it needs is missing."""
        ...


class Scheme(ABC):
    """A protection scheme: stages, config section, rules, parameters and sessions."""

    kind: str
    stages: tuple[StageSpec, ...]
    # the names its sessions serve (Serve outputs) and its silos fetch; every release serves
    # the aggregate under RESULT_DOWNLOAD. Nothing else can be fetched, in a session or,
    # once its round is final, from the aggregator's archive.
    downloads: tuple[str, ...] = (RESULT_DOWNLOAD,)
    # False for a scheme whose config and rules exist but whose sessions do not (yet):
    # a node refuses to run it and the auditor says so, so "safe" always means runnable
    runnable: bool = True
    # the file, in each silo's state directory, holding the silo's long-term secret for
    # this scheme (a key share, say), provisioned before the silo first runs; None: the
    # scheme keeps no secret between sessions
    secret_file: str | None = None

    @abstractmethod
    def parse(
        self, reader: Reader, section: dict[str, Any], facts: FederationFacts
    ) -> SchemeConfig | None:
        """Read the ``scheme:`` section (defaults filled in); problems go to ``reader``."""

    @abstractmethod
    def rules(self, config: Any, facts: FederationFacts) -> list[Finding]:
        """Every safety rule of this scheme on ``config`` (its own parsed section)."""

    @abstractmethod
    def quantizer(self, config: Any) -> Quantizer:
        """The fixed-point encoding of the plaintext every silo protects."""

    @abstractmethod
    def params(self, config: Any, facts: FederationFacts, vector_length: int | None) -> Any:
        """What the sessions run with; raises :class:`ConfigError` (key path first) if
        ``config`` cannot run. ``vector_length`` (the protected vector's length, when
        known) resolves length-dependent settings."""

    @abstractmethod
    def local_section(self) -> dict[str, Any]:
        """The ``scheme:`` section of a federation run on one machine (``fedsilo demo``,
        ``fedsilo bench``): safe settings for a handful of silos and a small model."""

    @property
    def wire(self) -> SchemeWire:
        """The bodies of this scheme's messages on the wire."""
        raise self._no_sessions()

    def announced(self, params: Any) -> bytes:
        """What every session announcement states of ``params`` (a silo refuses a session
        whose announcement differs from its own)."""
        raise self._no_sessions()

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages)

    def stage(self, name: str) -> StageSpec:
        for spec in self.stages:
            if spec.name == name:
                return spec
        raise ConfigError(
            f"the {self.kind} scheme has no stage {name!r} (its stages: "
            f"{', '.join(self.stage_names)})"
        )

    def check(self, config: Any, facts: FederationFacts) -> None:
        """Raise the first failing rule as a one-line :class:`ConfigError`."""
        raise_first_failure(self.rules(config, facts))

    # --- sessions (a scheme that is not runnable has none) ------------------------------

    def _no_sessions(self) -> ConfigError:
        return ConfigError(f"this version of fedsilo has no {self.kind} sessions")

    def silo_secret(self, params: Any, data: bytes, *, index: int, identity: IdentityKey) -> Any:
        """Silo ``index``'s long-term secret, from the bytes of its :attr:`secret_file`,
        checked against ``params``; raises :class:`ConfigError` saying what is wrong.
        ``identity`` is the silo's certificate key: a secret dealt to the silo arrives
        sealed to it (:func:`fedsilo.crypto.signatures.seal_to`) and opens only with it.
        Sealing does not say who sealed it: a scheme checks the secret against its public
        values (a Paillier share against its verification key) before it is used."""
        raise ConfigError(f"the {self.kind} scheme keeps no per-silo secret")

    def silo_session(
        self,
        params: Any,
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
    ) -> SiloSession:
        """Silo ``index``'s new session protecting the encoded vector ``protected``; it
        refuses to go on with any silo of ``revoked`` (roster index: why its certificate
        no longer verifies). ``secret`` is what :meth:`silo_secret` read (None for a
        scheme without a :attr:`secret_file`)."""
        raise self._no_sessions()

    def resume_silo_session(
        self,
        params: Any,
        kept: dict[str, Any],
        *,
        roster: Roster,
        identity: IdentityKey,
        entropy: Entropy,
        ledger: RoundLedger,
        secret: Any = None,
    ) -> SiloSession:
        """The session a silo kept at rest (its :meth:`SiloSession.snapshot`), resumed
        (``secret`` as for :meth:`silo_session`)."""
        raise self._no_sessions()

    def aggregator_session(
        self, params: Any, *, context: SessionContext, roster: Roster, vector_length: int
    ) -> AggregatorSession:
        """The aggregator's new session over vectors of ``vector_length`` elements."""
        raise self._no_sessions()

    def resume_aggregator_session(
        self,
        params: Any,
        record: dict[str, Any],
        data: bytes,
        *,
        context: SessionContext,
        roster: Roster,
    ) -> AggregatorSession:
        """The session the aggregator journaled as it began revealing (the ``record`` and
        ``data`` of its :class:`~fedsilo.protocol.outputs.Persist` output), resumed."""
        raise self._no_sessions()

    def evidence_fetches(
        self, params: Any, evidence: Any, *, silos: int, vector_length: int
    ) -> list[Fetch]:
        """What a silo catching up downloads for a final round's ``evidence`` (as the wire
        decoded it): names among :attr:`downloads`, with their exact sizes, bounded by
        what a genuine round of ``silos`` silos could need."""
        raise self._no_sessions()

    def verify_evidence(
        self,
        params: Any,
        evidence: Any,
        downloads: Mapping[str, bytes | bytearray],
        *,
        roster: Roster,
        federation: str,
        config_digest: bytes,
        chain: ChainHead,
        vector_length: int,
    ) -> AggregateResult:
        """The aggregate of a round this silo missed, computed here from its evidence and
        what :meth:`evidence_fetches` downloaded for it, verified end to end (what a
        survivor of it checked), on this silo's own head."""
        raise self._no_sessions()


@runtime_checkable
class SiloSession(Protocol):
    """A silo's side of one session, as the runtime drives it: messages in, typed outputs
    out (small messages to send, :class:`~fedsilo.protocol.outputs.Upload` and
    :class:`~fedsilo.protocol.outputs.Fetch`).

    The runtime sends what :meth:`start` (or, resumed after a crash, :meth:`pending`)
    returns, hands it each message the aggregator sent and each download it asked for
    (:meth:`fetched`), streams its vector from :meth:`vector_chunk`, seals its
    :meth:`snapshot` at rest while it is resumable, and once the release verified
    (:attr:`verified`) derives the next model from :attr:`aggregate` and sends what
    :meth:`acknowledge` returns."""

    @property
    def context(self) -> SessionContext: ...

    @property
    def state(self) -> enum.Enum: ...

    @property
    def resumes_at(self) -> str | None:
        """The stage a restarted silo awaits next in this session (None: not resumable,
        a crash now simply misses the session)."""
        ...

    @property
    def survivors(self) -> tuple[int, ...]:
        """The silos whose inputs the release covers, once this silo signed that list."""
        ...

    @property
    def aggregate(self) -> AggregateResult | None:
        """The aggregate this silo computed from a verified release (None before)."""
        ...

    @property
    def verified(self) -> bool:
        """The release verified and nothing was acknowledged yet: the runtime may derive
        the next model from :attr:`aggregate` and call :meth:`acknowledge`."""
        ...

    def start(self) -> Sequence[Any]: ...

    def receive(self, message: Any) -> Sequence[Any]: ...

    def fetched(self, name: str, data: bytes | bytearray) -> Sequence[Any]:
        """The download a :class:`~fedsilo.protocol.outputs.Fetch` asked for."""
        ...

    def vector_chunk(self, offset: int, count: int) -> bytes:
        """Elements ``offset .. offset + count`` of the vector an Upload streams, as sent."""
        ...

    def pending(self) -> Sequence[Any]: ...

    def snapshot(self) -> dict[str, Any]: ...

    def acknowledge(self, link: ChainLink) -> Sequence[Any]: ...


@runtime_checkable
class AggregatorSession(Protocol):
    """The aggregator's side of one session, as the runtime drives it: messages and
    chunks of streamed vectors in, typed outputs (:mod:`fedsilo.protocol.outputs`) out;
    a stage closes when everyone answered or at its deadline (:meth:`close_stage`), and
    :attr:`ending` says how the session ended. The session alone checks what it takes:
    context, stage, resends and equivocation, and the continuity of every stream."""

    @property
    def stage(self) -> str | None:
        """The stage now collecting (None once the session ended)."""
        ...

    @property
    def waiting_for(self) -> frozenset[int]:
        """The silos whose answer to the current stage has not arrived."""
        ...

    @property
    def ending(self) -> Ending | None:
        """:class:`~fedsilo.protocol.outputs.Completed` or
        :class:`~fedsilo.protocol.outputs.Aborted` once the session ended (None before)."""
        ...

    def received(self, sender: int) -> int:
        """How many elements of ``sender``'s streamed vector are folded."""
        ...

    def receive(self, message: Any) -> Sequence[AggregatorOutput]:
        """Take one silo message (raises, naming the problem, if it is refused)."""
        ...

    def receive_chunk(
        self,
        context: SessionContext,
        stage: str,
        sender: int,
        offset: int,
        total_length: int,
        data: bytes,
    ) -> Sequence[AggregatorOutput]:
        """Take the chunk at ``offset`` of ``sender``'s streamed vector of
        ``total_length`` elements, sent in ``context`` and labelled ``stage`` (raw bytes;
        an identical resend is acknowledged). The session checks the label, like every
        other part of the context."""
        ...

    def end_of_stream(self, sender: int) -> None:
        """``sender``'s stream ended; raises :class:`~fedsilo.errors.IncompleteUploadError`
        with the offset to resume from if its vector is incomplete."""
        ...

    def close_stage(self) -> Sequence[AggregatorOutput]:
        """The stage's deadline passed: go on with whoever answered, or end aborted."""
        ...

    def abandon(self, reason: FedsiloError) -> None:
        """End the session aborted (it could not be made durable)."""
        ...


@runtime_checkable
class ShareEvidence(Protocol):
    """Proof that a silo revealed a false share (what the aggregator logs about it)."""

    @property
    def owner(self) -> int: ...

    @property
    def kind(self) -> str: ...

    def record(self) -> dict[str, Any]: ...
