"""Pure translation between WooCommerce `wc/v3` JSON and the domain models.

WooCommerce keeps line and shipping totals excluding tax, taxes per tax rate id, and money as
decimal strings rounded to the store's decimals. Amounts are parsed exactly (Decimal) into
integer minor units of the order currency; outbound amounts are formatted from minor units.

Where the store enters prices with tax (`prices_include_tax`), the domain reads prices with
their tax (`Order.taxes_included`): a line's unit price is its subtotal plus subtotal tax per
unit, shipping its total plus tax, and a refund line's amount excluding tax is the plan's
figure minus its tax.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from returnbridge.connectors.base.connector import OrderQuery, PlatformRefund, RefundedLine
from returnbridge.connectors.base.search import aware
from returnbridge.domain.errors import DomainError
from returnbridge.domain.matching import normalise_order_name
from returnbridge.domain.money import exponent, parse_minor
from returnbridge.domain.orders import (
    DiscountAllocation,
    Order,
    OrderLine,
    OrderSummary,
    Payment,
    ShippingLine,
    TaxLine,
)

Json = Mapping[str, Any]

PLATFORM = "woocommerce"
KEY_META = "_returnbridge_key"
RESTOCK_META = "_returnbridge_restock"
REFUNDED_ITEM_META = "_refunded_item_id"
# Statuses of orders not (or no longer) paid for: nothing can be refunded on them.
UNPAID_STATUSES = frozenset({"pending", "on-hold", "failed", "cancelled", "checkout-draft"})
# Gateways whose money comes back by hand (bank transfer, cheque, cash on delivery).
MANUAL_GATEWAYS = frozenset({"bacs", "cheque", "cod"})


# -- values ------------------------------------------------------------------------------------


def minor(value: Any, currency: str, *, field: str) -> int:
    """Minor units of a WooCommerce amount (decimal string, or a JSON number read via str)."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise DomainError("INVALID_PLATFORM_DATA", f"{field}: not an amount", field=field)
    return parse_minor(str(value), currency, field=field)


def _int(value: Any, *, field: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise DomainError(
            "INVALID_PLATFORM_DATA", f"{field}: not an integer", field=field
        ) from None


def _timestamp(item: Json, name: str) -> datetime | None:
    """`{name}_gmt` as UTC, else the site-local `{name}` taken as UTC."""
    value = item.get(f"{name}_gmt") or item.get(name)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _items(value: Any) -> list[Json]:
    return [item for item in value or () if isinstance(item, Mapping)]


def meta_value(item: Json, key: str) -> str | None:
    """The value of one `meta_data` entry, as text."""
    for entry in _items(item.get("meta_data")):
        if entry.get("key") == key and entry.get("value") not in (None, ""):
            return str(entry["value"])
    return None


# -- refunds already made ----------------------------------------------------------------------


class Refunded:
    """What an order's refunds gave back, per order item id (positive minor units)."""

    def __init__(self, refunds: Sequence[Json], currency: str) -> None:
        self.quantity: dict[str, int] = defaultdict(int)
        self.total: dict[str, int] = defaultdict(int)
        self.tax: dict[tuple[str, str], int] = defaultdict(int)
        self.amount = 0
        for refund in refunds:
            self.amount += abs(minor(refund.get("amount"), currency, field="refunds.amount"))
            items = [*_items(refund.get("line_items")), *_items(refund.get("shipping_lines"))]
            for item in items:
                item_id = meta_value(item, REFUNDED_ITEM_META)
                if item_id is None:
                    continue
                self.quantity[item_id] += abs(_int(item.get("quantity") or 0, field="quantity"))
                self.total[item_id] += abs(minor(item.get("total"), currency, field="total"))
                for tax in _items(item.get("taxes")):
                    amount = abs(minor(tax.get("total"), currency, field="taxes.total"))
                    self.tax[(item_id, str(tax.get("id")))] += amount

    def item_tax(self, item_id: str) -> int:
        return sum(v for (item, _), v in self.tax.items() if item == item_id)


# -- orders ------------------------------------------------------------------------------------


def _tax_labels(order: Json) -> dict[str, str]:
    """Tax rate id -> its label (order `tax_lines`)."""
    labels: dict[str, str] = {}
    for line in _items(order.get("tax_lines")):
        rate_id = line.get("rate_id", line.get("id"))
        label = line.get("label") or line.get("rate_code")
        if rate_id is not None and label:
            labels[str(rate_id)] = str(label)
    return labels


def _tax_lines(
    item: Json, item_id: str, *, currency: str, labels: Mapping[str, str], refunded: Refunded
) -> tuple[TaxLine, ...]:
    lines = []
    for tax in _items(item.get("taxes")):
        if tax.get("total") in (None, ""):
            continue
        rate_id = str(tax.get("id"))
        lines.append(
            TaxLine(
                title=labels.get(rate_id, f"Tax {rate_id}"),
                id=rate_id,
                amount=minor(tax.get("total"), currency, field="taxes.total"),
                already_refunded=refunded.tax.get((item_id, rate_id), 0),
            )
        )
    return tuple(lines)


def _coupon_codes(order: Json) -> str | None:
    codes = [str(c["code"]) for c in _items(order.get("coupon_lines")) if c.get("code")]
    return ", ".join(codes) or None


def _order_line(
    item: Json,
    *,
    currency: str,
    inclusive: bool,
    labels: Mapping[str, str],
    codes: str | None,
    refunded: Refunded,
) -> OrderLine:
    """A product line: WooCommerce's `subtotal` (before discounts) minus `total` (after) is
    the line's discount. Unit prices are whole minor units, so a subtotal that does not
    divide by the quantity rounds the unit up and the few extra units count as discount:
    the line's net (what was charged) stays exact."""
    item_id = str(item["id"])
    quantity = _int(item.get("quantity"), field="line_items.quantity")
    gross = minor(item.get("subtotal"), currency, field="line_items.subtotal")
    net = minor(item.get("total"), currency, field="line_items.total")
    if inclusive:
        gross += minor(item.get("subtotal_tax"), currency, field="line_items.subtotal_tax")
        net += minor(item.get("total_tax"), currency, field="line_items.total_tax")
    unit_price = -(-gross // quantity) if quantity > 0 else 0
    discount = unit_price * quantity - net
    allocations = (
        (DiscountAllocation(amount=discount, code=codes, level="line"),) if discount > 0 else ()
    )
    variation = item.get("variation_id") or item.get("product_id")
    return OrderLine(
        id=item_id,
        sku=str(item["sku"]) if item.get("sku") else None,
        title=str(item.get("name") or ""),
        variant_id=str(variation) if variation else None,
        quantity=quantity,
        unit_price=unit_price,
        discount_allocations=allocations,
        tax_lines=_tax_lines(item, item_id, currency=currency, labels=labels, refunded=refunded),
        already_returned_quantity=refunded.quantity.get(item_id, 0),
    )


def _shipping_line(
    item: Json, *, currency: str, inclusive: bool, labels: Mapping[str, str], refunded: Refunded
) -> ShippingLine:
    item_id = str(item["id"])
    price = minor(item.get("total"), currency, field="shipping_lines.total")
    tax = minor(item.get("total_tax"), currency, field="shipping_lines.total_tax")
    done = refunded.total.get(item_id, 0)
    done_tax = refunded.item_tax(item_id)
    return ShippingLine(
        id=item_id,
        title=str(item.get("method_title") or item.get("method_id") or ""),
        price=price + (tax if inclusive else 0),
        tax_lines=_tax_lines(item, item_id, currency=currency, labels=labels, refunded=refunded),
        already_refunded=done + (done_tax if inclusive else 0),
        already_refunded_tax=done_tax,
    )


def order_from_woocommerce(order: Json, refunds: Sequence[Json] = ()) -> Order:
    """`GET /orders/{id}` plus every `GET /orders/{id}/refunds` entry as an `Order`."""
    currency = str(order.get("currency") or "").upper()
    if not currency:
        raise DomainError("INVALID_PLATFORM_DATA", "order has no currency", field="currency")
    inclusive = bool(order.get("prices_include_tax"))
    labels = _tax_labels(order)
    refunded = Refunded(refunds, currency)
    codes = _coupon_codes(order)
    lines = tuple(
        _order_line(
            item,
            currency=currency,
            inclusive=inclusive,
            labels=labels,
            codes=codes,
            refunded=refunded,
        )
        for item in _items(order.get("line_items"))
    )
    shipping = tuple(
        _shipping_line(
            item, currency=currency, inclusive=inclusive, labels=labels, refunded=refunded
        )
        for item in _items(order.get("shipping_lines"))
    )
    status = str(order.get("status") or "")
    paid = 0 if status in UNPAID_STATUSES else minor(order.get("total"), currency, field="total")
    gateway = str(order.get("payment_method") or "") or None
    payments = (
        (
            Payment(
                id=str(order.get("transaction_id") or "") or None,
                method="manual" if gateway in MANUAL_GATEWAYS else "card",
                gateway=gateway,
                amount=paid,
                refunded=min(refunded.amount, paid),
            ),
        )
        if paid
        else ()
    )
    return Order(
        id=str(order["id"]),
        name=str(order.get("number") or order["id"]),
        email=(order.get("billing") or {}).get("email") or None,
        created_at=_timestamp(order, "date_created"),
        platform=PLATFORM,
        currency=currency,
        currency_exponent=exponent(currency),
        taxes_included=inclusive,
        line_items=lines,
        shipping_lines=shipping,
        amount_paid=paid,
        already_refunded_amount=refunded.amount,
        payments=payments,
    )


def refund_ids(order: Json) -> set[str] | None:
    """Ids of the refunds the order itself lists (`refunds[]`); None when it has no list."""
    if not isinstance(order.get("refunds"), list):
        return None
    return {str(r["id"]) for r in _items(order.get("refunds")) if r.get("id") is not None}


# -- search ------------------------------------------------------------------------------------


def order_summary(order: Json) -> OrderSummary:
    currency = str(order.get("currency") or "").upper() or None
    billing = order.get("billing") or {}
    shipping = order.get("shipping") or {}
    return OrderSummary(
        id=str(order["id"]),
        name=str(order.get("number") or order["id"]),
        email=billing.get("email") or None,
        phone=billing.get("phone") or None,
        postal_code=shipping.get("postcode") or billing.get("postcode") or None,
        created_at=_timestamp(order, "date_created"),
        currency=currency,
        total=minor(order.get("total"), currency, field="total") if currency else None,
        skus=tuple(str(item["sku"]) for item in _items(order.get("line_items")) if item.get("sku")),
    )


def search_terms(query: OrderQuery) -> list[str]:
    """What to pass as `search=`: each order number (without `#`), else the email.

    WooCommerce's search is a loose match over many fields; `matches` filters exactly.
    """
    names = query.names or ((query.name,) if query.name else ())
    terms = [normalise_order_name(n) for n in names if normalise_order_name(n)]
    if terms:
        return list(dict.fromkeys(terms))
    if query.email and query.email.strip():
        return [query.email.strip()]
    return []


def after_param(moment: datetime) -> str:
    """`after=` for a UTC moment (with `dates_are_gmt=true`); one second earlier, since
    WooCommerce's `after` is strict and `created_from` is inclusive."""
    value = aware(moment).astimezone(UTC).replace(tzinfo=None, microsecond=0)
    return (value - _ONE_SECOND).isoformat()


_ONE_SECOND = timedelta(seconds=1)


# -- refunds -----------------------------------------------------------------------------------


def refund_from_woocommerce(
    refund: Json,
    *,
    order_id: str,
    currency: str,
    taxes_included: bool | None,
    restock: Mapping[str, str] | None = None,
) -> PlatformRefund:
    """A `shop_order_refund` as a `PlatformRefund` (positive amounts and quantities).

    Line and shipping amounts follow the order's convention (`taxes_included`); when it is not
    known (None) they are left out rather than guessed. `restock` gives each line's restock
    kind (the command's, for a refund just made); otherwise our restock meta tells.
    """
    restocked = meta_value(refund, RESTOCK_META) == "yes"
    lines = []
    for item in _items(refund.get("line_items")):
        line_id = meta_value(item, REFUNDED_ITEM_META) or str(item.get("id"))
        subtotal = abs(minor(item.get("total"), currency, field="refund.line_items.total"))
        tax = abs(minor(item.get("total_tax"), currency, field="refund.line_items.total_tax"))
        quantity = abs(_int(item.get("quantity") or 0, field="refund.line_items.quantity"))
        if restock is not None:
            kind = restock.get(line_id, "none")
        else:
            kind = "return" if restocked and quantity else "none"
        lines.append(
            RefundedLine(
                line_id=line_id,
                quantity=quantity,
                restock="return" if kind == "return" else "cancel" if kind == "cancel" else "none",
                location_id="default" if kind != "none" else None,
                subtotal=None
                if taxes_included is None
                else subtotal + (tax if taxes_included else 0),
                tax=tax,
            )
        )
    shipping: int | None = None
    if "shipping_lines" in refund and taxes_included is not None:
        shipping = 0
        for item in _items(refund.get("shipping_lines")):
            shipping += abs(minor(item.get("total"), currency, field="refund.shipping.total"))
            if taxes_included:
                shipping += abs(minor(item.get("total_tax"), currency, field="refund.shipping"))
    reason = refund.get("reason")
    return PlatformRefund(
        id=str(refund["id"]),
        order_id=order_id,
        currency=currency,
        total=abs(minor(refund.get("amount"), currency, field="refund.amount")),
        created_at=_timestamp(refund, "date_created"),
        note=str(reason) if reason else None,
        idempotency_key=meta_value(refund, KEY_META),
        lines=tuple(lines),
        shipping=shipping,
    )
