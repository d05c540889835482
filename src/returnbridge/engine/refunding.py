"""The plan and refund steps: compute the refund on a fresh order, then make it exactly once."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from returnbridge.connectors.base.connector import (
    Capability,
    OrderConnector,
    PlatformRefund,
    RefundCommand,
    RefundMoney,
)
from returnbridge.connectors.base.dedupe import find_by_key
from returnbridge.domain.errors import NotFound, TransientError
from returnbridge.domain.matching import resolve_lines
from returnbridge.domain.money import Money
from returnbridge.domain.orders import Order
from returnbridge.domain.refunds import RefundPlan, RefundPolicy, plan_refund
from returnbridge.domain.returns import CanonicalReturn, ReturnStatus
from returnbridge.engine import completion, notifying, platform_returns, returns_systems
from returnbridge.engine import refund_commands as rc
from returnbridge.engine.admission import admit
from returnbridge.engine.runtime import Runtime
from returnbridge.engine.step_records import (
    StepOutcome,
    advance,
    advance_through,
    classify,
    connection_of,
    load_return,
    park,
    reached,
    transaction,
)
from returnbridge.observability import REFUNDS_CREATED, get_logger
from returnbridge.store import refunds as refund_store
from returnbridge.store.clock import utc_now
from returnbridge.store.step_rows import Hop, stage_matched_order, stage_refund_total
from returnbridge.store.tables import Connection, Refund

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _Planned:
    order: Order
    plan: RefundPlan | None
    quantities: dict[str, int]


def refund_policy(connection: Connection) -> RefundPolicy:
    """The connection's rounding and cap settings, as the planner takes them."""
    settings = connection.settings or {}
    return RefundPolicy.model_validate(
        {
            "rounding": settings.get("rounding", "HALF_UP"),
            "on_cap_exceeded": settings.get("on_cap_exceeded", "reject"),
        }
    )


def _moves_anything(canonical: CanonicalReturn) -> bool:
    """Whether the return asks for money back or goods restocked (else the refund is skipped)."""
    return canonical.refund.issue or bool(canonical.restock and canonical.lines)


def _compute(canonical: CanonicalReturn, order: Order, connection: Connection) -> _Planned:
    resolved = resolve_lines(order, canonical.lines)
    quantities = rc.merged_quantities(resolved)
    if not canonical.refund.issue:
        return _Planned(order, None, quantities)
    request = rc.refund_request(canonical, order, resolved)
    return _Planned(
        order, plan_refund(order, request, policy=refund_policy(connection)), quantities
    )


def plan_return(runtime: Runtime, tenant_id: str, return_id: str, revision: int) -> StepOutcome:
    """Compute the refund plan on a fresh order and record it with its idempotency key."""
    key = rc.refund_key(return_id, revision)
    with runtime.reads() as session:  # the write below loads and locks the row again
        record, canonical = load_return(session, tenant_id, return_id, lock=False)
        if reached(record.status, ReturnStatus.PLANNED):
            return StepOutcome(record.status)
        connection = connection_of(session, record)
        connector = runtime.connector(connection)
        order_id, connection_id = record.matched_order_id, record.connection_id
        earlier = refund_store.refund_by_key(session, tenant_id, idempotency_key=key)
    if earlier is not None and earlier.status == refund_store.SUCCEEDED:
        # Made and recorded already (the return was parked after its refund, then retried):
        # nothing to plan; the refund step finds it by its key.
        connector.close()
        return _planned_earlier(
            runtime,
            tenant_id,
            return_id,
            key,
            platform_refund_id=earlier.platform_refund_id,
            total=earlier.amount,
        )
    try:
        if earlier is not None:
            # An earlier run planned this refund and may have made it without recording it:
            # re-planning on the order as it is now would count our own refund against us.
            found = find_by_key(connector.list_refunds(earlier.order_id), key)
            if found is not None:
                return _planned_earlier(
                    runtime,
                    tenant_id,
                    return_id,
                    key,
                    platform_refund_id=found.id,
                    total=found.total,
                )
        if order_id is None:
            return park(
                runtime,
                tenant_id,
                return_id,
                status=ReturnStatus.NEEDS_REVIEW,
                event="plan_needs_review",
                reason="no matched order",
            )
        for attempt in range(1, PLAN_ATTEMPTS + 1):
            read_at = utc_now()  # before the read: a refund landing during it counts as later
            try:
                order = connector.get_order(order_id)
            except NotFound:
                return park(
                    runtime,
                    tenant_id,
                    return_id,
                    status=ReturnStatus.NEEDS_REVIEW,
                    event="order_not_found",
                    reason=f"order {order_id} does not exist on the platform",
                )
            planned = _compute(canonical, order, connection)
            command = None
            if _moves_anything(canonical):
                command = _command(connector, planned, canonical, connection, key)
            problems, platform_view = _cross_check(connector, planned, command, connection)
            if not problems or attempt == PLAN_ATTEMPTS:
                break
            # The platform may disagree only because another refund of the order (another
            # return, side by side) landed after our read: then read and plan again.
            with runtime.reads() as session:
                if not refund_store.order_moved_since(session, connection_id, order_id, read_at):
                    break
            log.info("order changed while planning; planning again", attempt=attempt)
            time.sleep(ORDER_BUSY_WAIT)
    except Exception as error:
        return classify(runtime, tenant_id, return_id, error, step="plan")
    finally:
        connector.close()
    if problems:
        return park(
            runtime,
            tenant_id,
            return_id,
            status=ReturnStatus.NEEDS_REVIEW,
            event="platform_disagrees",
            reason="the platform's calculation differs from our plan: " + "; ".join(problems),
            data={
                "differences": problems,
                "tolerance": cross_check_tolerance(connection),
                "plan": planned.plan.to_breakdown() if planned.plan else None,
                "platform": platform_view,
            },
        )
    breakdown = planned.plan.to_breakdown() if planned.plan else {"goods_only": True}
    total = planned.plan.total if planned.plan else 0
    with transaction(runtime) as session:
        record, _ = load_return(session, tenant_id, return_id)
        refund_row: dict[str, Any] = {
            "return_id": return_id,
            # the return's own connection: both rows belong to the tenant (load_return checked)
            "connection_id": record.connection_id,
            "idempotency_key": key,
            "order_id": order.id,
            "amount": Money(total, order.currency),
            "plan": {
                "breakdown": breakdown,
                "quantities": planned.quantities,
                # what the refund step sends on its first attempt, without reading again
                "command": command.model_dump(mode="json") if command else None,
                # refunds of the order made since make the command stale (order_conflict)
                "order_read_at": read_at.isoformat(),
                # what the customer email and the returns system need of the order
                "titles": {
                    ln.id: ln.title or ln.sku or ln.id
                    for ln in order.line_items
                    if ln.id in planned.quantities
                },
                "customer_email": order.email,
            },
        }
        if earlier is None:  # the first block found no row under the key: one INSERT
            refund_store.add_refund(session, tenant_id, **refund_row)
        else:
            refund_store.begin_refund(session, tenant_id, owners_checked=True, **refund_row)
        if record.matched_order_name is None and order.name:
            stage_matched_order(record, order.id, order.name)
        stage_refund_total(record, Money(total, order.currency))
        advance(
            session,
            record,
            ReturnStatus.PLANNED,
            event="refund_planned",
            reason=None if planned.plan else "goods only: no money moves",
            data={"total": total, "currency": order.currency, "idempotency_key": key},
        )
    return StepOutcome(ReturnStatus.PLANNED, total=total)


def _planned_earlier(
    runtime: Runtime,
    tenant_id: str,
    return_id: str,
    key: str,
    *,
    platform_refund_id: str | None,
    total: int,
) -> StepOutcome:
    with transaction(runtime) as session:
        record, _ = load_return(session, tenant_id, return_id)
        advance(
            session,
            record,
            ReturnStatus.PLANNED,
            event="refund_planned",
            reason="the refund planned earlier is already on the platform",
            data={"idempotency_key": key, "platform_refund_id": platform_refund_id},
        )
    return StepOutcome(ReturnStatus.PLANNED, total=total, platform_refund_id=platform_refund_id)


def restock_choice(
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
        choice=restock_choice(connector, canonical, connection),
        shipping_mode=canonical.refund.shipping.mode,
        tolerance=cross_check_tolerance(connection),
        duties_mode=canonical.refund.duties,
    )


def _cross_check(
    connector: OrderConnector,
    planned: _Planned,
    command: RefundCommand | None,
    connection: Connection,
) -> tuple[list[str], dict[str, Any] | None]:
    """Our plan against the platform's own calculation, when it has one and it is wanted.

    Returns the differences beyond the connection's `cross_check_tolerance` (minor units per
    figure, default 0) and the platform's breakdown. The connection setting `cross_check`
    (default true) turns it off to save a call.
    """
    if planned.plan is None or command is None:
        return [], None
    if Capability.SUGGESTED_REFUND not in connector.capabilities:
        return [], None
    if not (connection.settings or {}).get("cross_check", True):
        return [], None
    suggested = connector.suggest_refund(command)
    problems = rc.disagreements(
        planned.plan, suggested, tolerance=cross_check_tolerance(connection)
    )
    return problems, rc.suggestion_breakdown(suggested)


def cross_check_tolerance(connection: Connection) -> int:
    """The connection's `cross_check_tolerance`: minor units a figure may differ by (0)."""
    value = (connection.settings or {}).get("cross_check_tolerance", 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return 0
    return value


# --------------------------------------------------------------------------- refund


ORDER_BUSY_WAIT = 0.25  # seconds between looks at another refund of the order in flight
PLAN_ATTEMPTS = 3  # reads of an order that other refunds keep changing, before review
ORDER_BUSY_LOOKS = 120  # then the step gives up to DBOS, whose retries wait longer


@dataclass(frozen=True, slots=True)
class _Claim:
    """What the refund step found, and whether this is the refund's very first attempt."""

    canonical: CanonicalReturn
    connection: Connection
    stored: Refund | None
    first_attempt: bool
    plan_is_fresh: bool
    """No other refund of the order was sent since the plan: its stored command still holds."""


def _claim(
    runtime: Runtime, tenant_id: str, return_id: str, key: str
) -> _Claim | StepOutcome | None:
    """Load the step's rows and mark the refund as being sent; None while the order is busy."""
    with transaction(runtime) as session:
        record, canonical = load_return(session, tenant_id, return_id)
        if reached(record.status, ReturnStatus.REFUNDED):
            return StepOutcome(record.status)
        connection = connection_of(session, record)
        stored = refund_store.refund_by_key(session, tenant_id, idempotency_key=key)
        # a returns system (Loop) makes the refund of a return it manages: we send nothing
        delegated = returns_systems.managed_by(connection) is not None
        sends = canonical.approved and _moves_anything(canonical) and not delegated
        conflict = refund_store.order_conflict(session, stored) if stored and sends else None
        if conflict == "busy":
            return None
        if stored is not None and sends and stored.status == refund_store.FAILED:
            refund_store.note_refusal(session, stored)
        first_attempt = stored is not None and sends and refund_store.start_sending(session, stored)
        return _Claim(canonical, connection, stored, first_attempt, conflict is None)


def execute_refund(runtime: Runtime, tenant_id: str, return_id: str, revision: int) -> StepOutcome:
    """Refund (with restock) once: look for our key first, re-plan on a fresh order, then write.

    Refunds of one order are sent one at a time (another one in flight is waited for), and a
    plan made before another refund of the order was sent is made again on a fresh read.
    """
    key = rc.refund_key(return_id, revision)
    claim = _claim(runtime, tenant_id, return_id, key)
    looks = 1
    while claim is None:
        if looks >= ORDER_BUSY_LOOKS:
            raise TransientError(
                "ORDER_BUSY", "another refund of this order is still being made", ambiguous=False
            )
        time.sleep(ORDER_BUSY_WAIT)
        claim = _claim(runtime, tenant_id, return_id, key)
        looks += 1
    if isinstance(claim, StepOutcome):
        return claim
    canonical, connection, stored = claim.canonical, claim.connection, claim.stored
    first_attempt = claim.first_attempt and claim.plan_is_fresh
    if stored is None:
        return park(
            runtime,
            tenant_id,
            return_id,
            status=ReturnStatus.FAILED,
            event="refund_failed",
            reason=f"no planned refund under {key}",
        )
    if not canonical.approved:
        return admit(runtime, tenant_id, return_id)
    system_id = returns_systems.managed_by(connection)
    if system_id is not None:
        return returns_systems.delegate(runtime, tenant_id, return_id, stored.id, system_id)
    connector = runtime.connector(connection)
    recording: dict[str, Any] = {
        "restocks_with_refund": Capability.RESTOCK_WITH_REFUND in connector.capabilities,
        "platform": connection.platform,
    }
    if not _moves_anything(canonical) or (
        not canonical.refund.issue and not recording["restocks_with_refund"]
    ):
        # Goods only, on a platform whose refunds do not restock: no refund at all; the
        # restock step adjusts the stock.
        connector.close()
        return _record_refunded(
            runtime, tenant_id, return_id, stored.id, None, **recording, skipped=True
        )
    planned_command = (stored.plan or {}).get("command") if first_attempt else None
    wait = _waits_for_goods(canonical, connection)
    try:
        if planned_command is not None:
            # The first attempt sends what the plan step decided on the order it had just read.
            sent = _ready(planned_command)
            refund = platform_returns.write_refund(
                runtime, tenant_id, return_id, connector, sent, wait_for_goods=wait
            )
        else:
            found = platform_returns.made_earlier(
                runtime, tenant_id, return_id, connector, order_id=stored.order_id, key=key
            ) or find_by_key(connector.list_refunds(stored.order_id), key)
            if found is not None:
                log.info("refund already on the platform", refund_id=found.id, key=key)
                # Not checked against the plan: this is a retry (an operator's, after a
                # difference parked the return) or a recovery after the answer was lost.
                return _record_refunded(
                    runtime, tenant_id, return_id, stored.id, found, **recording
                )
            order = connector.get_order(stored.order_id)
            planned = _compute(canonical, order, connection)
            command = _command(connector, planned, canonical, connection, key)
            refusals = int(stored.plan.get("refusals", 0))
            sent = _ready(command).model_copy(
                update={"platform_key": rc.platform_key(key, refusals)}
            )
            refund = platform_returns.write_refund(
                runtime, tenant_id, return_id, connector, sent, wait_for_goods=wait
            )
    except Exception as error:
        outcome = classify(runtime, tenant_id, return_id, error, step="refund")
        with transaction(runtime) as session:
            reason = outcome.reason or "the refund stopped"  # park always gives one
            refund_store.fail_refund(session, stored.id, tenant_id=tenant_id, reason=reason)
        return outcome
    finally:
        connector.close()
    if isinstance(refund, platform_returns.AwaitingGoods):
        with transaction(runtime) as session:
            refund_store.hold_refund(session, stored.id, tenant_id=tenant_id)
        parked = park(
            runtime,
            tenant_id,
            return_id,
            status=ReturnStatus.NEEDS_REVIEW,
            event="awaiting_goods",
            reason="the platform return is open: send a revision with status 'received'"
            " when the goods arrive",
            data={"platform_return_id": refund.platform_return_id},
        )
        notifying.tell_customer(runtime, tenant_id, return_id, "return_received")
        return parked
    if refund is not None:  # None: a platform return that moved goods only
        REFUNDS_CREATED.labels(platform=connection.platform).inc()
    return _record_refunded(
        runtime,
        tenant_id,
        return_id,
        stored.id,
        refund,
        **recording,
        skipped=refund is None,
        planned=sent.money,
        tolerance=sent.tolerance,
    )


def _waits_for_goods(canonical: CanonicalReturn, connection: Connection) -> bool:
    """An approved return whose connection processes platform returns on receipt waits, open,
    for a revision saying the goods were received."""
    on = (connection.settings or {}).get("process_returns_on", "approval")
    return on == "receipt" and canonical.status == "approved"


def _skipped_reason(canonical: CanonicalReturn) -> str:
    if canonical.restock and canonical.lines:
        return "no money moves: goods only, restocked on their own"
    return "nothing to refund or restock"


def _ready(command: RefundCommand | dict[str, Any]) -> RefundCommand:
    """The stored command (a dict) or a fresh one, as the connector takes it."""
    if isinstance(command, dict):
        return RefundCommand.model_validate(command)
    return command


def _record_refunded(
    runtime: Runtime,
    tenant_id: str,
    return_id: str,
    refund_row_id: str,
    refund: PlatformRefund | None,
    *,
    restocks_with_refund: bool,
    platform: str,
    skipped: bool = False,
    planned: RefundMoney | None = None,
    tolerance: int = 0,
) -> StepOutcome:
    """Record the refund; also the restock when it needs no step of its own (the refund
    restocked the goods, or there are none), so the restock step has nothing to write.

    When what the platform recorded differs from `planned` (the money of the command sent),
    the refund is recorded as made and the return then waits in `needs_review` with both.
    """
    differences = (
        rc.recorded_differences(planned, refund, tolerance=tolerance)
        if planned is not None and refund is not None
        else []
    )
    with transaction(runtime) as session:
        record, canonical = load_return(session, tenant_id, return_id)
        if refund is not None:
            refund_store.record_made(
                session,
                refund_row_id,
                tenant_id=tenant_id,
                platform_refund_id=refund.id,
                amount=Money(refund.total, refund.currency),
            )
        data: dict[str, Any] = {}
        if refund is not None:
            # what was refunded, also when the refund step planned again on a fresh order
            stage_refund_total(record, Money(refund.total, refund.currency))
            data = {
                "platform_refund_id": refund.id,
                "total": refund.total,
                "currency": refund.currency,
                "restocked_units": sum(ln.quantity for ln in refund.lines if ln.restock != "none"),
            }
        hops = [
            Hop(
                ReturnStatus.REFUNDED,
                "step_skipped" if skipped else "refund_created",
                _skipped_reason(canonical) if skipped else None,
                data,
            )
        ]
        # on a difference, the restock is recorded once a human has looked at the refund
        if not differences and (not canonical.restock or not canonical.lines):
            hops.append(completion.restock_skipped())
        elif not differences and refund is not None and restocks_with_refund:
            made = refund_store.platform_refund_ids(session, return_id, tenant_id=tenant_id)
            hops.append(completion.restocked_in_refund(platform, made))
        advance_through(session, record, hops)
        status = record.status
    if refund is None:  # nothing to refund: the skipped refund is already on the timeline
        return StepOutcome(status)
    if differences and planned is not None:
        return park(
            runtime,
            tenant_id,
            return_id,
            status=ReturnStatus.NEEDS_REVIEW,
            event="refund_differs_from_plan",
            reason="the platform recorded a different refund than planned: "
            + "; ".join(differences),
            data={
                "plan": planned.model_dump(mode="json"),
                "platform": refund.model_dump(mode="json"),
            },
        )
    return StepOutcome(status, total=refund.total, platform_refund_id=refund.id)
