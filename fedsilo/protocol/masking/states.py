"""The transition tables of the masking sessions: the table is the spec.

A session accepts a message only if ``(state, type(message))`` is a key of its
table; it then moves to the value. Any other pair raises
:class:`~fedsilo.errors.UnexpectedMessageError` and the session is ABORTED.
``docs/protocol-masking.md`` draws these tables.
"""

from __future__ import annotations

import enum

from fedsilo.protocol.masking.messages import (
    AdvertList,
    ConsistencySignature,
    InputCommitment,
    KeyAdvert,
    MaskedInput,
    MaskingSet,
    ReleaseBundle,
    ShareCheck,
    ShareRelay,
    ShareUpload,
    SignatureBundle,
    SurvivorList,
    UnmaskingShares,
)
from fedsilo.protocol.messages import Ack


class SiloState(enum.Enum):
    NEW = "new"
    AWAIT_ADVERTS = "await-adverts"
    AWAIT_SHARES = "await-shares"
    AWAIT_MASKING_SET = "await-masking-set"
    AWAIT_SURVIVORS = "await-survivors"
    AWAIT_SIGNATURES = "await-signatures"
    AWAIT_RELEASE = "await-release"
    VERIFIED = "verified"
    DONE = "done"
    ABORTED = "aborted"


SILO_TRANSITIONS: dict[tuple[SiloState, type], SiloState] = {
    (SiloState.AWAIT_ADVERTS, AdvertList): SiloState.AWAIT_SHARES,
    (SiloState.AWAIT_SHARES, ShareRelay): SiloState.AWAIT_MASKING_SET,
    (SiloState.AWAIT_MASKING_SET, MaskingSet): SiloState.AWAIT_SURVIVORS,
    (SiloState.AWAIT_SURVIVORS, SurvivorList): SiloState.AWAIT_SIGNATURES,
    (SiloState.AWAIT_SIGNATURES, SignatureBundle): SiloState.AWAIT_RELEASE,
    (SiloState.AWAIT_RELEASE, ReleaseBundle): SiloState.VERIFIED,
}
# VERIFIED -> DONE is not a message: the caller derives the next model from the verified
# aggregate and calls ``acknowledge(link)``, which finalizes the round and signs the ack.


class AggregatorState(enum.Enum):
    COLLECT_ADVERTS = "collect-adverts"
    COLLECT_SHARES = "collect-shares"
    COLLECT_CHECKS = "collect-checks"
    COLLECT_INPUTS = "collect-inputs"
    COLLECT_SIGNATURES = "collect-signatures"
    COLLECT_UNMASKING = "collect-unmasking"
    COLLECT_ACKS = "collect-acks"
    DONE = "done"
    ABORTED = "aborted"


# The aggregator stays in a state while it collects; ``close_stage`` (all
# expected silos answered, or the deadline passed) moves it to the next one.
AGGREGATOR_ACCEPTS: dict[AggregatorState, tuple[type, ...]] = {
    AggregatorState.COLLECT_ADVERTS: (KeyAdvert,),
    AggregatorState.COLLECT_SHARES: (ShareUpload,),
    AggregatorState.COLLECT_CHECKS: (ShareCheck,),
    AggregatorState.COLLECT_INPUTS: (MaskedInput, InputCommitment),
    AggregatorState.COLLECT_SIGNATURES: (ConsistencySignature,),
    AggregatorState.COLLECT_UNMASKING: (UnmaskingShares,),
    AggregatorState.COLLECT_ACKS: (Ack,),
}

AGGREGATOR_NEXT: dict[AggregatorState, AggregatorState] = {
    AggregatorState.COLLECT_ADVERTS: AggregatorState.COLLECT_SHARES,
    AggregatorState.COLLECT_SHARES: AggregatorState.COLLECT_CHECKS,
    AggregatorState.COLLECT_CHECKS: AggregatorState.COLLECT_INPUTS,
    AggregatorState.COLLECT_INPUTS: AggregatorState.COLLECT_SIGNATURES,
    AggregatorState.COLLECT_SIGNATURES: AggregatorState.COLLECT_UNMASKING,
    AggregatorState.COLLECT_UNMASKING: AggregatorState.COLLECT_ACKS,
    AggregatorState.COLLECT_ACKS: AggregatorState.DONE,
}


def transition_diagram() -> str:
    """The two transition tables as Mermaid state diagrams (pasted into the docs)."""
    lines = ["```mermaid", "stateDiagram-v2", "    %% silo session"]
    lines.append(f"    [*] --> {SiloState.AWAIT_ADVERTS.name}: start() / KeyAdvert")
    for (silo_state, message_type), silo_target in SILO_TRANSITIONS.items():
        lines.append(f"    {silo_state.name} --> {silo_target.name}: {message_type.__name__}")
    lines.append(
        f"    {SiloState.VERIFIED.name} --> {SiloState.DONE.name}: acknowledge(link) / Ack"
    )
    lines.append(f"    {SiloState.DONE.name} --> [*]")
    lines.append("    note right of ABORTED: any other (state, message) pair, or a failed check")
    lines += ["```", "", "```mermaid", "stateDiagram-v2", "    %% aggregator session"]
    lines.append(f"    [*] --> {AggregatorState.COLLECT_ADVERTS.name}")
    for state, target in AGGREGATOR_NEXT.items():
        kind = " + ".join(t.__name__ for t in AGGREGATOR_ACCEPTS[state])
        lines.append(f"    {state.name} --> {state.name}: {kind} (fold / store)")
        lines.append(
            f"    {state.name} --> {target.name}: all answered, or close_stage() with >= t"
        )
    lines.append(f"    {AggregatorState.DONE.name} --> [*]")
    lines.append(
        "    note right of ABORTED: close_stage() with fewer than t, a partial input, "
        "or a survivor's missing consistency signature"
    )
    lines.append("```")
    return "\n".join(lines)
