"""What an aggregator session asks the runtime to do: its typed outputs.

A session takes a message (or a chunk of a streamed vector, or a stage deadline)
and returns a list of outputs, in order; the runtime carries them out and knows
nothing else of the scheme:

* :class:`~fedsilo.protocol.messages.Outgoing`: sign this message and put it in
  the recipient's outbox;
* :class:`Serve`: from now on, serve these bytes to the silos that fetch ``name``
  (the released sum, and with full release verification the survivors' inputs);
* :class:`Persist`: silos may reveal from here on; make the session durable (this
  record and these bytes, with the outbox) before any output after it leaves, and
  journal every later message until the round is final;
* an :data:`~fedsilo.protocol.events.AuditEvent`: write it to the audit log.

A silo session's outputs are the small messages to send, and:

* :class:`Upload`: stream this silo's protected vector for a stage, read chunk by chunk
  from the session (``vector_chunk``), so nothing above the protocol holds it;
* :class:`Fetch`: download these bytes and hand them back (``fetched``); the session
  goes on once it has all it asked for.

How an aggregator session ended is its ``ending`` (:class:`Completed` with the result, or
:class:`Aborted` with the error), a state the driver reads rather than an
output: a message that aborts the session also raises to its sender.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fedsilo.errors import FedsiloError
from fedsilo.protocol.events import AuditEvent
from fedsilo.protocol.messages import AggregateResult, Outgoing

RESULT_DOWNLOAD = "result"  # a session's released aggregate, fetched by its survivors
INPUTS_DOWNLOAD = "inputs"  # the survivors' protected inputs (masking, full verification)
# what a session served stays fetchable once its round is final, for silos catching up
EVIDENCE_DOWNLOAD_PREFIX = "evidence/"


def evidence_download(name: str) -> str:
    """The fetch name of download ``name`` of a final round (what a silo that missed the
    round downloads to verify it)."""
    return EVIDENCE_DOWNLOAD_PREFIX + name


@dataclass(frozen=True)
class Serve:
    """Bytes the silos may fetch under ``name`` from now on."""

    name: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Persist:
    """The session's durable form as it starts revealing: a JSON-able ``record`` and
    its ``data`` (what :meth:`~fedsilo.protocol.scheme.Scheme.resume_aggregator_session`
    takes back after a crash)."""

    record: dict[str, Any] = field(repr=False)
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Completed:
    """The session ended with ``result``: the survivors verified it and ``acks`` (silo
    index to the chain head ``H_r`` it acked) came in; ``evidence`` is what a silo that
    missed the round verifies it from."""

    result: AggregateResult
    acks: dict[int, bytes]
    evidence: Any


@dataclass(frozen=True)
class Aborted:
    """The session ended without a result, for ``error``."""

    error: FedsiloError


@dataclass(frozen=True)
class Upload:
    """Stream this silo's vector for ``stage``: ``total_length`` elements of
    ``element_bytes`` each, read with the session's ``vector_chunk(offset, count)``."""

    stage: str
    total_length: int
    element_bytes: int


@dataclass(frozen=True)
class Fetch:
    """Download ``name`` of this session (exactly ``size`` bytes) and give it to the
    session's ``fetched(name, data)``."""

    name: str
    size: int


Ending = Completed | Aborted
AggregatorOutput = Outgoing | Serve | Persist | AuditEvent
