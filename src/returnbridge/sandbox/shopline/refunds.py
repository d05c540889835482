"""Refund trial and refund creation, written from SHOPLINE's description of its order refund
API (not from returnbridge's domain code).

Lines: ``Unshipped`` refunds draw on units not shipped, ``Returned`` ones on shipped units.
A refund of ``q`` units after ``r`` units of the line were refunded takes the cumulative
shares ``x(r+q) − x(r)`` of the line's discount and of each tax line (half-up to the cent),
so partial refunds add up to the line exactly. Shipping tax is cumulative the same way over
the shipping amount refunded. See ``docs/sandbox-shopline.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from returnbridge.sandbox.shopline.errors import ApiError, bad_request, unprocessable
from returnbridge.sandbox.shopline.money import ZERO, AmountError, parse_amount, share_of_amount
from returnbridge.sandbox.shopline.state import (
    LINE_TYPES,
    Ids,
    LineItem,
    LineType,
    Order,
    Refund,
    RefundLine,
    RefundTransaction,
    Store,
)

RESTOCK_TYPES = ("return", "no_restock", "cancel")
RESTOCKING = ("return", "cancel")


@dataclass(frozen=True)
class LinePlan:
    """One requested line, priced."""

    line: LineItem
    quantity: int
    type: LineType
    restock_type: str
    location_id: str | None
    subtotal: Decimal
    total_tax: Decimal
    discount_total: Decimal


@dataclass(frozen=True)
class ShippingPlan:
    """Shipping refunded (before tax), its tax, and what could have been."""

    amount: Decimal
    tax: Decimal
    maximum_refundable: Decimal


@dataclass(frozen=True)
class Plan:
    """A priced refund request, before any money."""

    lines: list[LinePlan]
    shipping: ShippingPlan

    @property
    def total(self) -> Decimal:
        """Lines and shipping, tax included."""
        lines = sum((p.subtotal + p.total_tax for p in self.lines), ZERO)
        return lines + self.shipping.amount + self.shipping.tax


def unwrap(body: Any) -> dict[str, Any]:
    """The request's fields: top level, or inside ``{"refund": {...}}``."""
    if not isinstance(body, dict):
        raise bad_request("invalid request body")
    inner = body.get("refund")
    if isinstance(inner, dict) and len(body) == 1:
        return cast(dict[str, Any], inner)
    return cast(dict[str, Any], body)


def _id(value: object) -> str | None:
    """An id sent as a string or an integer."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def check_currency(order: Order, currency: object) -> None:
    """``currency`` is optional; given, it must be the order's settlement currency."""
    if currency is not None and currency not in ("", order.currency):
        raise unprocessable(f"currency must be {order.currency}")


def _list(fields: Mapping[str, Any], key: str) -> list[Any]:
    value = fields.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise unprocessable(f"{key} must be a list")
    return value


def _lines(
    order: Order, store: Store, fields: Mapping[str, Any], *, restock: bool
) -> list[LinePlan]:
    refunded = {line.id: line.refunded_units for line in order.line_items}
    taken: dict[tuple[str, LineType], int] = {}
    plans = []
    for raw in _list(fields, "refund_line_items"):
        if not isinstance(raw, dict):
            raise unprocessable("refund_line_items must hold objects")
        line_id = _id(raw.get("line_item_id"))
        line = order.line(line_id) if line_id else None
        if line is None:
            raise unprocessable(f"line_item_id {raw.get('line_item_id')} not found")
        quantity = raw.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise unprocessable("quantity must be a positive integer")
        line_type = raw.get("type")
        if line_type not in LINE_TYPES:
            raise unprocessable("type must be Unshipped or Returned")
        line_type = cast(LineType, line_type)
        key = (line.id, line_type)
        taken[key] = taken.get(key, 0) + quantity
        if taken[key] > line.refundable(line_type):
            raise unprocessable(f"quantity exceeds refundable quantity for line_item_id {line.id}")
        restock_type = "no_restock"
        location_id = None
        if restock:
            restock_type = raw.get("restock_type") or "no_restock"
            if restock_type not in RESTOCK_TYPES:
                raise unprocessable("invalid restock_type")
            if restock_type in RESTOCKING:
                location_id = _id(raw.get("location_id"))
                if location_id is None:
                    raise unprocessable("location_id is required")
                if location_id not in store.locations:
                    raise unprocessable(f"location_id {location_id} not found")
        before = refunded[line.id]
        after = before + quantity
        refunded[line.id] = after
        discount = line.discount_of(after) - line.discount_of(before)
        plans.append(
            LinePlan(
                line=line,
                quantity=quantity,
                type=line_type,
                restock_type=restock_type,
                location_id=location_id,
                subtotal=line.price * quantity - discount,
                total_tax=line.tax_of(after) - line.tax_of(before),
                discount_total=discount,
            )
        )
    return plans


def _shipping(order: Order, fields: Mapping[str, Any]) -> ShippingPlan:
    before = order.shipping_refunded
    maximum = order.shipping_price - before
    raw = fields.get("shipping") or {}
    if not isinstance(raw, dict):
        raise unprocessable("shipping must be an object")
    if raw.get("full_refund") is True:
        amount = maximum
    elif raw.get("amount") in (None, ""):
        amount = ZERO
    else:
        try:
            amount = parse_amount(raw["amount"])
        except AmountError as exc:
            raise unprocessable("invalid shipping amount") from exc
        if amount < 0:
            raise unprocessable("invalid shipping amount")
        if amount > maximum:
            raise unprocessable("shipping amount exceeds maximum refundable")
    whole, tax = order.shipping_price, order.shipping_tax
    shipping_tax = share_of_amount(tax, before + amount, whole) - share_of_amount(
        tax, before, whole
    )
    return ShippingPlan(amount=amount, tax=shipping_tax, maximum_refundable=maximum)


def plan(order: Order, store: Store, fields: Mapping[str, Any], *, restock: bool) -> Plan:
    """Price a refund request (the trial, and the first half of a refund)."""
    check_currency(order, fields.get("currency"))
    return Plan(
        lines=_lines(order, store, fields, restock=restock), shipping=_shipping(order, fields)
    )


@dataclass(frozen=True)
class Suggestion:
    """The trial's suggested refund against one payment slip."""

    gateway: str
    parent_id: str
    maximum_refundable: Decimal
    amount: Decimal


def suggested_transactions(order: Order, total: Decimal) -> list[Suggestion]:
    """Per payment slip, the refund's share (in payment order, capped per slip)."""
    left = total
    suggestions = []
    for payment in order.payments:
        take = min(left, payment.maximum_refundable)
        left -= take
        suggestions.append(
            Suggestion(payment.gateway, payment.id, payment.maximum_refundable, take)
        )
    return suggestions


def _transactions(
    order: Order, fields: Mapping[str, Any]
) -> list[tuple[str, str, Decimal, bool | None]]:
    """Validated ``(parent id, gateway, amount, original route)`` per requested transaction."""
    wanted = []
    per_slip: dict[str, Decimal] = {}
    for raw in _list(fields, "transactions"):
        if not isinstance(raw, dict):
            raise unprocessable("transactions must hold objects")
        if raw.get("kind") != "refund":
            raise unprocessable("transaction kind must be refund")
        slip_id = _id(raw.get("id"))
        slip = order.payment(slip_id) if slip_id else None
        if slip is None:
            raise unprocessable(f"transaction {raw.get('id')} not found")
        if raw.get("gateway") != slip.gateway:
            raise unprocessable(f"gateway does not match transaction {slip.id}")
        check_currency(order, raw.get("currency"))
        try:
            amount = parse_amount(raw.get("amount"))
        except AmountError as exc:
            raise unprocessable("invalid transaction amount") from exc
        if amount <= 0:
            raise unprocessable("invalid transaction amount")
        per_slip[slip.id] = per_slip.get(slip.id, ZERO) + amount
        if per_slip[slip.id] > slip.maximum_refundable:
            raise unprocessable(f"amount exceeds maximum refundable for transaction {slip.id}")
        route = raw.get("type")
        wanted.append((slip.id, slip.gateway, amount, route if isinstance(route, bool) else None))
    return wanted


def create(
    order: Order, store: Store, fields: Mapping[str, Any], *, ids: Ids, now: datetime
) -> Refund:
    """Validate a refund whole, then apply it: refund, money, restock (caller holds the lock)."""
    priced = plan(order, store, fields, restock=True)
    wanted = _transactions(order, fields)
    if not priced.lines and priced.shipping.amount == 0 and not wanted:
        raise unprocessable("refund is empty")
    if not wanted:
        raise unprocessable("transactions is required")
    note = fields.get("note")
    processed_at = fields.get("processed_at")
    refund = Refund(
        id=ids.next("refund"),
        order_id=order.id,
        created_at=now,
        processed_at=processed_at if isinstance(processed_at, str) else None,
        note=note if isinstance(note, str) else None,
        currency=order.currency,
        lines=[
            RefundLine(
                id=ids.next("refund_line"),
                line_item_id=p.line.id,
                quantity=p.quantity,
                type=p.type,
                restock_type=p.restock_type,
                location_id=p.location_id,
                price=p.line.price,
                subtotal=p.subtotal,
                total_tax=p.total_tax,
                discount_total=p.discount_total,
            )
            for p in priced.lines
        ],
        shipping_amount=priced.shipping.amount,
        shipping_tax=priced.shipping.tax,
        transactions=[
            RefundTransaction(
                id=ids.next("payment"),
                parent_id=parent,
                gateway=gateway,
                amount=amount,
                currency=order.currency,
                original_route=route,
                created_at=now,
            )
            for parent, gateway, amount, route in wanted
        ],
    )
    for p in priced.lines:
        p.line.refunded[p.type] += p.quantity
        if p.location_id is not None:
            levels = store.stock.setdefault(p.location_id, {})
            levels[p.line.sku] = levels.get(p.line.sku, 0) + p.quantity
    for transaction in refund.transactions:
        slip = order.payment(transaction.parent_id)
        if slip is not None:
            slip.refunded += transaction.amount
    order.refunds.append(refund)
    order.updated_at = now
    return refund


def refused(error: ApiError) -> bool:
    """Whether an error is a refusal of the request's content (journalled as ``rejected``)."""
    return error.status in (400, 404, 409, 422)
