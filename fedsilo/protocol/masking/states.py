"""The transition tables of the masking sessions: the table is the spec.

A session accepts a message only if ``(state, type(message))`` is a key of its
table; it then moves to the value. Any other pair raises
:class:`~fedsilo.errors.UnexpectedMessageError` and the session is ABORTED.
``docs/protocol-masking.md`` draws these tables.
"""

from __future__ import annotations

import enum

from fedsilo.protocol.messages import (
    AdvertList,
    ConsistencySignature,
    KeyAdvert,
    MaskedInput,
    ShareRelay,
    ShareUpload,
    SignatureBundle,
    SurvivorList,
    UnmaskingShares,
)


class SiloState(enum.Enum):
    NEW = "new"
    AWAIT_ADVERTS = "await-adverts"
    AWAIT_SHARES = "await-shares"
    AWAIT_SURVIVORS = "await-survivors"
    AWAIT_SIGNATURES = "await-signatures"
    DONE = "done"
    ABORTED = "aborted"


SILO_TRANSITIONS: dict[tuple[SiloState, type], SiloState] = {
    (SiloState.AWAIT_ADVERTS, AdvertList): SiloState.AWAIT_SHARES,
    (SiloState.AWAIT_SHARES, ShareRelay): SiloState.AWAIT_SURVIVORS,
    (SiloState.AWAIT_SURVIVORS, SurvivorList): SiloState.AWAIT_SIGNATURES,
    (SiloState.AWAIT_SIGNATURES, SignatureBundle): SiloState.DONE,
}


class AggregatorState(enum.Enum):
    COLLECT_ADVERTS = "collect-adverts"
    COLLECT_SHARES = "collect-shares"
    COLLECT_INPUTS = "collect-inputs"
    COLLECT_SIGNATURES = "collect-signatures"
    COLLECT_UNMASKING = "collect-unmasking"
    DONE = "done"
    ABORTED = "aborted"


# The aggregator stays in a state while it collects; ``close_stage`` (all
# expected silos answered, or the deadline passed) moves it to the next one.
AGGREGATOR_ACCEPTS: dict[AggregatorState, type] = {
    AggregatorState.COLLECT_ADVERTS: KeyAdvert,
    AggregatorState.COLLECT_SHARES: ShareUpload,
    AggregatorState.COLLECT_INPUTS: MaskedInput,
    AggregatorState.COLLECT_SIGNATURES: ConsistencySignature,
    AggregatorState.COLLECT_UNMASKING: UnmaskingShares,
}

AGGREGATOR_NEXT: dict[AggregatorState, AggregatorState] = {
    AggregatorState.COLLECT_ADVERTS: AggregatorState.COLLECT_SHARES,
    AggregatorState.COLLECT_SHARES: AggregatorState.COLLECT_INPUTS,
    AggregatorState.COLLECT_INPUTS: AggregatorState.COLLECT_SIGNATURES,
    AggregatorState.COLLECT_SIGNATURES: AggregatorState.COLLECT_UNMASKING,
    AggregatorState.COLLECT_UNMASKING: AggregatorState.DONE,
}
