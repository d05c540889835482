"""The steps after the money: restock, sync, notify and complete."""

from __future__ import annotations

from returnbridge.domain.returns import ReturnStatus
from returnbridge.engine.runtime import Runtime
from returnbridge.engine.step_records import (
    StepOutcome,
    advance,
    connection_of,
    load_return,
    reached,
    transaction,
)
from returnbridge.store import refunds as refund_store


def restock(runtime: Runtime, tenant_id: str, return_id: str) -> StepOutcome:
    """Record the restock; on platforms that restock inside the refund it already happened."""
    with transaction(runtime) as session:
        record, canonical = load_return(session, tenant_id, return_id)
        if reached(record.status, ReturnStatus.RESTOCKED):
            return StepOutcome(record.status, {})
        if not canonical.restock or not canonical.lines:
            advance(
                session,
                record,
                ReturnStatus.RESTOCKED,
                event="step_skipped",
                reason="no goods to restock (refund only or restock disabled)",
            )
        else:
            connection = connection_of(session, record)
            made = refund_store.platform_refund_ids(session, return_id, tenant_id=tenant_id)
            advance(
                session,
                record,
                ReturnStatus.RESTOCKED,
                event="restocked",
                reason=f"restocked with the {connection.platform} refund",
                data={"platform_refund_ids": made},
            )
    return StepOutcome(ReturnStatus.RESTOCKED, {})


def skip_to(
    runtime: Runtime, tenant_id: str, return_id: str, target: ReturnStatus, *, reason: str
) -> StepOutcome:
    """Walk a step that does not apply (no returns system, no notification configured)."""
    with transaction(runtime) as session:
        record, _ = load_return(session, tenant_id, return_id)
        advance(session, record, target, event="step_skipped", reason=reason)
    return StepOutcome(str(target), {})


def complete(runtime: Runtime, tenant_id: str, return_id: str) -> StepOutcome:
    with transaction(runtime) as session:
        record, _ = load_return(session, tenant_id, return_id)
        advance(session, record, ReturnStatus.COMPLETED, event="completed")
    return StepOutcome(ReturnStatus.COMPLETED, {})
