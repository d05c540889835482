"""The steps after the money: sync, notify and complete (restock: `engine/restocking.py`).

A step with nothing to do writes nothing: its move along the main path is recorded, with a
`step_skipped` event, in the next step's write (the refund step records a restock that
happened inside the refund; the complete step records skipped sync and notify). Each
transition is still written exactly once, and a step that has real work records its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from returnbridge.domain.returns import ReturnStatus
from returnbridge.engine.runtime import Runtime
from returnbridge.engine.step_records import (
    StepOutcome,
    advance_through,
    load_return,
    transaction,
)
from returnbridge.store.step_rows import Hop

NO_RETURNS_SYSTEM = "no returns system connected"
NO_NOTIFICATIONS = "customer notifications not configured"


def restock_skipped() -> Hop:
    return Hop(
        ReturnStatus.RESTOCKED,
        "step_skipped",
        "no goods to restock (refund only or restock disabled)",
    )


def restocked_in_refund(platform: str, refund_ids: list[str]) -> Hop:
    return Hop(
        ReturnStatus.RESTOCKED,
        "restocked",
        f"restocked with the {platform} refund",
        {"platform_refund_ids": refund_ids},
    )


def skip(target: ReturnStatus, reason: str) -> StepOutcome:
    """A step that does not apply (no returns system, no notification configured): nothing
    is written now; `complete` records it."""
    return StepOutcome(target, skipped=reason)


def complete(
    runtime: Runtime,
    tenant_id: str,
    return_id: str,
    *,
    skipped: Sequence[tuple[ReturnStatus, str]] = (),
) -> StepOutcome:
    """Complete the return, recording first the steps that were skipped (status, reason)."""
    hops = [Hop(status, "step_skipped", reason) for status, reason in skipped]
    with transaction(runtime) as session:
        record, _ = load_return(session, tenant_id, return_id)
        advance_through(session, record, [*hops, Hop(ReturnStatus.COMPLETED, "completed")])
    return StepOutcome(ReturnStatus.COMPLETED)
