"""The one error boundary between fedsilo and gRPC, both ways.

Theory of operation. The aggregator's servicer turns a :class:`FedsiloError` into a
:class:`Refusal`: the gRPC status of its class, its one-line message as the details, and
its class's stable name in the trailing metadata (``fedsilo-error: context-mismatch``).
The silo's client turns a refusal back into the same class (:func:`error_of`), with a
message that says the aggregator refused and why.

Invariants.

* :data:`ERRORS` has one row per class of :mod:`fedsilo.errors` (a test walks the tree).
* A name is unique; it is what maps back, since several classes share one status.
* A peer's fault is never INTERNAL: INTERNAL is kept for the aggregator's own failures
  (:data:`OWN_FAULTS`: its disk, its checkpoints, a bug).
* Only :class:`NotReadyError` travels as DEADLINE_EXCEEDED (the client polls on it), and
  a reply without a known name, or whose name and status disagree (the network, a
  proxy, a server that is not fedsilo's), becomes a :class:`TransportError`.
* No fedsilo exception carries a ``grpc.StatusCode``: statuses live here, and in the
  client's retry logic, before anything is mapped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import grpc

from fedsilo.errors import (
    AlreadyRevealedError,
    AuditError,
    ChainMismatchError,
    CheckpointError,
    ConfigError,
    ConfigProblemsError,
    ContextMismatchError,
    CryptoError,
    DecryptionError,
    DurabilityError,
    EquivocationError,
    EquivocationRefusedError,
    FalseDecryptionShareError,
    FalseShareError,
    FedsiloError,
    ImplausibleSumError,
    IncompleteUploadError,
    InconsistentViewError,
    ListedAsDroppedError,
    LocalProtocolError,
    NotJoinableError,
    NotReadyError,
    PartialInputError,
    PKIError,
    ProtocolError,
    QuantizationError,
    ReleaseVerificationError,
    RemoteProtocolError,
    ResetRefusedError,
    ResetReplayError,
    RosterError,
    RoundOrderError,
    SessionClosedError,
    SessionReplayError,
    SignatureError,
    StageClosedError,
    TooFewSurvivorsError,
    TooManyCallsError,
    TransportError,
    UnexpectedMessageError,
    UnverifiableReleaseError,
)

ERROR_KEY: Final = "fedsilo-error"
RESUME_KEY: Final = "fedsilo-resume-offset"

_S = grpc.StatusCode
# Every error class: the status it travels with, and its name on the wire (stable:
# renaming a class keeps its name). Ordered as the tree at the top of fedsilo.errors.
ERRORS: Final[Mapping[type[FedsiloError], tuple[grpc.StatusCode, str]]] = {
    FedsiloError: (_S.INTERNAL, "fedsilo"),
    ConfigError: (_S.FAILED_PRECONDITION, "config"),
    ConfigProblemsError: (_S.FAILED_PRECONDITION, "config-problems"),
    PKIError: (_S.PERMISSION_DENIED, "pki"),  # not a roster member, revoked, expired
    TransportError: (_S.UNAVAILABLE, "transport"),
    AuditError: (_S.FAILED_PRECONDITION, "audit"),
    CryptoError: (_S.INVALID_ARGUMENT, "crypto"),  # a malformed key, share or vector
    SignatureError: (_S.UNAUTHENTICATED, "signature"),  # a body its sender's key did not sign
    FalseDecryptionShareError: (_S.INVALID_ARGUMENT, "false-decryption-share"),
    DecryptionError: (_S.INVALID_ARGUMENT, "decryption"),
    QuantizationError: (_S.INVALID_ARGUMENT, "quantization"),
    ProtocolError: (_S.FAILED_PRECONDITION, "protocol"),
    LocalProtocolError: (_S.INTERNAL, "local-protocol"),
    RemoteProtocolError: (_S.INVALID_ARGUMENT, "remote-protocol"),
    UnexpectedMessageError: (_S.FAILED_PRECONDITION, "unexpected-message"),
    StageClosedError: (_S.FAILED_PRECONDITION, "stage-closed"),
    ContextMismatchError: (_S.FAILED_PRECONDITION, "context-mismatch"),
    SessionClosedError: (_S.FAILED_PRECONDITION, "session-closed"),
    RosterError: (_S.PERMISSION_DENIED, "roster"),  # speaking in another silo's name
    ListedAsDroppedError: (_S.INVALID_ARGUMENT, "listed-as-dropped"),
    InconsistentViewError: (_S.INVALID_ARGUMENT, "inconsistent-view"),
    EquivocationRefusedError: (_S.INVALID_ARGUMENT, "equivocation-refused"),
    RoundOrderError: (_S.INVALID_ARGUMENT, "round-order"),
    SessionReplayError: (_S.INVALID_ARGUMENT, "session-replay"),
    AlreadyRevealedError: (_S.INVALID_ARGUMENT, "already-revealed"),
    EquivocationError: (_S.ALREADY_EXISTS, "equivocation"),
    IncompleteUploadError: (_S.ABORTED, "incomplete-upload"),  # with RESUME_KEY
    ChainMismatchError: (_S.INVALID_ARGUMENT, "chain-mismatch"),
    ReleaseVerificationError: (_S.INVALID_ARGUMENT, "release-verification"),
    FalseShareError: (_S.INVALID_ARGUMENT, "false-share"),
    TooManyCallsError: (_S.RESOURCE_EXHAUSTED, "too-many-calls"),
    TooFewSurvivorsError: (_S.ABORTED, "too-few-survivors"),  # the session ended
    PartialInputError: (_S.ABORTED, "partial-input"),
    ImplausibleSumError: (_S.FAILED_PRECONDITION, "implausible-sum"),
    UnverifiableReleaseError: (_S.ABORTED, "unverifiable-release"),
    NotJoinableError: (_S.FAILED_PRECONDITION, "not-joinable"),
    ResetRefusedError: (_S.FAILED_PRECONDITION, "reset-refused"),
    ResetReplayError: (_S.FAILED_PRECONDITION, "reset-replay"),
    NotReadyError: (_S.DEADLINE_EXCEEDED, "not-ready"),  # ask again
    CheckpointError: (_S.INTERNAL, "checkpoint"),
    DurabilityError: (_S.INTERNAL, "durability"),
}
# errors a silo raises about its own state and acts on (it skips a session it cannot
# join): the aggregator never raises them, and a reply naming one is refused, never obeyed
SILO_DECISIONS: Final[frozenset[type[FedsiloError]]] = frozenset({NotJoinableError})
_BY_NAME: Final = {name: (kind, status) for kind, (status, name) in ERRORS.items()}

# the errors that are the aggregator's own failure, and only those, are INTERNAL
OWN_FAULTS: Final[tuple[type[FedsiloError], ...]] = (
    LocalProtocolError,
    DurabilityError,
    CheckpointError,
)


@dataclass(frozen=True)
class Refusal:
    """What the aggregator answers a call that raised: status, details and trailers."""

    status: grpc.StatusCode
    message: str
    trailers: tuple[tuple[str, str], ...]


def row_of(kind: type[FedsiloError]) -> tuple[grpc.StatusCode, str]:
    """The status and name of ``kind``: its own row, else its nearest listed ancestor's."""
    return next(ERRORS[base] for base in kind.__mro__ if base in ERRORS)


def status_of(error: FedsiloError) -> grpc.StatusCode:
    return row_of(type(error))[0]


def refusal_of(error: FedsiloError) -> Refusal:
    """How the servicer refuses a call that raised ``error``."""
    status, name = row_of(type(error))
    trailers: tuple[tuple[str, str], ...] = ((ERROR_KEY, name),)
    if isinstance(error, IncompleteUploadError) and error.offset is not None:
        trailers += ((RESUME_KEY, str(error.offset)),)
    return Refusal(status, str(error), trailers)


def error_of(
    status: grpc.StatusCode, details: str, trailers: Iterable[tuple[str, str | bytes]]
) -> FedsiloError:
    """The error the aggregator refused a call with (the inverse of :func:`refusal_of`);
    a reply fedsilo's table does not name is a :class:`TransportError`."""
    fields = {key: value for key, value in trailers if isinstance(value, str)}
    kind, listed = _BY_NAME.get(fields.get(ERROR_KEY, ""), (None, None))
    if kind is None or listed != status:
        return TransportError(_unnamed(status, details))
    message = f"the aggregator refused: {details}"
    if kind in SILO_DECISIONS:
        return RemoteProtocolError(
            f"the aggregator answered with {fields[ERROR_KEY]!r}, which only a silo decides "
            f"for itself: {details}"
        )
    offset = fields.get(RESUME_KEY, "")
    if kind is IncompleteUploadError and re.fullmatch("[0-9]{1,19}", offset):
        error: FedsiloError = IncompleteUploadError(message, int(offset))
    else:
        error = kind.relayed(message)
    error.from_peer = True
    return error


def _unnamed(status: grpc.StatusCode, details: str) -> str:
    if status == _S.UNAVAILABLE:
        return f"cannot reach the aggregator: {details}"
    if status == _S.DEADLINE_EXCEEDED:
        return f"the aggregator did not answer in time: {details}"
    return f"the aggregator refused ({status.name}, without a fedsilo error name): {details}"
