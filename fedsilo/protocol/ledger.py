"""The silo ledger: one view per session, one reveal per round, rounds in chain order.

Theory of operation
-------------------
The aggregator chooses session ids, round numbers, models and who "dropped".
The old attack: run session A of round ``r`` with everyone and unmask it,
claim it was "not released", run session B of the same round with the victim
"dropped" and subtract the two sums; or replay one model under new round
numbers. A rule keyed on ``(round, model hash)`` stops neither, because both
keys are the aggregator's to choose. This ledger keys every rule on what the
silo controls:

* its chain position (:class:`~fedsilo.protocol.chain.ChainHead`): the last
  final round ``f`` and ``H_f``, which the silo computed from an aggregate it
  verified. Only round ``f + 1`` on head ``H_f`` can be joined, so a round
  number never comes back and no round is skipped;
* the set of every session id it ever admitted, so a session is never
  joined twice;
* the sessions of round ``f + 1``, in admission order, each with the one
  survivor view the silo signed in it and the exact bytes of the one
  unmasking (or decryption) response it sent in it.

The ledger is scheme-neutral: a *view* is an opaque digest of what the silo
signed before revealing, a *response* the opaque serialized reveal. The
session state machines call it; it never looks inside either.

Rules (the exception names the one that was broken)
---------------------------------------------------
``admit(r, session, H)``
    ``r`` must be ``f + 1`` (:class:`~fedsilo.errors.RoundOrderError`) and
    ``H`` must be ``H_f`` (:class:`~fedsilo.errors.ChainMismatchError`).
    The session the silo already joined for ``r`` is *resumed* (nothing is
    written; its stored response is re-sent verbatim). Any other session id
    seen before is refused (:class:`~fedsilo.errors.SessionReplayError`).
    Once any session of ``r`` has a response, no other session of ``r`` is
    joined (:class:`~fedsilo.errors.AlreadyRevealedError`). Otherwise the
    new session is recorded and every earlier session of ``r`` is marked
    abandoned, in one durable write.
``record_view(session, view)``
    One view per live session: the same view again is a no-op, another one
    is refused (:class:`~fedsilo.errors.EquivocationRefusedError`).
``record_reveal(session, response)``
    Needs the session's view (:class:`~fedsilo.errors.LocalProtocolError`),
    a live session, and no response in any other session of the round. The
    identical bytes again are a no-op; other bytes are refused.
``finalize(r, H_r)``
    ``r`` must be ``f + 1``; the chain moves to ``(r, H_r)``, the round's
    session records are dropped and the seen session ids are kept.
``apply_reset(digest, k, r, H)``
    An epoch reset (:mod:`fedsilo.protocol.reset`), which the caller has
    verified (``verify_reset``: signed by ``>= t`` silo operators, within
    ``max_resets``). The ledger refuses it
    (:class:`~fedsilo.errors.ResetRefusedError`) unless ``r`` is ``f + 1``
    (the round the silo is stuck in), ``H`` is ``H_f`` and ``k`` is the
    number of resets applied so far plus one; a reset already applied, or an
    index already used, is a :class:`~fedsilo.errors.ResetReplayError`. It
    drops the round's session records, so the silo may reveal once more in
    round ``r``, keeps ``seen`` (no session id is ever reused) and appends
    the reset's digest, in one durable write.

Invariants
----------
1. In every round, at most one session ever has a response per *epoch* (the
   stretch between two applied resets), and no session is admitted after a
   response was recorded in that epoch (the revealing session can only be
   resumed). With ``2t > n + n_C`` two sessions of one round can therefore
   never both gather ``t`` reveals without a reset that ``t`` operators
   signed; each applied reset allows exactly one more reveal in its round.
2. At most one session of the round is live, and it is the latest; every
   earlier one is abandoned, and an abandoned session never revealed.
3. ``final_round`` never decreases, ``seen`` never shrinks, and the applied
   resets only grow, one index at a time.
4. Durable before acting: every mutation builds the new
   :class:`LedgerRecord`, has the store make it durable, and only then
   replaces the in-memory record. A failed save raises
   :class:`~fedsilo.errors.DurabilityError` and leaves memory unchanged, so
   a caller that sends only after a mutation returns never sends a message
   acting on an unrecorded decision. Whatever reached the disk is a superset
   of what was acted on.

The ledger is not thread-safe: one silo drives one ledger, and the runtime
serializes calls into it. A record saved under another genesis is refused
while it is still at round 0 (later records only hold ``H_f``). ``seen``
grows by one id per session joined; an epoch reset never starts a silo on a
new chain, it only lets the stuck round run again from the same head.

The JSON record is versioned. Version 2 adds ``reset_digests``; a version 1
file (written before resets existed) still loads, as a ledger with no reset
applied, and the next save writes version 2.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from hmac import compare_digest
from typing import Protocol

from fedsilo.errors import (
    AlreadyRevealedError,
    ConfigError,
    EquivocationRefusedError,
    LocalProtocolError,
    ResetRefusedError,
    ResetReplayError,
    RoundOrderError,
    SessionReplayError,
)
from fedsilo.protocol.chain import HEAD_BYTES, ChainHead
from fedsilo.protocol.strict_json import (
    exact_keys,
    hex_bytes,
    json_list,
    json_object,
    load_object,
    natural,
    require_version,
)

VERSION = "fedsilo/silo-ledger/v2"
VERSION_1 = "fedsilo/silo-ledger/v1"
"""Written before epoch resets existed; loaded as a ledger with no reset applied."""

_V1_KEYS = frozenset({"version", "final_round", "head", "seen", "sessions"})
_RECORD_KEYS = _V1_KEYS | {"reset_digests"}
_SESSION_KEYS = frozenset({"session_id", "view", "response", "abandoned"})


def _short(value: bytes) -> str:
    return f"{value.hex()[:16]}…"


@dataclass(frozen=True)
class SessionRecord:
    """What the silo decided in one session of the round it is working on."""

    session_id: bytes
    view: bytes | None = None
    """Opaque digest of the one survivor view signed in this session."""
    response: bytes | None = None
    """The exact serialized unmasking response sent in this session."""
    abandoned: bool = False


@dataclass(frozen=True)
class LedgerRecord:
    """Everything a silo must remember across restarts; checked when built."""

    final_round: int
    head: bytes
    """``H`` of the last final round (``H_0`` = the genesis)."""
    seen: frozenset[bytes] = field(default_factory=frozenset)
    """Every session id ever admitted."""
    sessions: tuple[SessionRecord, ...] = ()
    """The sessions of round ``final_round + 1`` only, in admission order."""
    reset_digests: tuple[bytes, ...] = ()
    """The digest of every epoch reset applied, in order (reset ``k`` at ``[k - 1]``)."""

    def __post_init__(self) -> None:
        _check_record(self)

    @property
    def resets(self) -> int:
        """How many epoch resets this silo has applied."""
        return len(self.reset_digests)

    def to_json(self) -> str:
        """The versioned, canonical JSON form (hex bytes, sorted ``seen``)."""
        return json.dumps(
            {
                "version": VERSION,
                "final_round": self.final_round,
                "head": self.head.hex(),
                "seen": sorted(s.hex() for s in self.seen),
                "sessions": [
                    {
                        "session_id": s.session_id.hex(),
                        "view": None if s.view is None else s.view.hex(),
                        "response": None if s.response is None else s.response.hex(),
                        "abandoned": s.abandoned,
                    }
                    for s in self.sessions
                ],
                "reset_digests": [d.hex() for d in self.reset_digests],
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> LedgerRecord:
        """Parse :meth:`to_json` output (or a version 1 record); anything else raises a
        one-line ConfigError."""
        data = load_object(text)
        version = require_version(data, "version", VERSION, VERSION_1)
        exact_keys(data, _V1_KEYS if version == VERSION_1 else _RECORD_KEYS, "the record")
        seen_hex = json_list(data["seen"], "seen", "hex session ids")
        seen = [hex_bytes(value, f"seen[{i}]") for i, value in enumerate(seen_hex)]
        if seen != sorted(set(seen), key=bytes.hex):
            raise ConfigError("seen: session ids must be sorted and unique")
        sessions = json_list(data["sessions"], "sessions", "sessions")
        resets = json_list(data.get("reset_digests", []), "reset_digests", "hex digests")
        return cls(
            final_round=natural(data["final_round"], "final_round"),
            head=hex_bytes(data["head"], "head"),
            seen=frozenset(seen),
            sessions=tuple(_session(value, f"sessions[{i}]") for i, value in enumerate(sessions)),
            reset_digests=tuple(
                hex_bytes(value, f"reset_digests[{i}]") for i, value in enumerate(resets)
            ),
        )


def _check_record(record: LedgerRecord) -> None:
    if record.final_round < 0:
        raise ConfigError(f"final_round: must be >= 0, got {record.final_round}")
    if len(record.head) != HEAD_BYTES:
        raise ConfigError(f"head: must be {HEAD_BYTES} bytes, got {len(record.head)}")
    if b"" in record.seen:
        raise ConfigError("seen: a session id is never empty")
    ids: set[bytes] = set()
    last = len(record.sessions) - 1
    for i, session in enumerate(record.sessions):
        where = f"sessions[{i}]"
        if session.session_id not in record.seen:
            raise ConfigError(f"{where}: session id {_short(session.session_id)} is not in seen")
        if session.session_id in ids:
            raise ConfigError(f"{where}: session id {_short(session.session_id)} is listed twice")
        ids.add(session.session_id)
        if not session.abandoned and i != last:
            raise ConfigError(f"{where}: only the latest session of the round can be live")
        if session.response is not None and session.view is None:
            raise ConfigError(f"{where}: has a response but no view")
        if session.response is not None and session.abandoned:
            raise ConfigError(f"{where}: a session that revealed is never abandoned")
    for i, reset in enumerate(record.reset_digests):
        if len(reset) != HEAD_BYTES:
            raise ConfigError(f"reset_digests[{i}]: must be {HEAD_BYTES} bytes, got {len(reset)}")
    if len(set(record.reset_digests)) != len(record.reset_digests):
        raise ConfigError("reset_digests: an epoch reset is applied once")


def _session(value: object, where: str) -> SessionRecord:
    value = json_object(value, where)
    exact_keys(value, _SESSION_KEYS, where)
    abandoned = value["abandoned"]
    if not isinstance(abandoned, bool):
        raise ConfigError(f"{where}.abandoned: expected true or false")
    view, response = value["view"], value["response"]
    return SessionRecord(
        session_id=hex_bytes(value["session_id"], f"{where}.session_id"),
        view=None if view is None else hex_bytes(view, f"{where}.view"),
        response=None if response is None else hex_bytes(response, f"{where}.response"),
        abandoned=abandoned,
    )


class LedgerStore(Protocol):
    """Where a silo's :class:`LedgerRecord` lives between restarts."""

    def load(self) -> LedgerRecord | None:
        """The last saved record, or None if nothing was ever saved."""
        ...

    def save(self, record: LedgerRecord) -> None:
        """Make ``record`` durable before returning; raise DurabilityError otherwise."""
        ...


class InMemoryLedgerStore:
    """A store that lives as long as the process (tests, simulation).

    It keeps the JSON text, not the object, so what it loads has been through
    the same serialization as a file on disk.
    """

    def __init__(self) -> None:
        self._text: str | None = None
        self._saves = 0

    @property
    def saves(self) -> int:
        """How many records were saved (each a durable write in a real store)."""
        return self._saves

    def load(self) -> LedgerRecord | None:
        return None if self._text is None else LedgerRecord.from_json(self._text)

    def save(self, record: LedgerRecord) -> None:
        self._text = record.to_json()
        self._saves += 1


@dataclass(frozen=True)
class Admission:
    """What :meth:`RoundLedger.admit` decided about a session."""

    resumed: bool
    """True when this is the session the silo already joined for this round."""
    view: bytes | None
    """The view already signed in the resumed session, if any."""
    response: bytes | None
    """The response already sent in the resumed session: re-send these bytes verbatim."""


class RoundLedger:
    """A silo's durable record of rounds, sessions, views and reveals (see the module doc)."""

    def __init__(self, store: LedgerStore, genesis: bytes) -> None:
        if len(genesis) != HEAD_BYTES:
            raise ConfigError(f"a genesis head is {HEAD_BYTES} bytes, got {len(genesis)}")
        record = store.load()
        if record is None:
            record = LedgerRecord(final_round=0, head=bytes(genesis))
        elif record.final_round == 0 and not compare_digest(record.head, genesis):
            raise ConfigError(
                f"the silo ledger starts on genesis {_short(record.head)}, this config's is "
                f"{_short(genesis)}: it belongs to another federation config; restore this "
                "silo's own ledger (a new chain needs a signed epoch reset)"
            )
        self._store = store
        self._record = record

    @property
    def final_round(self) -> int:
        return self._record.final_round

    @property
    def head(self) -> bytes:
        return self._record.head

    @property
    def chain(self) -> ChainHead:
        return ChainHead(self._record.final_round, self._record.head)

    @property
    def record(self) -> LedgerRecord:
        return self._record

    @property
    def resets(self) -> int:
        """How many epoch resets this silo has applied."""
        return self._record.resets

    def reset_applied(self, record_digest: bytes) -> bool:
        """True when the epoch reset with this digest was already applied here."""
        return bytes(record_digest) in self._record.reset_digests

    def admit(self, round_number: int, session_id: bytes, chain_head: bytes) -> Admission:
        """Join (or resume) ``session_id`` for ``round_number`` on ``chain_head``."""
        self.chain.require_next(round_number, chain_head)
        record = self._record
        latest = record.sessions[-1] if record.sessions else None
        if latest is not None and not latest.abandoned and latest.session_id == session_id:
            return Admission(resumed=True, view=latest.view, response=latest.response)
        if not session_id:
            raise LocalProtocolError("a session id is never empty: check the announcement first")
        if session_id in record.seen:
            raise SessionReplayError(self._replay_message(session_id))
        revealed = self._revealed_session()
        if revealed is not None:
            raise AlreadyRevealedError(
                f"round {round_number} was already unmasked in session "
                f"{_short(revealed.session_id)}: this silo joins no other session of round "
                f"{round_number} (finish that round from the journals)"
            )
        sessions = (
            *(replace(s, abandoned=True) for s in record.sessions),
            SessionRecord(session_id),
        )
        self._commit(replace(record, seen=record.seen | {session_id}, sessions=sessions))
        return Admission(resumed=False, view=None, response=None)

    def record_view(self, session_id: bytes, view: bytes) -> None:
        """Durably record the one survivor view signed in ``session_id``, before signing it."""
        index, session = self._live_session(session_id)
        if session.view is not None:
            if compare_digest(session.view, view):
                return
            raise EquivocationRefusedError(
                f"session {_short(session_id)} of round {self.final_round + 1} asks for a second "
                "survivor view: this silo signs one view per session"
            )
        self._replace_session(index, replace(session, view=bytes(view)))

    def record_reveal(self, session_id: bytes, response: bytes) -> None:
        """Durably record the unmasking response of ``session_id``, before sending it."""
        index, session = self._live_session(session_id)
        round_number = self.final_round + 1
        revealed = self._revealed_session()
        if revealed is not None and revealed.session_id != session_id:
            raise AlreadyRevealedError(
                f"round {round_number} was already unmasked in session "
                f"{_short(revealed.session_id)}: this silo reveals once per round"
            )
        if session.view is None:
            raise LocalProtocolError(
                f"session {_short(session_id)}: record the signed view before the reveal"
            )
        if session.response is not None:
            if compare_digest(session.response, response):
                return
            raise EquivocationRefusedError(
                f"session {_short(session_id)} of round {round_number} asks for a second, "
                "different unmasking response: this silo reveals once per round"
            )
        self._replace_session(index, replace(session, response=bytes(response)))

    def revealed(self, session_id: bytes) -> bytes | None:
        """The response recorded in ``session_id`` of the current round, if any."""
        for session in self._record.sessions:
            if session.session_id == session_id:
                return session.response
        return None

    def finalize(self, round_number: int, head: bytes) -> None:
        """Move the chain to ``(round_number, head)`` once the silo verified that round."""
        current = self.chain
        if round_number != current.next_round:
            raise RoundOrderError(
                f"cannot finalize round {round_number}: this silo's last final round is "
                f"{current.round}, so only round {current.next_round} can be finalized next"
            )
        if len(head) != HEAD_BYTES:
            raise LocalProtocolError(f"a chain head is {HEAD_BYTES} bytes, got {len(head)}")
        self._commit(
            LedgerRecord(
                final_round=round_number,
                head=bytes(head),
                seen=self._record.seen,
                reset_digests=self._record.reset_digests,
            )
        )

    def apply_reset(
        self, record_digest: bytes, reset_index: int, failed_round: int, resume_head: bytes
    ) -> None:
        """Durably let the stuck round ``failed_round`` run again, once, from ``resume_head``.

        The caller has verified the reset record (``fedsilo.protocol.reset.verify_reset``)
        and passes its ``reset_digest``. Refuses a reset for another round or head, one
        out of order and one already applied; see the module doc."""
        if len(record_digest) != HEAD_BYTES:
            raise LocalProtocolError(
                f"a reset digest is {HEAD_BYTES} bytes, got {len(record_digest)}"
            )
        self._require_reset(bytes(record_digest), reset_index, failed_round, resume_head)
        record = self._record
        self._commit(
            LedgerRecord(
                final_round=record.final_round,
                head=record.head,
                seen=record.seen,
                reset_digests=(*record.reset_digests, bytes(record_digest)),
            )
        )

    def _require_reset(
        self, record_digest: bytes, reset_index: int, failed_round: int, resume_head: bytes
    ) -> None:
        applied, current = self._record.resets, self.chain
        if record_digest in self._record.reset_digests:
            raise ResetReplayError(
                f"epoch reset {_short(record_digest)} was already applied here (reset "
                f"{self._record.reset_digests.index(record_digest) + 1}): a reset takes "
                "effect once"
            )
        if reset_index <= applied:
            raise ResetReplayError(
                f"epoch reset {reset_index} was already used by this silo (it applied "
                f"{applied}): a replayed or second reset {reset_index} is refused"
            )
        if reset_index != applied + 1:
            raise ResetRefusedError(
                f"epoch reset {reset_index} arrives before reset {applied + 1}: this silo "
                f"applied {applied} reset(s) and takes them in order"
            )
        if failed_round != current.next_round:
            raise ResetRefusedError(
                f"the epoch reset names failed round {failed_round}, but this silo's last "
                f"final round is {current.round}: only round {current.next_round} can be reset"
            )
        if not compare_digest(bytes(resume_head), current.head):
            raise ResetRefusedError(
                f"the epoch reset resumes round {failed_round} from chain head "
                f"{_short(bytes(resume_head))}, this silo is at {_short(current.head)}: "
                "it names another model or history"
            )

    def _commit(self, record: LedgerRecord) -> None:
        self._store.save(record)  # durable first: a DurabilityError leaves memory as it was
        self._record = record

    def _revealed_session(self) -> SessionRecord | None:
        return next((s for s in self._record.sessions if s.response is not None), None)

    def _live_session(self, session_id: bytes) -> tuple[int, SessionRecord]:
        for index, session in enumerate(self._record.sessions):
            if session.session_id == session_id and not session.abandoned:
                return index, session
        raise SessionReplayError(self._replay_message(session_id))

    def _replay_message(self, session_id: bytes) -> str:
        round_number = self.final_round + 1
        if any(s.session_id == session_id for s in self._record.sessions):
            return (
                f"session {_short(session_id)} of round {round_number} was abandoned when this "
                "silo joined a later session: it never takes part in it again"
            )
        if session_id in self._record.seen:
            return (
                f"session {_short(session_id)} belongs to a round before {round_number}: "
                "this silo never reuses a session id"
            )
        return (
            f"session {_short(session_id)} was never joined in round {round_number}: "
            "admit a session before recording anything in it"
        )

    def _replace_session(self, index: int, session: SessionRecord) -> None:
        sessions = list(self._record.sessions)
        sessions[index] = session
        self._commit(replace(self._record, sessions=tuple(sessions)))
