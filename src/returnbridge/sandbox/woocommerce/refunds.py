"""``POST /orders/{id}/refunds``: what WooCommerce core checks and changes.

Faithful traps kept on purpose: no idempotency (a repeat makes a second refund), item ids that
are not on the order are skipped silently, ``amount`` wins over the line sums, quantities are
not capped, and a gateway that cannot refund fails the whole call unless ``api_refund`` is false.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from returnbridge.sandbox.woocommerce.errors import WooError
from returnbridge.sandbox.woocommerce.money import MoneyError, to_cents
from returnbridge.sandbox.woocommerce.state import Ids, LineItem, Order, Refund, RefundedItem, Store

CANNOT_CREATE = "woocommerce_rest_cannot_create_order_refund"


@dataclass
class LineRequest:
    """One entry of the request's ``line_items``."""

    item_id: int
    quantity: int
    total: int
    taxes: dict[int, int] = field(default_factory=dict)
    has_amounts: bool = True
    """Whether ``refund_total`` and every ``refund_tax`` were given (for the computed amount)."""


@dataclass
class RefundRequest:
    """A parsed create body."""

    amount: int | None
    reason: str | None
    api_refund: bool
    api_restock: bool
    meta_data: list[dict[str, Any]]
    lines: list[LineRequest]


def _bad(message: str, param: str) -> WooError:
    return WooError(
        400, "rest_invalid_param", f"Invalid parameter(s): {param}", params={param: message}
    )


def _int(value: Any, param: str) -> int:
    if isinstance(value, bool):
        raise _bad(f"{param} is not of type integer.", param)
    try:
        return int(str(value))
    except ValueError as exc:
        raise _bad(f"{param} is not of type integer.", param) from exc


def _cents(value: Any, param: str) -> int:
    try:
        return to_cents(value)
    except MoneyError as exc:
        raise _bad(f"{param} is not of type number.", param) from exc


def _bool(value: Any, param: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "1", "false", "0", ""}:
        return value.lower() in {"true", "1"}
    raise _bad(f"{param} is not of type boolean.", param)


def _line(raw: Any) -> LineRequest:
    if not isinstance(raw, dict) or "id" not in raw:
        raise _bad("line_items[] needs an id.", "line_items")
    taxes: dict[int, int] = {}
    complete = "refund_total" in raw
    for tax in raw.get("refund_tax") or []:
        if not isinstance(tax, dict) or "id" not in tax:
            raise _bad("refund_tax[] needs an id.", "line_items")
        if "refund_total" not in tax:
            complete = False
            continue
        rate_id = _int(tax["id"], "line_items")
        taxes[rate_id] = taxes.get(rate_id, 0) + _cents(tax["refund_total"], "line_items")
    return LineRequest(
        item_id=_int(raw["id"], "line_items"),
        quantity=abs(_int(raw.get("quantity") or 0, "line_items")),
        total=_cents(raw.get("refund_total") or 0, "line_items"),
        taxes=taxes,
        has_amounts=complete,
    )


def _meta(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not all(isinstance(m, dict) and "key" in m for m in raw):
        raise _bad("meta_data is not of type array of {key, value}.", "meta_data")
    return [{"key": str(m["key"]), "value": m.get("value")} for m in raw]


def parse_refund_request(body: Any) -> RefundRequest:
    """The create body, checked against the route's schema."""
    if not isinstance(body, dict):
        body = {}
    lines_raw = body.get("line_items") or []
    if not isinstance(lines_raw, list):
        raise _bad("line_items is not of type array.", "line_items")
    amount = body.get("amount")
    reason = body.get("reason")
    return RefundRequest(
        amount=None if amount in (None, "") else _cents(amount, "amount"),
        reason=str(reason) if reason not in (None, "") else None,
        api_refund=_bool(body.get("api_refund", True), "api_refund"),
        api_restock=_bool(body.get("api_restock", True), "api_restock"),
        meta_data=_meta(body.get("meta_data") or []),
        lines=[_line(raw) for raw in lines_raw],
    )


def _amount(request: RefundRequest) -> int:
    if request.amount is not None:
        return request.amount
    if request.lines and all(line.has_amounts for line in request.lines):
        return sum(line.total + sum(line.taxes.values()) for line in request.lines)
    return 0


def _refunded_items(order: Order, request: RefundRequest, ids: Ids) -> list[RefundedItem]:
    items: list[RefundedItem] = []
    for line in request.lines:
        original = order.item(line.item_id)
        if original is None or not (line.quantity or line.total or line.taxes):
            continue
        quantity = line.quantity if isinstance(original, LineItem) else 0
        items.append(RefundedItem(ids.next(), line.item_id, quantity, line.total, line.taxes))
    return items


def create_refund(
    store: Store, order: Order, request: RefundRequest, *, ids: Ids, now: str
) -> Refund:
    """Record a refund on ``order`` (call under the world lock) or raise the platform's error."""
    amount = _amount(request)
    if amount < 0:
        raise WooError(
            400, "woocommerce_rest_invalid_order_refund", "Refund amount must be greater than zero."
        )
    if amount > order.remaining_refundable:
        raise WooError(500, CANNOT_CREATE, "Invalid refund amount.")
    if request.api_refund and not order.gateway_refunds:
        raise WooError(
            500,
            CANNOT_CREATE,
            "The payment gateway for this order does not support automatic refunds.",
        )
    refund = Refund(
        id=ids.next(),
        order_id=order.id,
        date_created=now,
        amount=amount,
        reason=request.reason,
        refunded_by=store.user_id,
        refunded_payment=request.api_refund,
        meta_data=[{"id": ids.next(), **m} for m in request.meta_data],
        items=_refunded_items(order, request, ids),
    )
    order.refunds.append(refund)
    order.date_modified = now
    if request.api_restock:
        _restock(store, order, refund)
    if order.remaining_refundable <= 0:
        order.status = "refunded"
    return refund


def _restock(store: Store, order: Order, refund: Refund) -> None:
    for item in refund.items:
        original = order.item(item.item_id)
        if isinstance(original, LineItem) and original.product_id in store.stock:
            store.stock[original.product_id] += item.quantity
