"""The review queue: a human decides for a return parked in `needs_review`, and it resumes.

- `resolve` picks the order (a candidate, or any order the platform confirms) and moves the
  return to `matched`, which the match step honours; the workflow resumes from there. It may
  instead (or also) correct the items: they become the return's next revision.
- `approve` lets a return the vendor only `requested` proceed as approved (for its revision).
- `cancel` ends a return that waits on a decision, as long as no refund was ever started.

Each decision is one timeline event naming its actor (docs/review.md). Resuming mirrors
`retries.retry_return`: a new workflow id for the same revision, so the refund key fixed at
planning is reused and money is never paid twice; corrected items are a new revision with its
own workflow and key, allowed only while no refund was started.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from returnbridge.connectors.base.connector import OrderQuery
from returnbridge.domain.errors import DomainError, NotFound, Rejected
from returnbridge.domain.lifecycle import can_transition
from returnbridge.domain.matching import normalise_order_name
from returnbridge.domain.returns import CanonicalReturn, ReturnLine, ReturnStatus
from returnbridge.engine.ingest import submit_return
from returnbridge.engine.queueing import enqueue
from returnbridge.engine.runtime import Runtime
from returnbridge.engine.workflows import workflow_id_for
from returnbridge.store import decisions
from returnbridge.store import refunds as refund_store
from returnbridge.store import returns as return_store
from returnbridge.store import returns_system_links as links
from returnbridge.store.clock import utc_now
from returnbridge.store.connections import get_connection
from returnbridge.store.tables import Connection, Return

ORDER_RESOLVED = "order_resolved"
LINES_CORRECTED = "lines_corrected"
APPROVED = decisions.APPROVED
REVIEW_CANCELLED = "cancelled"
AWAITING_APPROVAL = "awaiting_approval"
RETURNS_SYSTEM_UPDATED = "returns_system_updated"
RETURNS_SYSTEM_ACCEPTED = "returns_system_accepted"
RESUMING_EVENTS = frozenset(
    {ORDER_RESOLVED, LINES_CORRECTED, APPROVED, RETURNS_SYSTEM_UPDATED, RETURNS_SYSTEM_ACCEPTED}
)
RETURNS_SYSTEM_DISAGREES = "returns_system_disagrees"
NEEDS_REVIEW = ReturnStatus.NEEDS_REVIEW.value


@dataclass(frozen=True, slots=True)
class ChosenOrder:
    """The order a human picked, and how we know it exists."""

    order_id: str
    name: str | None
    source: str  # "candidate" or "platform"
    score: int | None = None


def resolve(
    runtime: Runtime,
    tenant_id: str,
    return_id: str,
    *,
    actor: str,
    order: str | None = None,
    lines: tuple[ReturnLine, ...] | None = None,
    note: str | None = None,
) -> Return:
    """Pick the return's order, correct its items, or both; the workflow resumes.

    `order` is an order id or name: a candidate is taken as listed, any other order must be
    confirmed by the platform (one read), else `DomainError(UNKNOWN_ORDER)`. Corrected
    `lines` become the return's next revision; the decision's event names the reviewer.
    """
    if order is None and lines is None:
        raise DomainError("NOTHING_TO_RESOLVE", "give the order, the corrected lines, or both")
    with runtime.reads() as session:
        record = return_store.get_return(session, return_id, tenant_id=tenant_id)
        _check_waiting(record)
        connection = get_connection(session, record.connection_id, tenant_id=tenant_id)
        candidates = list(record.candidates or [])
        corrected = _corrected(record, lines) if lines is not None else None
    chosen = None
    if order is not None:
        chosen = _from_candidates(order, candidates) or _from_platform(runtime, connection, order)
    with runtime.sessions.begin() as session:
        record = return_store.lock_return(session, return_id, tenant_id=tenant_id)
        _check_waiting(record)
        _check_no_money(session, record)
        data: dict[str, Any] = {}
        if chosen is not None:
            return_store.set_matched_order(
                session,
                return_id,
                tenant_id=tenant_id,
                order_id=chosen.order_id,
                order_name=chosen.name,
            )
            data |= {"order_id": chosen.order_id, "order_name": chosen.name}
            data |= {"source": chosen.source}
            if chosen.score is not None:
                data["score"] = chosen.score
        if corrected is not None:
            data |= {
                "revision": corrected.revision,
                "lines": [line.model_dump(mode="json", exclude_none=True) for line in lines or ()],
            }
        what = f"order {chosen.name or chosen.order_id}" if chosen else "corrected lines"
        workflow_id = _resume(
            session,
            record,
            to_status=ReturnStatus.MATCHED if chosen else ReturnStatus.RECEIVED,
            event=ORDER_RESOLVED if chosen else LINES_CORRECTED,
            actor=actor,
            reason=note or f"{what} chosen by {actor}",
            data=data,
            start=corrected is None,
        )
    if corrected is None:
        _enqueue(record, workflow_id)
        return record
    # The new revision's own workflow resumes the return (ingest enqueues it).
    submitted = submit_return(
        runtime,
        tenant_id,
        connection_id=record.connection_id,
        canonical=corrected,
        idempotency_key=f"review:{record.id}:r{corrected.revision}",
        source=record.source,
        connection_checked=True,
    )
    return submitted.record


def _corrected(record: Return, lines: tuple[ReturnLine, ...]) -> CanonicalReturn:
    """The stored return with the reviewer's lines, as its next revision (validated)."""
    payload = dict(record.payload)
    payload["lines"] = [line.model_dump(mode="json", exclude_none=True) for line in lines]
    payload["revision"] = record.revision + 1
    try:
        return CanonicalReturn.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "lines"
        raise DomainError(
            "INVALID_LINES",
            f"the corrected return is invalid: {where}: {first['msg']}",
            field="lines",
        ) from exc


def approve(
    runtime: Runtime, tenant_id: str, return_id: str, *, actor: str, note: str | None = None
) -> Return:
    """Let a return parked as `awaiting_approval` proceed as approved, for its current revision.

    A return whose returns system (Loop) refunded another amount than our plan
    (`returns_system_disagrees`) is approved by accepting that system's figures: it resumes
    at the sync step, which then moves on.
    """
    with runtime.sessions.begin() as session:
        record = return_store.lock_return(session, return_id, tenant_id=tenant_id)
        _check_waiting(record)
        parked = decisions.parked_events(session, tenant_id, [return_id]).get(return_id)
        if parked is not None and parked.event == RETURNS_SYSTEM_DISAGREES:
            link = links.get_link(session, return_id, tenant_id=tenant_id)
            if link is not None:
                links.update_link(link, now=utc_now(), details={"accepted_by": actor})
            to_status, event = ReturnStatus.RESTOCKED, RETURNS_SYSTEM_ACCEPTED
            reason = note or f"{actor} accepted the returns system's refund"
        elif parked is None or parked.event != AWAITING_APPROVAL:
            why = parked.event if parked else "unknown"
            raise DomainError(
                "NOT_AWAITING_APPROVAL",
                f"return {return_id} is in needs_review for {why}, not awaiting approval;"
                " resolve, retry or cancel it instead",
            )
        else:
            to_status, event = ReturnStatus.RECEIVED, APPROVED
            reason = note or f"approved by {actor}"
        workflow_id = _resume(
            session,
            record,
            to_status=to_status,
            event=event,
            actor=actor,
            reason=reason,
            data={"revision": record.revision},
        )
    _enqueue(record, workflow_id)
    return record


def cancel(
    runtime: Runtime, tenant_id: str, return_id: str, *, actor: str, note: str | None = None
) -> Return:
    """Cancel a return waiting on a decision; refused once a refund was started for it.

    The lifecycle cancels only before money moved (received, matched, planned); a return in
    review with no refund row is in that same position, so it may be cancelled from there.
    """
    with runtime.sessions.begin() as session:
        record = return_store.lock_return(session, return_id, tenant_id=tenant_id)
        _check_waiting(record)
        _check_no_money(session, record)
        return_store.record_transition(
            session,
            return_id,
            tenant_id=tenant_id,
            to_status=ReturnStatus.CANCELLED,
            event=REVIEW_CANCELLED,
            actor=actor,
            reason=note or f"cancelled in review by {actor}",
            allowed=_cancellable,
            locked=record,
        )
    return record


def _cancellable(current: str, target: str) -> bool:
    return current == NEEDS_REVIEW and target == ReturnStatus.CANCELLED.value


def _check_waiting(record: Return) -> None:
    if record.status != NEEDS_REVIEW:
        raise DomainError(
            "NOT_IN_REVIEW",
            f"return {record.id} is {record.status}; only a return in needs_review waits on"
            " a decision",
        )


def _check_no_money(session: Session, record: Return) -> None:
    started = refund_store.refunds_for_return(session, record.id, tenant_id=record.tenant_id)
    if started:
        raise DomainError(
            "REFUND_STARTED",
            f"a refund was already started for return {record.id} ({started[0].status});"
            " the order can no longer be changed nor the return cancelled: retry it instead",
        )


def _from_candidates(order: str, candidates: list[dict[str, Any]]) -> ChosenOrder | None:
    wanted = order.strip()
    for candidate in candidates:
        name = candidate.get("name")
        if candidate.get("order_id") == wanted or (
            name and normalise_order_name(str(name)) == normalise_order_name(wanted)
        ):
            return ChosenOrder(
                str(candidate["order_id"]), name, "candidate", candidate.get("score")
            )
    return None


def _from_platform(runtime: Runtime, connection: Connection, order: str) -> ChosenOrder:
    """Ask the platform: by id first, else by exact name; one order or UNKNOWN_ORDER."""
    unknown = DomainError(
        "UNKNOWN_ORDER",
        f"order {order} is neither a candidate nor an order the platform knows",
        field="order",
    )
    connector = runtime.connector(connection)
    try:
        try:
            found = connector.get_order(order.strip())
        except (NotFound, Rejected, DomainError):
            hits = connector.find_orders(OrderQuery(name=order.strip(), limit=2))
            if len(hits) != 1:
                raise unknown from None
            return ChosenOrder(hits[0].id, hits[0].name, "platform")
        return ChosenOrder(found.id, found.name, "platform")
    finally:
        connector.close()


def _resume(
    session: Session,
    record: Return,
    *,
    to_status: ReturnStatus,
    event: str,
    actor: str,
    reason: str,
    data: dict[str, Any],
    start: bool = True,
) -> str:
    """Record the decision as the transition out of review; the id of the workflow to start
    (recorded on the return when `start`; a new revision names its own)."""
    earlier = decisions.count_events(session, record.tenant_id, record.id, RESUMING_EVENTS)
    key = return_store.current_revision_key(session, record)
    workflow_id = f"{workflow_id_for(record.tenant_id, key)}-review-{earlier + 1}"
    return_store.record_transition(
        session,
        record.id,
        tenant_id=record.tenant_id,
        to_status=to_status,
        event=event,
        actor=actor,
        reason=reason,
        data={**data, "workflow_id": workflow_id} if start else data,
        allowed=can_transition,
        locked=record,
    )
    if start:
        return_store.set_workflow_id(
            session, record.id, tenant_id=record.tenant_id, workflow_id=workflow_id
        )
    return workflow_id


def _enqueue(record: Return, workflow_id: str) -> None:
    enqueue(
        record.tenant_id,
        record.id,
        record.revision,
        workflow_id,
        connection_id=record.connection_id,
        order_ref=record.order_ref,
    )


resume = _resume
"""Move a parked return out of review (in the caller's transaction, the row locked); the id of
the workflow to start once that transaction has committed (`start_resumed`)."""
start_resumed = _enqueue
"""Start the workflow `resume` named, after its transaction committed."""
