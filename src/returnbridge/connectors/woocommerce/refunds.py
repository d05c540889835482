"""The `POST /orders/{id}/refunds` body for a `RefundCommand`, checked before it is sent.

WooCommerce takes whatever it is given: item ids not on the order are skipped silently,
quantities are not capped (a refund of 999 units restocks 999), and `amount` wins over the line
sums. So the body is built against the order as just read, and refused here when it names an
unknown line or more units than remain, or when its amounts do not add up.

Amounts come from the plan (`RefundCommand.money`), to the minor unit: each line's
`refund_total` (excluding tax) and `refund_tax` per tax rate id; shipping through its shipping
line id the same way. A tax without a rate id, or a shipping line's tax (the plan carries it as
one figure), is split over that line's rates by largest remainder, weighted by what each rate
has left to refund. Amounts are sent as decimal strings (core reads them with
`wc_format_decimal`), never floats.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from returnbridge.connectors.base.connector import RefundCommand, TaxAmount
from returnbridge.connectors.base.dedupe import note_marker
from returnbridge.connectors.woocommerce.mapping import KEY_META, RESTOCK_META
from returnbridge.domain.allocation import largest_remainder
from returnbridge.domain.errors import PermanentError, Rejected
from returnbridge.domain.money import format_minor
from returnbridge.domain.orders import Order, TaxLine


@dataclass(frozen=True, slots=True)
class _Item:
    """One entry of the body's `line_items`, in minor units."""

    item_id: str
    quantity: int
    total: int
    taxes: Mapping[str, int]

    @property
    def amount(self) -> int:
        return self.total + sum(self.taxes.values())


def _wire_id(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _rate_by_title(title: str, rates: Sequence[TaxLine]) -> str | None:
    found = [rate.id for rate in rates if rate.title == title and rate.id]
    return found[0] if len(found) == 1 else None


def rate_taxes(
    given: Sequence[TaxAmount], tax: int, rates: Sequence[TaxLine], *, what: str
) -> dict[str, int]:
    """Tax per rate id: the plan's own split where it names rates, the rest by largest
    remainder over `rates` (weights: each rate's tax not yet refunded)."""
    if tax < 0 or any(t.amount < 0 for t in given):
        raise PermanentError("NEGATIVE_TAX", f"{what}: a refund's tax cannot be negative")
    if given and sum(t.amount for t in given) != tax:
        raise PermanentError(
            "REFUND_NOT_BALANCED",
            f"{what}: taxes add up to {sum(t.amount for t in given)}, not {tax}",
        )
    result: dict[str, int] = defaultdict(int)
    unknown = 0 if given else tax
    for share in given:
        rate_id = share.tax_id or _rate_by_title(share.title, rates)
        if rate_id is None:
            unknown += share.amount
        else:
            result[rate_id] += share.amount
    if unknown:
        named = [rate for rate in rates if rate.id]
        weights = [max((r.amount or 0) - (r.already_refunded or 0), 0) for r in named]
        if sum(weights) == 0:
            weights = [r.amount or 0 for r in named]
        if sum(weights) == 0:
            raise PermanentError("NO_TAX_RATE", f"{what}: {unknown} of tax but no tax rate to name")
        for rate, part in zip(named, largest_remainder(unknown, weights), strict=True):
            if part:
                result[str(rate.id)] += part
    return {rate: amount for rate, amount in result.items() if amount}


def _check_lines(command: RefundCommand, order: Order) -> dict[str, int]:
    """Units per order line, refused when a line is unknown or more units than remain."""
    quantities: dict[str, int] = {}
    for command_line in command.lines:
        line_id = command_line.line_id
        quantities[line_id] = quantities.get(line_id, 0) + command_line.quantity
    for money in command.money.lines if command.money else ():
        quantities.setdefault(money.line_id, money.quantity)
    for line_id, quantity in quantities.items():
        line = order.line(line_id)
        if line is None:
            raise Rejected(
                "UNKNOWN_LINE", f"order {order.id} has no line item {line_id}", field="lines"
            )
        left = line.quantity - line.already_returned_quantity
        if quantity < 0 or quantity > left:
            raise Rejected(
                "QUANTITY_EXCEEDS_REMAINING",
                f"line {line_id}: {quantity} units asked, {left} of {line.quantity} remain",
                field="lines",
            )
    return quantities


def _items(command: RefundCommand, order: Order) -> list[_Item]:
    quantities = _check_lines(command, order)
    inclusive = order.taxes_included
    money = command.money
    planned = {line.line_id: line for line in money.lines} if money else {}
    items = []
    for line_id, quantity in quantities.items():
        plan = planned.get(line_id)
        order_line = order.line(line_id)
        assert order_line is not None  # checked above
        if plan is None:
            items.append(_Item(line_id, quantity, 0, {}))
            continue
        what = f"line {line_id}"
        taxes = rate_taxes(plan.taxes, plan.tax, order_line.tax_lines, what=what)
        total = plan.subtotal + plan.duties - (plan.tax if inclusive else 0)
        items.append(_Item(line_id, quantity, total, taxes))
    for shipping in money.shipping if money else ():
        line = next((s for s in order.shipping_lines if s.id == shipping.shipping_line_id), None)
        if line is None:
            raise Rejected(
                "UNKNOWN_LINE",
                f"order {order.id} has no shipping line {shipping.shipping_line_id}",
                field="shipping",
            )
        what = f"shipping line {line.id}"
        taxes = rate_taxes(shipping.taxes, shipping.tax, line.tax_lines, what=what)
        total = shipping.amount - (shipping.tax if inclusive else 0)
        items.append(_Item(line.id, 0, total, taxes))
    return items


def _balanced(command: RefundCommand, items: Sequence[_Item]) -> int:
    """The refund's amount; `PermanentError` unless the parts add up to it exactly."""
    money = command.money
    if money is None:
        return 0
    if any(item.total < 0 for item in items) or money.total < 0:
        raise PermanentError(
            "REFUND_NOT_BALANCED", f"refund {command.idempotency_key}: a negative amount"
        )
    parts = sum(item.amount for item in items)
    if parts + money.fees + money.adjustment != money.total:
        raise PermanentError(
            "REFUND_NOT_BALANCED",
            f"refund {command.idempotency_key}: lines and shipping add up to {parts}, "
            f"fees {money.fees} and adjustment {money.adjustment}, not the total {money.total}",
        )
    return money.total


def refund_body(command: RefundCommand, order: Order, *, api_refund: bool) -> dict[str, Any]:
    """The create body for `command` against `order` (read just before), checked.

    `amount` is the plan's total. Lines and shipping add up to it exactly unless the plan
    deducts fees or caps the refund (both negative): WooCommerce then records the line
    amounts as given and refunds the smaller `amount`.
    """
    items = _items(command, order)
    amount = _balanced(command, items)
    currency = order.currency
    restock = any(line.restock != "none" for line in command.lines)
    return {
        "amount": format_minor(amount, currency),
        "reason": command.note or note_marker(command.idempotency_key).strip(),
        "api_refund": api_refund and amount > 0,
        "api_restock": restock,
        "line_items": [
            {
                "id": _wire_id(item.item_id),
                "quantity": item.quantity,
                "refund_total": format_minor(item.total, currency),
                "refund_tax": [
                    {"id": _wire_id(rate), "refund_total": format_minor(value, currency)}
                    for rate, value in item.taxes.items()
                ],
            }
            for item in items
        ],
        "meta_data": [
            {"key": KEY_META, "value": command.idempotency_key},
            {"key": RESTOCK_META, "value": "yes" if restock else "no"},
        ],
    }
