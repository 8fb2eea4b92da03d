"""The aggregator's round driver: deadlines, the join wait, restarts and the final record.

The driver owns time and nothing else: it opens a round's session in the
:class:`~fedsilo.runtime.mailbox.Mailbox`, closes each stage when its deadline
(``timeouts.stages`` of the config) passes, re-runs the round as a new session
when nothing was revealed yet (a partial upload, a survivor that did not sign
the consistency check; at most ``MAX_SESSIONS_PER_ROUND`` sessions), finishes a
journaled session after a crash instead of re-running it, and says how the round
ended. Every message in and out goes through the mailbox.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from fedsilo.config.model import FederationConfig
from fedsilo.config.schemes import stage_timeout
from fedsilo.errors import FedsiloError, PartialInputError, UnverifiableReleaseError
from fedsilo.protocol.chain import aggregate_sha256
from fedsilo.protocol.events import AggregateReleased, RoundAborted, SiloDropped
from fedsilo.protocol.outputs import Completed
from fedsilo.runtime.events import EventLog
from fedsilo.runtime.journal import JournaledSession
from fedsilo.runtime.mailbox import Mailbox
from fedsilo.runtime.rounds import RoundPlan, RoundRecord, SessionState

MAX_SESSIONS_PER_ROUND = 3


class RoundDriver:
    """Runs rounds on a mailbox, one session at a time, against the config's deadlines."""

    def __init__(
        self,
        mailbox: Mailbox,
        *,
        config: FederationConfig,
        log: EventLog,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.mailbox, self.config = mailbox, config
        self._log, self._monotonic = log, monotonic
        self._cond = mailbox.condition

    def run_round(self, plan: RoundPlan) -> RoundRecord:
        """Run one round, re-running it as a new session after a partial upload, or when a
        survivor did not sign the consistency check (both before anything is revealed)."""
        record = RoundRecord(plan.round, b"")
        for _ in range(MAX_SESSIONS_PER_ROUND):
            record = self._drive(self.mailbox.open(plan))
            if not isinstance(record.error, PartialInputError | UnverifiableReleaseError):
                return record
            self._log("session-restart", round=plan.round, reason=str(record.error))
        return record

    def resume(self, journaled: JournaledSession) -> RoundRecord:
        """Finish the journaled session of a round that reached unmasking before a crash."""
        return self._drive(self.mailbox.restore(journaled))

    def _drive(self, session: SessionState) -> RoundRecord:
        core = session.core
        with self._cond:
            while core.ending is None:
                stage = core.stage
                assert stage is not None
                deadline = self._monotonic() + stage_timeout(self.config, stage)
                while core.stage == stage and not self.mailbox.stopping:
                    left = deadline - self._monotonic()
                    if left <= 0:
                        self._close_stage(session, stage)
                        break
                    self._cond.wait(min(left, 0.5))
                if self.mailbox.stopping:
                    return RoundRecord(
                        session.ctx.round, session.ctx.session_id, error=FedsiloError("stopped")
                    )
            return self._finish(session)

    def _close_stage(self, session: SessionState, stage: str) -> None:
        roster = self.mailbox.roster
        missing = roster.names(session.core.waiting_for)
        self._log("deadline", stage=stage, missing=list(missing))
        for silo in missing:
            self._log.emit(SiloDropped(session.ctx.round, silo, stage))
        self.mailbox.close_stage(session, stage)

    def _finish(self, session: SessionState) -> RoundRecord:
        ctx, names, ending = session.ctx, self.mailbox.roster.names, session.core.ending
        if not isinstance(ending, Completed):
            error = ending.error if ending else FedsiloError("the session ended without a result")
            missing = getattr(error, "missing", ())
            self.mailbox.publish_outcome(session, False, str(error), ())
            self._log.emit(RoundAborted(ctx.round, str(error), tuple(map(str, missing))))
            return RoundRecord(ctx.round, ctx.session_id, error=error, missing=tuple(missing))
        result = ending.result
        self.mailbox.publish_outcome(session, True, "released", result.survivors)
        record = RoundRecord(
            ctx.round,
            ctx.session_id,
            names(result.survivors),
            names(result.dropped),
            np.array(result.total, dtype=result.total.dtype),
            acks=dict(ending.acks),
            result=result,
            evidence=ending.evidence,
            downloads=dict(session.downloads),
        )
        self._log.emit(
            AggregateReleased(
                ctx.round,
                "sha256:" + aggregate_sha256(result.total).hex(),
                record.survivors,
                record.dropped,
            )
        )
        return record

    def await_joins(self, timeout: float) -> list[str]:
        """Before the first round: wait up to ``timeout`` seconds (``timeouts.join``) for
        every silo to join, so that slow starters are not left out of round 1. Returns who
        is still missing."""
        roster = self.mailbox.roster
        names = set(roster.names(range(1, roster.size + 1)))
        with self._cond:
            self._cond.wait_for(
                lambda: names <= self.mailbox.joined or self.mailbox.stopping, timeout
            )
            return sorted(names - self.mailbox.joined)

    def await_fetches(self, timeout: float) -> None:
        """After the last round: give the survivors ``timeout`` seconds to fetch the result."""
        with self._cond:
            session = self.mailbox.current
            ending = None if session is None else session.core.ending
            if session is None or not isinstance(ending, Completed):
                return
            survivors = set(ending.result.survivors)
            self._cond.wait_for(
                lambda: survivors <= session.fetched or self.mailbox.stopping, timeout
            )

    def stop(self) -> None:
        """End the round in progress (it records "stopped") and every wait."""
        self.mailbox.stop()
