"""One action against a platform, through the connection's connector; failures become
`ActionFailed` with our own sentence and an HTTP status."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, ValidationError

from returnbridge.connectors.base.connector import (
    Capability,
    OrderConnector,
    OrderQuery,
    RefundCommand,
    RestockCommand,
)
from returnbridge.connectors.base.dedupe import NOTE_PREFIX, find_by_key
from returnbridge.domain.errors import (
    AuthError,
    ConnectorError,
    DomainError,
    NotFound,
    RateLimited,
    TransientError,
)
from returnbridge.domain.matching import resolve_lines
from returnbridge.domain.orders import Order
from returnbridge.domain.refunds import RefundPlan, plan_refund
from returnbridge.engine import refund_commands as rc
from returnbridge.engine.actions import models as m
from returnbridge.engine.actions.catalog import Action
from returnbridge.engine.refunding import cross_check_tolerance, refund_policy
from returnbridge.store.tables import Connection


class ActionFailed(Exception):
    """An action that did not run or was refused; `detail` is ours, safe to show a tenant."""

    def __init__(
        self, status: int, code: str, detail: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.retry_after = status, code, detail, retry_after

    @property
    def retryable(self) -> bool:
        """The same request may succeed later (the platform was busy or unreachable)."""
        return self.status in (429, 503)


Handler = Callable[[OrderConnector, Connection, Any, str], BaseModel]


def parse_input(action: Action, payload: dict[str, Any]) -> BaseModel:
    try:
        return action.input.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "input"
        raise ActionFailed(422, "INVALID_INPUT", f"{where}: {first.get('msg', 'invalid')}") from exc


def execute(
    connector: OrderConnector, connection: Connection, action: Action, data: BaseModel, key: str
) -> dict[str, Any]:
    """Run `action` with its parsed input; `key` is the platform idempotency key of a write."""
    with platform_errors():
        result = HANDLERS[action.name](connector, connection, data, key)
    return result.model_dump(mode="json")


@contextmanager
def platform_errors() -> Iterator[None]:
    """Turn what the platform or the planner said into `ActionFailed`, in our words."""
    try:
        yield
    except DomainError as exc:
        raise ActionFailed(422, exc.code, exc.message) from exc
    except NotFound as exc:
        raise ActionFailed(404, "NOT_FOUND", f"the platform: {exc.message}") from exc
    except RateLimited as exc:
        raise ActionFailed(
            429,
            "PLATFORM_RATE_LIMITED",
            "the platform's rate limit is spent for now; retry later",
            retry_after=exc.retry_after,
        ) from exc
    except TransientError as exc:
        raise ActionFailed(
            503, "PLATFORM_UNAVAILABLE", f"the platform is unavailable: {exc.message}"
        ) from exc
    except AuthError as exc:
        raise ActionFailed(
            502,
            "PLATFORM_AUTH",
            f"the platform refused the connection's credentials: {exc.message}",
        ) from exc
    except ConnectorError as exc:
        raise ActionFailed(422, "PLATFORM_REFUSED", f"the platform: {exc.message}") from exc


def _get_order(c: OrderConnector, _conn: Connection, data: m.GetOrderIn, _key: str) -> Order:
    return c.get_order(data.order_id)


def _find_orders(
    c: OrderConnector, _conn: Connection, data: m.FindOrdersIn, _key: str
) -> m.OrderList:
    if not (data.name or data.email or data.skus):
        raise DomainError("NO_CRITERIA", "give at least one of name, email or skus")
    query = OrderQuery(
        name=data.name,
        email=data.email,
        skus=tuple(data.skus),
        created_from=data.created_from,
        limit=data.limit,
    )
    return m.OrderList(orders=c.find_orders(query))


def _list_locations(
    c: OrderConnector, _conn: Connection, _data: m.ListLocationsIn, _key: str
) -> m.LocationList:
    return m.LocationList(locations=c.list_locations())


def _planned(
    c: OrderConnector, conn: Connection, data: m.RefundIn, key: str
) -> tuple[Order, RefundPlan | None, RefundCommand]:
    if not data.lines and data.refund.shipping.mode == "none":
        raise DomainError("NOTHING_TO_REFUND", "give lines, shipping, or both", field="lines")
    order = c.get_order(data.order_id)
    resolved = resolve_lines(order, tuple(data.lines))
    quantities = rc.merged_quantities(resolved)
    plan: RefundPlan | None = None
    if data.refund.issue:
        request = rc.instruction_request(data.refund, order, resolved)
        plan = plan_refund(order, request, policy=refund_policy(conn))
    location = data.location_id or (conn.settings or {}).get("restock_location_id")
    if data.restock and not location:
        active = [loc for loc in c.list_locations() if loc.active]
        location = active[0].id if active else None
    detail = data.note or "Connectivity API"
    command = rc.refund_command(
        plan,
        order,
        quantities=quantities,
        key=key,
        note=f"{NOTE_PREFIX} {key} ({detail})",
        choice=rc.RestockChoice(restock=data.restock, location_id=location),
        shipping_mode=data.refund.shipping.mode,
        tolerance=cross_check_tolerance(conn),
        duties_mode=data.refund.duties,
    )
    return order, plan, command.model_copy(update={"notify_customer": data.notify_customer})


def _preview_refund(
    c: OrderConnector, conn: Connection, data: m.RefundIn, key: str
) -> m.RefundPreview:
    order, plan, command = _planned(c, conn, data, key or "preview")
    offered = Capability.SUGGESTED_REFUND in c.capabilities
    platform: dict[str, Any] | None = None
    differences: list[str] = []
    if offered:
        suggested = c.suggest_refund(command)
        platform = rc.suggestion_breakdown(suggested)
        if plan is not None:
            differences = rc.disagreements(plan, suggested, tolerance=command.tolerance)
    return m.RefundPreview(
        order_id=order.id,
        currency=order.currency,
        plan=plan.to_breakdown() if plan is not None else None,
        platform=platform,
        platform_preview="offered" if offered else "not_offered",
        differences=differences,
        agrees=(not differences) if offered else None,
    )


def _create_refund(c: OrderConnector, conn: Connection, data: m.RefundIn, key: str) -> BaseModel:
    if not data.refund.issue:
        raise DomainError(
            "NOTHING_TO_REFUND",
            "refund.issue is false: no money would move; use the restock action for goods",
            field="refund.issue",
        )
    if Capability.IDEMPOTENT_REFUNDS not in c.capabilities:
        # The platform keeps no key of ours but the note: look there first, so a request
        # retried after its answer was lost (or its claim went stale) refunds once.
        made = find_by_key(c.list_refunds(data.order_id), key)
        if made is not None:
            return made
    _order, _plan, command = _planned(c, conn, data, key)
    return c.create_refund(command)


def uncertain_after_failure(action: str, capabilities: frozenset[Capability]) -> bool:
    """Whether a write of `action` that failed midway may have acted with nothing to find
    it by afterwards: a stock adjustment (BigCommerce) has no key and no note."""
    return action == "restock" and Capability.RESTOCK in capabilities


def _list_refunds(
    c: OrderConnector, _conn: Connection, data: m.ListRefundsIn, _key: str
) -> m.RefundList:
    return m.RefundList(refunds=c.list_refunds(data.order_id))


def _restock(c: OrderConnector, conn: Connection, data: m.RestockIn, key: str) -> m.RestockOut:
    location = data.location_id or (conn.settings or {}).get("restock_location_id")
    if Capability.RESTOCK in c.capabilities:
        result = c.restock(
            RestockCommand(
                order_id=data.order_id,
                key=key,
                lines=tuple(data.lines),
                location_id=location,
                reason=data.reason,
            )
        )
        return m.RestockOut(
            order_id=data.order_id,
            method="inventory_adjustment",
            reference=result.reference,
            location_id=result.location_id,
            lines=list(result.lines),
        )
    # Platforms that restock inside refunds: a refund of no money, restocking the lines.
    goods = m.RefundIn.model_validate(
        {
            "order_id": data.order_id,
            "lines": [{"line_id": ln.line_id, "quantity": ln.quantity} for ln in data.lines],
            "refund": {"issue": False},
            "restock": True,
            "location_id": location,
            "note": data.reason or "restock",
        }
    )
    _order, _plan, command = _planned(c, conn, goods, key)
    refund = c.create_refund(command)
    return m.RestockOut(
        order_id=data.order_id,
        method="goods_only_refund",
        reference=refund.id,
        location_id=next((cmd.location_id for cmd in command.lines if cmd.location_id), None),
        lines=list(data.lines),
    )


HANDLERS: dict[str, Handler] = {
    "get_order": _get_order,
    "find_orders": _find_orders,
    "list_locations": _list_locations,
    "preview_refund": _preview_refund,
    "create_refund": _create_refund,
    "list_refunds": _list_refunds,
    "restock": _restock,
}
