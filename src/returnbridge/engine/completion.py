"""The steps after the money: restock, sync, notify and complete.

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
    connection_of,
    load_return,
    reached,
    transaction,
)
from returnbridge.store import refunds as refund_store
from returnbridge.store.step_rows import Hop

NO_RETURNS_SYSTEM = "no returns system connected"
NO_NOTIFICATIONS = "customer notifications not configured"


def restock(
    runtime: Runtime, tenant_id: str, return_id: str, *, after: ReturnStatus | None = None
) -> StepOutcome:
    """Record the restock; on platforms that restock inside the refund it already happened.

    ``after`` is the status the refund step left: when that is already past the restock (the
    refund step recorded it), there is nothing to read or write.
    """
    if after is not None and reached(after, ReturnStatus.RESTOCKED):
        return StepOutcome(after)
    with transaction(runtime) as session:
        record, canonical = load_return(session, tenant_id, return_id)
        if reached(record.status, ReturnStatus.RESTOCKED):
            return StepOutcome(record.status)
        if not canonical.restock or not canonical.lines:
            advance_through(session, record, [restock_skipped()])
        else:
            connection = connection_of(session, record)
            made = refund_store.platform_refund_ids(session, return_id, tenant_id=tenant_id)
            advance_through(session, record, [restocked_in_refund(connection.platform, made)])
    return StepOutcome(ReturnStatus.RESTOCKED)


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
