"""The match step: find the return's order on the platform, or hand the choice to a human."""

from __future__ import annotations

from sqlalchemy.orm import Session

from returnbridge.connectors.base.connector import OrderConnector, OrderQuery
from returnbridge.domain.matching import decide_match
from returnbridge.domain.returns import CanonicalReturn, ReturnStatus
from returnbridge.engine.runtime import Runtime
from returnbridge.engine.step_records import (
    StepOutcome,
    advance,
    classify,
    connection_of,
    load_return,
    park,
    reached,
    transaction,
)
from returnbridge.store import returns as return_store
from returnbridge.store.step_rows import StepRow, stage_matched_order


def match_order(runtime: Runtime, tenant_id: str, return_id: str) -> StepOutcome:
    """Find the order: by platform id (taken as given), else by order number / email / SKUs."""
    with transaction(runtime) as session:
        record, canonical = load_return(session, tenant_id, return_id)
        if reached(record.status, ReturnStatus.MATCHED) and record.matched_order_id:
            return StepOutcome(record.status, {"order_id": record.matched_order_id})
        order_id = canonical.order.platform_order_id
        if order_id:
            # No call: the plan step reads the order next (and records its name), and parks
            # the return with `order_not_found` if the platform has no such order.
            _write_match(session, record, order_id, None, how="id")
            return StepOutcome(ReturnStatus.MATCHED, {"order_id": order_id})
        connection = connection_of(session, record)
        connector = runtime.connector(connection)
    try:
        return _match(runtime, tenant_id, return_id, canonical, connector)
    except Exception as error:
        return classify(runtime, tenant_id, return_id, error, step="match")
    finally:
        connector.close()


def _match(
    runtime: Runtime,
    tenant_id: str,
    return_id: str,
    canonical: CanonicalReturn,
    connector: OrderConnector,
) -> StepOutcome:
    reference = canonical.order
    skus = tuple(line.sku for line in canonical.lines if line.sku)
    query = OrderQuery(
        name=reference.order_number,
        email=reference.customer_email,
        skus=() if reference.order_number else skus,
        limit=10,
    )
    candidates = connector.find_orders(query)
    decision = decide_match(reference, candidates, skus=skus)
    summary = [
        {
            "order_id": c.id,
            "name": c.name,
            "email": c.email,
            "created_at": c.created_at.isoformat() if c.created_at else None,
            "total": c.total,
            "currency": c.currency,
        }
        for c in decision.candidates
    ]
    with transaction(runtime) as session:
        return_store.set_candidates(session, return_id, tenant_id=tenant_id, candidates=summary)
    if decision.order_id is None:
        return park(
            runtime,
            tenant_id,
            return_id,
            status=ReturnStatus.NEEDS_REVIEW,
            event="order_ambiguous" if summary else "order_not_found",
            reason=decision.reason,
            data={"candidates": len(summary)},
        )
    name = next((c.name for c in decision.candidates if c.id == decision.order_id), None)
    return _record_match(runtime, tenant_id, return_id, decision.order_id, name, how="lookup")


def _record_match(
    runtime: Runtime,
    tenant_id: str,
    return_id: str,
    order_id: str,
    name: str | None,
    *,
    how: str,
) -> StepOutcome:
    with transaction(runtime) as session:
        record, _ = load_return(session, tenant_id, return_id)
        _write_match(session, record, order_id, name, how=how)
    return StepOutcome(ReturnStatus.MATCHED, {"order_id": order_id})


def _write_match(
    session: Session, record: StepRow, order_id: str, name: str | None, *, how: str
) -> None:
    """The matched order and the `matched` transition, written in one UPDATE."""
    stage_matched_order(record, order_id, name)
    advance(
        session,
        record,
        ReturnStatus.MATCHED,
        event="order_matched",
        reason=f"matched by {how}",
        data={"order_id": order_id, "order_name": name},
    )
