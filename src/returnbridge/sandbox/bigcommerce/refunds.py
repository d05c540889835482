"""Refund quotes and refunds on an order: what may be refunded, for how much, paid how.

Supported item types: PRODUCT (by quantity, tax-inclusive unit price), SHIPPING (an amount of the
address's shipping cost) and ORDER (a tax-exempt amount). Anything beyond what remains refundable
is refused with 422. Refunds never restock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from returnbridge.sandbox.bigcommerce.money import AmountError, parse_cents, share, v3_amount
from returnbridge.sandbox.bigcommerce.state import (
    PARTIALLY_REFUNDED,
    REFUNDED,
    Ids,
    Order,
    Refund,
    RefundLine,
    RefundPayment,
)

KNOWN_ITEM_TYPES = {"PRODUCT", "GIFT_WRAPPING", "SHIPPING", "HANDLING", "ORDER", "FEE", "TAX"}
SUPPORTED_ITEM_TYPES = {"PRODUCT", "SHIPPING", "ORDER"}


class RefundError(Exception):
    """A request BigCommerce would refuse, with the v3 error's title and field errors."""

    def __init__(self, title: str, errors: dict[str, str] | None = None, status: int = 422):
        super().__init__(title)
        self.title = title
        self.errors = errors or {}
        self.status = status


@dataclass(frozen=True)
class PaymentOption:
    """One part of a refund method."""

    provider_id: str
    provider_description: str
    amount_cents: int
    offline: bool
    offline_provider: bool
    offline_reason: str

    def as_json(self) -> dict[str, Any]:
        """The ``PaymentOption`` object."""
        return {
            "provider_id": self.provider_id,
            "provider_description": self.provider_description,
            "amount": v3_amount(self.amount_cents),
            "offline": self.offline,
            "offline_provider": self.offline_provider,
            "offline_reason": self.offline_reason,
        }


@dataclass(frozen=True)
class Quote:
    """What a set of items refunds and the ways it may be paid."""

    order_id: int
    lines: list[RefundLine]
    total_cents: int
    tax_cents: int
    order_level_cents: int
    methods: list[list[PaymentOption]]

    def as_json(self) -> dict[str, Any]:
        """The ``RefundQuote_Full`` object."""
        return {
            "order_id": self.order_id,
            "total_refund_amount": v3_amount(self.total_cents),
            "total_refund_tax_amount": v3_amount(self.tax_cents),
            "order_level_refund_amount": v3_amount(self.order_level_cents),
            "rounding": 0,
            "adjustment": 0,
            "tax_inclusive": True,
            "refund_methods": [[o.as_json() for o in method] for method in self.methods],
        }


def _int(item: dict[str, Any], key: str, where: str) -> int:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RefundError("Invalid refund item", {f"{where}.{key}": "must be an integer"})
    return value


def _amount(item: dict[str, Any], where: str) -> int:
    try:
        cents = parse_cents(item.get("amount"))
    except AmountError as exc:
        raise RefundError("Invalid refund item", {f"{where}.amount": "must be a number"}) from exc
    if cents <= 0:
        raise RefundError("Invalid refund item", {f"{where}.amount": "must be positive"})
    return cents


def _line(order: Order, item: Any, where: str, taken: dict[tuple[str, int], int]) -> RefundLine:
    if not isinstance(item, dict):
        raise RefundError("Invalid refund item", {where: "must be an object"})
    item_type = item.get("item_type")
    if item_type not in KNOWN_ITEM_TYPES:
        raise RefundError("Invalid refund item", {f"{where}.item_type": "unknown item type"})
    if item_type not in SUPPORTED_ITEM_TYPES:
        raise RefundError(
            "Item type not supported by the sandbox", {f"{where}.item_type": str(item_type)}
        )
    item_id = _int(item, "item_id", where)
    reason = item.get("reason")
    reason = reason if isinstance(reason, str) else None
    key = (str(item_type), item_id)
    if item_type == "PRODUCT":
        product = order.product(item_id)
        if product is None:
            raise RefundError("Order product not found", {f"{where}.item_id": str(item_id)})
        quantity = _int(item, "quantity", where)
        taken[key] = taken.get(key, 0) + quantity
        if quantity < 1 or product.quantity_refunded + taken[key] > product.quantity:
            raise RefundError(
                "Requested quantity exceeds the refundable quantity",
                {f"{where}.quantity": f"at most {product.quantity - product.quantity_refunded}"},
            )
        return RefundLine("PRODUCT", item_id, quantity, None, reason)
    cents = _amount(item, where)
    taken[key] = taken.get(key, 0) + cents
    if item_type == "SHIPPING":
        address = order.address(item_id)
        if address is None:
            raise RefundError("Order address not found", {f"{where}.item_id": str(item_id)})
        if taken[key] > address.cost_inc_tax - address.refunded_cents:
            raise RefundError(
                "Requested amount exceeds the refundable shipping amount",
                {f"{where}.amount": "exceeds the refundable shipping amount"},
            )
    elif item_id != order.id:
        raise RefundError("ORDER item_id must be the order id", {f"{where}.item_id": str(item_id)})
    return RefundLine(str(item_type), item_id, None, cents, reason)


def _line_amounts(order: Order, line: RefundLine, *, before: int = 0) -> tuple[int, int]:
    """(amount tax included, tax) of one line; ``before``: units of the same product already
    taken by earlier lines of the same request."""
    if line.item_type == "PRODUCT":
        product = order.product(line.item_id)
        assert product is not None
        assert line.quantity is not None
        start = product.quantity_refunded + before
        end = start + line.quantity
        return product.net_of(end) - product.net_of(start), product.tax_of(end) - product.tax_of(
            start
        )
    assert line.requested_cents is not None
    if line.item_type == "SHIPPING":
        address = order.address(line.item_id)
        assert address is not None
        tax = address.cost_inc_tax - address.cost_ex_tax
        return line.requested_cents, share(line.requested_cents, tax, address.cost_inc_tax)
    return line.requested_cents, 0


def _amounts(order: Order, lines: list[RefundLine]) -> list[tuple[int, int]]:
    """Each line's (amount, tax), products counted in request order."""
    taken: dict[int, int] = {}
    amounts = []
    for line in lines:
        before = taken.get(line.item_id, 0) if line.item_type == "PRODUCT" else 0
        amounts.append(_line_amounts(order, line, before=before))
        if line.item_type == "PRODUCT" and line.quantity is not None:
            taken[line.item_id] = before + line.quantity
    return amounts


def _methods(order: Order, total: int) -> list[list[PaymentOption]]:
    methods = [
        [PaymentOption(order.payment_provider_id, order.payment_method, total, False, False, "")]
    ]
    if order.customer_id:
        methods.append([PaymentOption("storecredit", "Store Credit", total, False, False, "")])
    offline_reason = "This is an offline payment provider."
    methods.append([PaymentOption("custom", "Custom", total, True, True, offline_reason)])
    return methods


def quote(order: Order, body: Any) -> Quote:
    """The quote for a request body ``{"items": [...]}``; raises :class:`RefundError`."""
    if not isinstance(body, dict) or not isinstance(body.get("items"), list) or not body["items"]:
        raise RefundError("Invalid request", {"items": "a non-empty array is required"})
    taken: dict[tuple[str, int], int] = {}
    lines = [_line(order, item, f"items[{i}]", taken) for i, item in enumerate(body["items"])]
    amounts = _amounts(order, lines)
    total = sum(amount for amount, _ in amounts)
    if total > order.total_inc_tax - order.refunded_cents:
        raise RefundError(
            "Requested amount exceeds the refundable amount of the order",
            {"items": f"at most {v3_amount(order.total_inc_tax - order.refunded_cents)}"},
        )
    order_level = sum(
        amount for (amount, _), ln in zip(amounts, lines, strict=True) if ln.item_type == "ORDER"
    )
    return Quote(
        order_id=order.id,
        lines=lines,
        total_cents=total,
        tax_cents=sum(tax for _, tax in amounts),
        order_level_cents=order_level,
        methods=_methods(order, total),
    )


def _payments(body: dict[str, Any]) -> list[tuple[str, int, bool]]:
    payments = body.get("payments")
    if not isinstance(payments, list) or not payments:
        raise RefundError("Invalid request", {"payments": "a non-empty array is required"})
    parsed = []
    for index, payment in enumerate(payments):
        where = f"payments[{index}]"
        if not isinstance(payment, dict) or not isinstance(payment.get("provider_id"), str):
            raise RefundError("Invalid request", {f"{where}.provider_id": "is required"})
        try:
            cents = parse_cents(payment.get("amount"))
        except AmountError as exc:
            raise RefundError("Invalid request", {f"{where}.amount": "must be a number"}) from exc
        parsed.append((payment["provider_id"], cents, bool(payment.get("offline", False))))
    return parsed


def create_refund(order: Order, body: Any, *, ids: Ids, created: str) -> Refund:
    """Check the payments against the quote's methods, then record the refund on the order."""
    planned = quote(order, body)
    payments = _payments(body)
    wanted = sorted(payments)
    if not any(
        wanted == sorted((o.provider_id, o.amount_cents, o.offline) for o in method)
        for method in planned.methods
    ):
        raise RefundError(
            "Payments do not match any refund method of the quote",
            {"payments": "must match one of the refund_methods of a refund quote"},
        )
    refund = Refund(
        id=ids.next("refund", 1),
        order_id=order.id,
        created=created,
        reason=next((line.reason for line in planned.lines if line.reason), ""),
        total_cents=planned.total_cents,
        tax_cents=planned.tax_cents,
        items=planned.lines,
        payments=[
            RefundPayment(ids.next("refund_payment", 1), provider, cents, offline)
            for provider, cents, offline in payments
        ],
    )
    _apply(order, refund)
    return refund


def _apply(order: Order, refund: Refund) -> None:
    for line in refund.items:
        amount, _ = _line_amounts(order, line)
        if line.item_type == "PRODUCT":
            product = order.product(line.item_id)
            assert product is not None
            assert line.quantity is not None
            product.quantity_refunded += line.quantity
            product.refunded_cents += amount
        elif line.item_type == "SHIPPING":
            address = order.address(line.item_id)
            assert address is not None
            address.refunded_cents += amount
    order.refunds.append(refund)
    fully = order.refunded_cents >= order.total_inc_tax
    order.status_id = REFUNDED if fully else PARTIALLY_REFUNDED
    order.date_modified = refund.created
