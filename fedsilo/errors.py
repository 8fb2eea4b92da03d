"""The one exception tree of fedsilo.

    FedsiloError                     something fedsilo refuses to do, or could not do
    ├── ConfigError                  a parameter or configuration is unusable
    │   └── ConfigProblemsError      every problem of one config file, by key path
    ├── PKIError                     a certificate, key or revocation list is unusable
    ├── TransportError               the network failed, or a reply fedsilo cannot read
    ├── AuditError                   an audit could not be carried out
    ├── CryptoError                  a primitive refused its input
    │   ├── SignatureError           a signature did not verify
    │   ├── DecryptionError          an AEAD ciphertext did not authenticate
    │   ├── FalseDecryptionShareError  a silo's Paillier decryption shares fail their proof
    │   └── QuantizationError        a vector cannot be quantized (NaN, Inf, overflow)
    ├── ProtocolError                a protocol session refused a message or aborted
    │   ├── LocalProtocolError       we were asked to do something out of order
    │   ├── RemoteProtocolError      a peer (or the aggregator) misbehaved
    │   │   ├── UnexpectedMessageError    message not allowed in the current state
    │   │   │   └── StageClosedError      its stage is over: the sender came too late
    │   │   ├── ContextMismatchError      message from another federation/config/session/round
    │   │   │   └── SessionClosedError    not for the open session (over, or never one)
    │   │   ├── RosterError               unknown, duplicate or impostor silo id
    │   │   ├── ListedAsDroppedError      the aggregator says we dropped out
    │   │   ├── InconsistentViewError     survivor lists contradict each other or us
    │   │   ├── EquivocationRefusedError  asked to sign a second survivor set / unmask twice
    │   │   │   ├── RoundOrderError       a round number that is not the next one
    │   │   │   ├── SessionReplayError    a session id seen before, or abandoned
    │   │   │   └── AlreadyRevealedError  round already unmasked in another session
    │   │   ├── EquivocationError         two different bodies for one (session, stage, sender)
    │   │   ├── IncompleteUploadError     a masked-input stream ended early; resume at offset
    │   │   ├── ChainMismatchError        the aggregator's chain position is not ours
    │   │   ├── ReleaseVerificationError  a released sum is not the signed inputs' sum
    │   │   ├── FalseShareError           a revealed share fails its dealer's commitments
    │   │   └── TooManyCallsError         a silo already has the most calls open it may
    │   ├── TooFewSurvivorsError     fewer than t silos remain at some stage
    │   ├── PartialInputError        a masked input stopped part-way; the session aborts
    │   ├── ImplausibleSumError      a verified sum no honest silos can have produced
    │   ├── UnverifiableReleaseError a survivor's sketch is missing before unmasking
    │   ├── NotJoinableError         the announced session cannot be (re)joined by this silo
    │   └── ResetRefusedError        an epoch reset that may not take effect
    │       └── ResetReplayError     an epoch reset (or its index) already applied
    ├── NotReadyError                what a silo waits for is not there yet; ask again
    ├── CheckpointError              a model file is not a checkpoint fedsilo loads safely
    └── DurabilityError              a record due on disk before a message leaves did not get there

Every message is meant to be shown to a person as one line: it says what
went wrong and, where there is one, what to do about it.

Errors cross the wire by class, not by status code: the gRPC adapter's one
table (:mod:`fedsilo.transport.status`) gives each class a status and a
stable name, and a silo raises the class the aggregator raised, with its
message (see :meth:`FedsiloError.relayed`). No error here carries anything
of the transport.
"""

from __future__ import annotations

from typing import Self


class FedsiloError(Exception):
    """Root of every error fedsilo raises on purpose."""

    # True for an error a peer reported (rebuilt from its name at the transport boundary):
    # this process did not decide it, so nothing may treat it as its own decision
    from_peer: bool = False

    @classmethod
    def relayed(cls, message: str) -> Self:
        """This error as a peer reported it: only ``message`` crossed the wire.

        Classes whose constructor computes its message from fields override this;
        the fields of a relayed error are ``None`` (or empty) unless said otherwise.
        """
        return cls(message)


class ConfigError(FedsiloError):
    """A parameter or configuration value is unusable."""


class ConfigProblemsError(ConfigError):
    """Every problem found in one config file, each prefixed by its key path."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s):\n{lines}")

    @classmethod
    def relayed(cls, message: str) -> Self:
        """The peer's report as one problem (its key paths are in the text)."""
        error = cls.__new__(cls)
        ConfigError.__init__(error, message)
        error.problems = [message]
        return error


class PKIError(FedsiloError):
    """A certificate, key or revocation list is unusable."""


class TransportError(FedsiloError):
    """The network adapter failed, or a peer's reply could not be read as fedsilo's."""


class AuditError(FedsiloError):
    """An audit could not be carried out."""


class CryptoError(FedsiloError):
    """A cryptographic primitive refused its input."""


class SignatureError(CryptoError):
    """A signature did not verify."""


class DecryptionError(CryptoError):
    """An AEAD ciphertext did not authenticate."""


class FalseDecryptionShareError(CryptoError):
    """A silo's threshold Paillier decryption shares fail their proof (or are malformed):
    ``silo`` (its roster index; None when relayed: the message names it) is excluded and
    its shares are not used."""

    def __init__(self, message: str, silo: int | None) -> None:
        super().__init__(message)
        self.silo = silo

    @classmethod
    def relayed(cls, message: str) -> Self:
        return cls(message, None)


class QuantizationError(CryptoError):
    """A vector cannot be quantized without losing or corrupting information."""


class ProtocolError(FedsiloError):
    """A protocol session refused a message; the session is now ABORTED."""


class LocalProtocolError(ProtocolError):
    """Our own caller used the session out of order (a bug on this side)."""


class RemoteProtocolError(ProtocolError):
    """A peer or the aggregator sent something the protocol forbids."""


class UnexpectedMessageError(RemoteProtocolError):
    """A message arrived that the current state does not allow."""


class StageClosedError(UnexpectedMessageError):
    """A message of a stage the session has already closed: its sender came too late
    (a silo whose own first message is refused so waits for the next session)."""


class ContextMismatchError(RemoteProtocolError):
    """A message belongs to another federation, config, session, round or stage."""


class SessionClosedError(ContextMismatchError):
    """A message for a session that is not the open one (it ended, or never was)."""


class RosterError(RemoteProtocolError):
    """A list names an unknown or duplicate silo, or a sender claims another's name."""


class ListedAsDroppedError(RemoteProtocolError):
    """The aggregator lists this silo as dropped although it is alive."""


class InconsistentViewError(RemoteProtocolError):
    """Survivor lists, signatures or model hashes do not agree."""


class EquivocationRefusedError(RemoteProtocolError):
    """Signing a second survivor set, or unmasking twice, for one (round, model hash)."""


class RoundOrderError(EquivocationRefusedError):
    """An announcement for a round that is not ``last final round + 1``."""


class SessionReplayError(EquivocationRefusedError):
    """A session id this silo has seen before, or a session it has abandoned."""


class AlreadyRevealedError(EquivocationRefusedError):
    """The round was already unmasked (or decrypted) in another session."""


class EquivocationError(RemoteProtocolError):
    """A peer sent two different bodies for the same (session, stage, sender)."""


class IncompleteUploadError(RemoteProtocolError):
    """A masked-input stream ended before the whole vector arrived; resume at ``offset``.

    ``offset`` is ``None`` only for a relayed error whose sender named no offset.
    """

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset: int | None = offset

    @classmethod
    def relayed(cls, message: str) -> Self:
        error = cls(message, 0)
        error.offset = None
        return error


class ChainMismatchError(RemoteProtocolError):
    """The aggregator names a chain position (``H_{r-1}``) that is not this silo's."""


class ReleaseVerificationError(RemoteProtocolError):
    """A released aggregate is not the sum of the contributions the survivors signed.

    The aggregator is to blame; the silo keeps the evidence and derives nothing.
    """


class FalseShareError(RemoteProtocolError):
    """A silo revealed an unmasking share that fails the commitments it signed for.

    ``evidence`` (a :class:`~fedsilo.protocol.masking.sharing.FalseShareEvidence`) proves
    it to anyone with the roster's certificates; the share is not used. A relayed error
    carries no evidence (``None``): the evidence is in the aggregator's log."""

    def __init__(self, message: str, evidence: object) -> None:
        super().__init__(message)
        self.evidence: object = evidence

    @classmethod
    def relayed(cls, message: str) -> Self:
        return cls(message, None)


class TooManyCallsError(RemoteProtocolError):
    """A silo already has as many calls open as one silo may (it waits for one to end)."""


class TooFewSurvivorsError(ProtocolError):
    """Fewer than the threshold of silos remain; nothing may be released.

    A relayed error knows only its message: ``stage``, ``have`` and ``need`` are ``None``.
    """

    def __init__(self, stage: str, have: int, need: int, missing: tuple[str, ...] = ()) -> None:
        names = f"; missing: {', '.join(missing)}" if missing else ""
        super().__init__(
            f"stage {stage}: only {have} silos remain but {need} are needed "
            f"(max of the threshold and min_silos){names}; "
            "the round is aborted and nothing is released"
        )
        self.stage: str | None = stage
        self.have: int | None = have
        self.need: int | None = need
        self.missing = missing

    @classmethod
    def relayed(cls, message: str) -> Self:
        error = cls.__new__(cls)
        ProtocolError.__init__(error, message)
        error.stage = error.have = error.need = None
        error.missing = ()
        return error


class PartialInputError(ProtocolError):
    """A silo's masked input stopped part-way; the running sum cannot be repaired.

    Removing a partly folded vector would need both kinds of that silo's
    shares, which would reveal its update; the session aborts instead and a
    new session (fresh keys) is run.
    """


class ImplausibleSumError(ProtocolError):
    """A verified sum that honest silos cannot have produced: its weight, evaluation or value
    words lie outside the bounds every honest encoding keeps. A modified silo sent its part
    (masking hides which); the round is not applied."""


class UnverifiableReleaseError(ProtocolError):
    """A survivor did not sign the consistency check (with its sketch) before unmasking.

    Without every survivor's sketch the release could not be verified, so the
    session is aborted before anything is revealed, and a new session is run.
    """


class NotJoinableError(ProtocolError):
    """The announced session was joined before a restart and cannot be resumed, or it
    went past its adverts before this silo arrived; the silo waits for the next one."""


class ResetRefusedError(ProtocolError):
    """An epoch reset record that may not take effect.

    It is for another federation or config, another round or chain head, out of
    order, beyond ``max_resets``, or signed by fewer than ``t`` silo operators (or
    with a signature that does not verify, which is named, never skipped).
    """


class ResetReplayError(ResetRefusedError):
    """An epoch reset, or its index, this silo (or aggregator) already applied."""


class NotReadyError(FedsiloError):
    """What a silo waits for is not there yet; ask again."""


class CheckpointError(FedsiloError):
    """A model file is not a checkpoint fedsilo can load safely (never unpickled)."""


class DurabilityError(FedsiloError):
    """A decision could not be made durable, so the message acting on it was not sent."""
