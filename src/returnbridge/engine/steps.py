"""The work of each workflow step, as plain functions over the runtime (no DBOS here).

Each function is safe to run again after a crash: it first looks at what is already recorded
(status, refund row, the platform's refunds) and only then acts. Errors are sorted by kind:
transient ones propagate (the step is retried), the rest park the return in `needs_review`
or `failed` with the reason on its timeline.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from returnbridge.connectors.base.connector import (
    Capability,
    OrderConnector,
    OrderQuery,
    PlatformRefund,
    RefundCommand,
)
from returnbridge.domain.errors import (
    AuthError,
    DomainError,
    NotFound,
    PermanentError,
    Rejected,
)
from returnbridge.domain.lifecycle import MAIN_PATH, can_transition
from returnbridge.domain.matching import decide_match, resolve_lines
from returnbridge.domain.money import Money
from returnbridge.domain.orders import Order
from returnbridge.domain.refunds import RefundPlan, RefundPolicy, plan_refund
from returnbridge.domain.returns import CanonicalReturn, ReturnStatus
from returnbridge.engine import refund_commands as rc
from returnbridge.engine.runtime import Runtime
from returnbridge.observability import REFUNDS_CREATED, get_logger
from returnbridge.store import refunds as refund_store
from returnbridge.store import returns as return_store
from returnbridge.store.connections import get_connection
from returnbridge.store.tables import Connection, Return

log = get_logger(__name__)
ACTOR = "engine"


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """Where a step left the return: `status` is the return's status afterwards."""

    status: str
    detail: dict[str, Any]

    @property
    def carry_on(self) -> bool:
        return self.status not in (
            ReturnStatus.NEEDS_REVIEW,
            ReturnStatus.FAILED,
            ReturnStatus.CANCELLED,
        )


@contextmanager
def _transaction(runtime: Runtime) -> Iterator[Session]:
    with runtime.sessions.begin() as session:
        yield session


def _load(session: Session, tenant_id: str, return_id: str) -> tuple[Return, CanonicalReturn]:
    record = return_store.get_return(session, return_id, tenant_id=tenant_id)
    return record, CanonicalReturn.model_validate(record.payload)


def _connection(session: Session, record: Return) -> Connection:
    return get_connection(session, record.connection_id, tenant_id=record.tenant_id)


def _reached(status: str, target: ReturnStatus) -> bool:
    """True when `status` is `target` or beyond it on the main path."""
    if status not in MAIN_PATH:
        return False
    return MAIN_PATH.index(ReturnStatus(status)) >= MAIN_PATH.index(target)


def _advance(
    session: Session,
    record: Return,
    target: ReturnStatus,
    *,
    event: str,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Move along the main path unless already there (a re-run after a crash)."""
    if _reached(record.status, target):
        return
    return_store.record_transition(
        session,
        record.id,
        tenant_id=record.tenant_id,
        to_status=target,
        event=event,
        actor=ACTOR,
        reason=reason,
        data=data,
        allowed=can_transition,
    )


def park(
    runtime: Runtime,
    tenant_id: str,
    return_id: str,
    *,
    status: ReturnStatus,
    event: str,
    reason: str,
    data: dict[str, Any] | None = None,
) -> StepOutcome:
    """Send the return to `needs_review` or `failed`, with the reason on its timeline."""
    with _transaction(runtime) as session:
        record, _ = _load(session, tenant_id, return_id)
        if record.status != status:
            return_store.record_transition(
                session,
                return_id,
                tenant_id=tenant_id,
                to_status=status,
                event=event,
                actor=ACTOR,
                reason=reason,
                data=data,
                allowed=can_transition,
            )
    log.warning("return parked", status=str(status), reason=reason, timeline_event=event)
    return StepOutcome(str(status), {"reason": reason, **(data or {})})


def _classified(
    runtime: Runtime, tenant_id: str, return_id: str, error: Exception, *, step: str
) -> StepOutcome:
    """Non-transient errors: a human decides (review) or nothing can succeed (failed)."""
    data: dict[str, Any] = {"step": step, "code": getattr(error, "code", type(error).__name__)}
    field = getattr(error, "field", None)
    if field:
        data["field"] = field
    message = getattr(error, "message", str(error))
    if isinstance(error, AuthError):
        return park(
            runtime,
            tenant_id,
            return_id,
            status=ReturnStatus.FAILED,
            event=f"{step}_failed",
            reason=message,
            data=data,
        )
    if isinstance(error, DomainError | Rejected | NotFound | PermanentError):
        return park(
            runtime,
            tenant_id,
            return_id,
            status=ReturnStatus.NEEDS_REVIEW,
            event=f"{step}_needs_review",
            reason=message,
            data=data,
        )
    raise error


def _connector(runtime: Runtime, tenant_id: str, return_id: str) -> OrderConnector:
    with _transaction(runtime) as session:
        record, _ = _load(session, tenant_id, return_id)
        return runtime.connector(_connection(session, record))


# --------------------------------------------------------------------------- admit


def admit(runtime: Runtime, tenant_id: str, return_id: str) -> StepOutcome:
    """Honour the vendor's own status: a withdrawn return is cancelled, an unapproved one waits.

    Only an `approved` return moves money. `cancelled` cancels it while that is still allowed
    (before any money moved); `requested` parks it for a human until an approved revision comes.
    """
    with _transaction(runtime) as session:
        record, canonical = _load(session, tenant_id, return_id)
        status = record.status
    if canonical.status == "approved":
        return StepOutcome("admitted", {"was": status})
    if canonical.status == "cancelled":
        if can_transition(status, ReturnStatus.CANCELLED):
            with _transaction(runtime) as session:
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
            return StepOutcome(ReturnStatus.CANCELLED, {})
        return park(
            runtime,
            tenant_id,
            return_id,
            status=ReturnStatus.NEEDS_REVIEW,
            event="cancel_too_late",
            reason=f"the vendor withdrew the return, but it is already {status}",
        )
    return park(
        runtime,
        tenant_id,
        return_id,
        status=ReturnStatus.NEEDS_REVIEW,
        event="awaiting_approval",
        reason="the return is only requested: send a revision with status 'approved'",
    )


# --------------------------------------------------------------------------- match


def match_order(runtime: Runtime, tenant_id: str, return_id: str) -> StepOutcome:
    """Find the order: by platform id, else by order number / email / SKUs."""
    with _transaction(runtime) as session:
        record, canonical = _load(session, tenant_id, return_id)
        if _reached(record.status, ReturnStatus.MATCHED) and record.matched_order_id:
            return StepOutcome(record.status, {"order_id": record.matched_order_id})
        connection = _connection(session, record)
        connector = runtime.connector(connection)
    try:
        return _match(runtime, tenant_id, return_id, canonical, connector)
    except Exception as error:
        return _classified(runtime, tenant_id, return_id, error, step="match")
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
    if reference.platform_order_id:
        try:
            order = connector.get_order(reference.platform_order_id)
        except NotFound:
            return park(
                runtime,
                tenant_id,
                return_id,
                status=ReturnStatus.NEEDS_REVIEW,
                event="order_not_found",
                reason=f"order {reference.platform_order_id} does not exist on the platform",
            )
        return _record_match(runtime, tenant_id, return_id, order.id, order.name, how="id")
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
    with _transaction(runtime) as session:
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
    with _transaction(runtime) as session:
        record, _ = _load(session, tenant_id, return_id)
        return_store.set_matched_order(
            session, return_id, tenant_id=tenant_id, order_id=order_id, order_name=name
        )
        _advance(
            session,
            record,
            ReturnStatus.MATCHED,
            event="order_matched",
            reason=f"matched by {how}",
            data={"order_id": order_id, "order_name": name},
        )
    return StepOutcome(ReturnStatus.MATCHED, {"order_id": order_id})


# --------------------------------------------------------------------------- plan


@dataclass(frozen=True, slots=True)
class _Planned:
    order: Order
    plan: RefundPlan | None
    quantities: dict[str, int]


def _policy(connection: Connection) -> RefundPolicy:
    settings = connection.settings or {}
    return RefundPolicy.model_validate(
        {
            "rounding": settings.get("rounding", "HALF_UP"),
            "on_cap_exceeded": settings.get("on_cap_exceeded", "reject"),
        }
    )


def _compute(canonical: CanonicalReturn, order: Order, connection: Connection) -> _Planned:
    resolved = resolve_lines(order, canonical.lines)
    quantities = rc.merged_quantities(resolved)
    if not canonical.refund.issue:
        return _Planned(order, None, quantities)
    request = rc.refund_request(canonical, order, resolved)
    return _Planned(order, plan_refund(order, request, policy=_policy(connection)), quantities)


def plan_return(runtime: Runtime, tenant_id: str, return_id: str, revision: int) -> StepOutcome:
    """Compute the refund plan on a fresh order and record it with its idempotency key."""
    with _transaction(runtime) as session:
        record, canonical = _load(session, tenant_id, return_id)
        if _reached(record.status, ReturnStatus.PLANNED):
            return StepOutcome(record.status, {})
        connection = _connection(session, record)
        connector = runtime.connector(connection)
        order_id = record.matched_order_id
    if order_id is None:
        return park(
            runtime,
            tenant_id,
            return_id,
            status=ReturnStatus.NEEDS_REVIEW,
            event="plan_needs_review",
            reason="no matched order",
        )
    try:
        order = connector.get_order(order_id)
        planned = _compute(canonical, order, connection)
        problems = _cross_check(connector, planned, canonical, return_id, revision)
    except Exception as error:
        return _classified(runtime, tenant_id, return_id, error, step="plan")
    finally:
        connector.close()
    if problems:
        return park(
            runtime,
            tenant_id,
            return_id,
            status=ReturnStatus.NEEDS_REVIEW,
            event="platform_disagrees",
            reason="; ".join(problems),
            data={"plan": planned.plan.to_breakdown() if planned.plan else None},
        )
    key = rc.refund_key(return_id, revision)
    breakdown = planned.plan.to_breakdown() if planned.plan else {"goods_only": True}
    total = planned.plan.total if planned.plan else 0
    with _transaction(runtime) as session:
        record, _ = _load(session, tenant_id, return_id)
        refund_store.begin_refund(
            session,
            tenant_id,
            return_id=return_id,
            connection_id=record.connection_id,
            idempotency_key=key,
            order_id=order.id,
            amount=Money(total, order.currency),
            plan={"breakdown": breakdown, "quantities": planned.quantities},
        )
        return_store.set_refund_total(
            session, return_id, tenant_id=tenant_id, total=Money(total, order.currency)
        )
        _advance(
            session,
            record,
            ReturnStatus.PLANNED,
            event="refund_planned",
            reason=None if planned.plan else "goods only: no money moves",
            data={"total": total, "currency": order.currency, "idempotency_key": key},
        )
    return StepOutcome(ReturnStatus.PLANNED, {"total": total})


def _restock_choice(
    connector: OrderConnector, canonical: CanonicalReturn, connection: Connection
) -> rc.RestockChoice:
    if not canonical.restock or not canonical.lines:
        return rc.RestockChoice(restock=False, location_id=None)
    wanted = canonical.restock_location_id or (connection.settings or {}).get("restock_location_id")
    if wanted:
        return rc.RestockChoice(restock=True, location_id=str(wanted))
    active = [loc for loc in connector.list_locations() if loc.active]
    return rc.RestockChoice(restock=True, location_id=active[0].id if active else None)


def _command(
    connector: OrderConnector,
    planned: _Planned,
    canonical: CanonicalReturn,
    connection: Connection,
    key: str,
) -> RefundCommand:
    return rc.refund_command(
        planned.plan,
        planned.order,
        quantities=planned.quantities,
        key=key,
        note=rc.refund_note(key, canonical),
        choice=_restock_choice(connector, canonical, connection),
        shipping_mode=canonical.refund.shipping.mode,
    )


def _cross_check(
    connector: OrderConnector,
    planned: _Planned,
    canonical: CanonicalReturn,
    return_id: str,
    revision: int,
) -> list[str]:
    if planned.plan is None or Capability.SUGGESTED_REFUND not in connector.capabilities:
        return []
    command = rc.refund_command(
        planned.plan,
        planned.order,
        quantities=planned.quantities,
        key=rc.refund_key(return_id, revision),
        note="",
        choice=rc.RestockChoice(restock=False, location_id=None),
        shipping_mode=canonical.refund.shipping.mode,
    )
    return rc.disagreements(planned.plan, connector.suggest_refund(command))


# --------------------------------------------------------------------------- refund


def _find_by_key(refunds: list[PlatformRefund], key: str) -> PlatformRefund | None:
    marker = f"{rc.REFUND_NOTE_PREFIX} {key} "
    return next(
        (r for r in refunds if r.idempotency_key == key or (r.note or "").startswith(marker)),
        None,
    )


def execute_refund(runtime: Runtime, tenant_id: str, return_id: str, revision: int) -> StepOutcome:
    """Refund (with restock) once: look for our key first, re-plan on a fresh order, then write."""
    key = rc.refund_key(return_id, revision)
    with _transaction(runtime) as session:
        record, canonical = _load(session, tenant_id, return_id)
        if _reached(record.status, ReturnStatus.REFUNDED):
            return StepOutcome(record.status, {})
        connection = _connection(session, record)
        stored = refund_store.refund_by_key(session, tenant_id, idempotency_key=key)
        connector = runtime.connector(connection)
    if stored is None:
        return park(
            runtime,
            tenant_id,
            return_id,
            status=ReturnStatus.FAILED,
            event="refund_failed",
            reason=f"no planned refund under {key}",
        )
    if canonical.status != "approved":
        return admit(runtime, tenant_id, return_id)
    if not canonical.refund.issue and not (canonical.restock and canonical.lines):
        return _record_refunded(runtime, tenant_id, return_id, stored.id, None, skipped=True)
    try:
        existing = _find_by_key(connector.list_refunds(stored.order_id), key)
        if existing is not None:
            log.info("refund already on the platform", refund_id=existing.id, key=key)
            return _record_refunded(runtime, tenant_id, return_id, stored.id, existing)
        order = connector.get_order(stored.order_id)
        planned = _compute(canonical, order, connection)
        command = _command(connector, planned, canonical, connection, key)
        if rc.needs_parent_transactions(command) and (
            Capability.SUGGESTED_REFUND in connector.capabilities
        ):
            command = rc.with_suggested_tenders(command, connector.suggest_refund(command))
        refund = connector.create_refund(command)
    except Exception as error:
        outcome = _classified(runtime, tenant_id, return_id, error, step="refund")
        with _transaction(runtime) as session:
            refund_store.fail_refund(
                session, stored.id, tenant_id=tenant_id, reason=outcome.detail["reason"]
            )
        return outcome
    finally:
        connector.close()
    REFUNDS_CREATED.labels(platform=connection.platform).inc()
    return _record_refunded(runtime, tenant_id, return_id, stored.id, refund)


def _record_refunded(
    runtime: Runtime,
    tenant_id: str,
    return_id: str,
    refund_row_id: str,
    refund: PlatformRefund | None,
    *,
    skipped: bool = False,
) -> StepOutcome:
    with _transaction(runtime) as session:
        record, _ = _load(session, tenant_id, return_id)
        if refund is not None:
            refund_store.complete_refund(
                session,
                refund_row_id,
                tenant_id=tenant_id,
                platform_refund_id=refund.id,
                amount=Money(refund.total, refund.currency),
            )
        data: dict[str, Any] = {}
        if refund is not None:
            data = {
                "platform_refund_id": refund.id,
                "total": refund.total,
                "currency": refund.currency,
                "restocked_units": sum(ln.quantity for ln in refund.lines if ln.restock != "none"),
            }
        _advance(
            session,
            record,
            ReturnStatus.REFUNDED,
            event="step_skipped" if skipped else "refund_created",
            reason="nothing to refund or restock" if skipped else None,
            data=data,
        )
    return StepOutcome(ReturnStatus.REFUNDED, data)


# --------------------------------------------------------------------------- after the money


def restock(runtime: Runtime, tenant_id: str, return_id: str) -> StepOutcome:
    """Record the restock; on platforms that restock inside the refund it already happened."""
    with _transaction(runtime) as session:
        record, canonical = _load(session, tenant_id, return_id)
        if _reached(record.status, ReturnStatus.RESTOCKED):
            return StepOutcome(record.status, {})
        connection = _connection(session, record)
        refunds = refund_store.refunds_for_return(session, return_id, tenant_id=tenant_id)
        done = [r for r in refunds if r.platform_refund_id]
        if not canonical.restock or not canonical.lines:
            _advance(
                session,
                record,
                ReturnStatus.RESTOCKED,
                event="step_skipped",
                reason="no goods to restock (refund only or restock disabled)",
            )
        else:
            _advance(
                session,
                record,
                ReturnStatus.RESTOCKED,
                event="restocked",
                reason=f"restocked with the {connection.platform} refund",
                data={"platform_refund_ids": [r.platform_refund_id for r in done]},
            )
    return StepOutcome(ReturnStatus.RESTOCKED, {})


def skip_to(
    runtime: Runtime, tenant_id: str, return_id: str, target: ReturnStatus, *, reason: str
) -> StepOutcome:
    """Walk a step that does not apply (no returns system, no notification configured)."""
    with _transaction(runtime) as session:
        record, _ = _load(session, tenant_id, return_id)
        _advance(session, record, target, event="step_skipped", reason=reason)
    return StepOutcome(str(target), {})


def complete(runtime: Runtime, tenant_id: str, return_id: str) -> StepOutcome:
    with _transaction(runtime) as session:
        record, _ = _load(session, tenant_id, return_id)
        _advance(session, record, ReturnStatus.COMPLETED, event="completed")
    return StepOutcome(ReturnStatus.COMPLETED, {})
