"""The first step: honour the vendor's own status before anything else happens."""

from __future__ import annotations

from returnbridge.domain.lifecycle import can_transition
from returnbridge.domain.returns import ReturnStatus
from returnbridge.engine import notifying
from returnbridge.engine.runtime import Runtime
from returnbridge.engine.step_records import (
    StepOutcome,
    load_return,
    park,
    transaction,
)
from returnbridge.store import returns as return_store

HOLD_KEY = "hold_for_review"
"""Metadata key of a `requested` return held for a person on purpose (the MCP gateway's
guardrails): its text becomes the review reason."""


def admit(runtime: Runtime, tenant_id: str, return_id: str) -> StepOutcome:
    """Honour the vendor's own status: a withdrawn return is cancelled, an unapproved one waits.

    Only an `approved` return moves money. `cancelled` cancels it while that is still allowed
    (before any money moved); `requested` parks it for a human until an approved revision comes.
    """
    with runtime.reads() as session:  # only reads: no write lock (SQLite) or row lock
        record, canonical = load_return(session, tenant_id, return_id, lock=False)
        status = record.status
    if canonical.approved:
        return StepOutcome(status, admitted=True)
    if canonical.status == "cancelled":
        if can_transition(status, ReturnStatus.CANCELLED):
            with transaction(runtime) as session:
                return_store.record_transition(
                    session,
                    return_id,
                    tenant_id=tenant_id,
                    to_status=ReturnStatus.CANCELLED,
                    event="cancelled",
                    actor="vendor",
                    reason="the vendor withdrew the return",
                    allowed=can_transition,
                )
            return StepOutcome(ReturnStatus.CANCELLED)
        return park(
            runtime,
            tenant_id,
            return_id,
            status=ReturnStatus.NEEDS_REVIEW,
            event="cancel_too_late",
            reason=f"the vendor withdrew the return, but it is already {status}",
        )
    hold = canonical.metadata.get(HOLD_KEY)
    parked = park(
        runtime,
        tenant_id,
        return_id,
        status=ReturnStatus.NEEDS_REVIEW,
        event="awaiting_approval",
        reason=f"held for a person: {hold}"
        if isinstance(hold, str) and hold
        else "the return is only requested: send a revision with status 'approved'",
    )
    notifying.tell_customer(runtime, tenant_id, return_id, "return_received")
    return parked
