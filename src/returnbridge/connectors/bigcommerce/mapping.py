"""Pure translation between BigCommerce's JSON and the domain models.

Money: v2 sends strings with 4 decimals (`"55.0000"`), v3 JSON numbers with 2-decimal
meaning; both are read through `Decimal(str(x))` and rounded half-up to the currency's minor
unit. Amounts we send are JSON numbers made from exact decimals (see `wire_amount`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

from returnbridge.connectors.base.connector import (
    OrderQuery,
    PlatformRefund,
    RefundCommand,
    RefundedLine,
    RefundMoney,
    SuggestedLine,
    SuggestedRefund,
    SuggestedTender,
)
from returnbridge.connectors.base.dedupe import key_in_note, note_marker
from returnbridge.connectors.bigcommerce.hints import ItemIdentity
from returnbridge.domain.allocation import largest_remainder
from returnbridge.domain.errors import PermanentError
from returnbridge.domain.money import exponent
from returnbridge.domain.orders import (
    DiscountAllocation,
    Location,
    Order,
    OrderDiscount,
    OrderLine,
    OrderSummary,
    Payment,
    ShippingLine,
    TaxLine,
)

Json = Mapping[str, Any]
MAX_REASON = 1000  # characters BigCommerce keeps in a refund item's reason
TAX_TITLE = "Tax"
OFFLINE_METHODS = frozenset({"offline", "manual", "custom", "cash", "external"})


def minor(value: Any, currency: str, *, field: str = "amount") -> int:
    """Minor units of a v2 string or v3 number; missing or empty is 0."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise PermanentError("BAD_AMOUNT", f"{field}: {value!r} is not an amount")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise PermanentError("BAD_AMOUNT", f"{field}: {value!r} is not an amount") from None
    if not amount.is_finite():
        raise PermanentError("BAD_AMOUNT", f"{field}: {value!r} is not an amount")
    scaled = amount.scaleb(exponent(currency))
    return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def wire_amount(amount: int, currency: str) -> int | float:
    """A JSON number for minor units: an int when whole, else the float whose shortest repr
    is exactly the decimal (checked), so the text on the wire is the exact amount."""
    value = Decimal(amount).scaleb(-exponent(currency))
    if value == value.to_integral_value():
        return int(value)
    number = float(value)
    if Decimal(repr(number)) != value:
        raise PermanentError("BAD_AMOUNT", f"{value} cannot be sent exactly as a JSON number")
    return number


def _int_id(raw: str, what: str) -> int:
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or int(text) <= 0:
        raise PermanentError("BAD_ID", f"{what} {raw!r} is not a BigCommerce id")
    return int(text)


def order_number(order_id: str) -> int | None:
    """The integer id of an order id or name (`"1001"`, `"#1001"`), else None."""
    text = order_id.strip().lstrip("#").strip()
    return int(text) if text.isascii() and text.isdigit() and int(text) > 0 else None


def order_currency(order: Json) -> str:
    """The transactional currency (what the shopper paid in; refunds are in it)."""
    code = order.get("default_currency_code") or order.get("currency_code") or "USD"
    return str(code).upper()


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parsedate_to_datetime(value)  # v2: RFC 2822
    except (TypeError, ValueError):
        pass
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))  # v3: RFC 3339
    except ValueError:
        return None


def _email(order: Json) -> str | None:
    billing = order.get("billing_address")
    email = billing.get("email") if isinstance(billing, Mapping) else None
    return str(email) if email else None


def _discounts(product: Json, currency: str) -> tuple[DiscountAllocation, ...]:
    found = []
    for discount in product.get("applied_discounts") or ():
        if not isinstance(discount, Mapping):
            continue
        amount = minor(discount.get("amount"), currency, field="applied_discounts.amount")
        if amount <= 0:
            continue
        code = discount.get("code") or discount.get("name") or None
        level = "order" if discount.get("target") == "order" else "line"
        found.append(
            DiscountAllocation(amount=amount, code=str(code) if code else None, level=level)
        )
    return tuple(found)


def order_line(product: Json, currency: str, *, inclusive: bool) -> OrderLine:
    """One order product; the unit price is tax-inclusive when the order's pricing is."""
    price_field = "price_inc_tax" if inclusive else "price_ex_tax"
    tax = minor(product.get("total_tax"), currency, field="total_tax")
    shipped = int(product.get("quantity_shipped") or 0)
    return OrderLine(
        id=str(product["id"]),
        sku=str(product.get("sku") or "") or None,
        title=str(product.get("name") or ""),
        variant_id=str(product["variant_id"]) if product.get("variant_id") else None,
        quantity=int(product.get("quantity") or 0),
        unit_price=minor(product.get(price_field), currency, field=price_field),
        discount_allocations=_discounts(product, currency),
        tax_lines=(TaxLine(title=TAX_TITLE, amount=tax),) if tax else (),
        already_returned_quantity=int(product.get("quantity_refunded") or 0),
        # BigCommerce reports 0 shipped for orders completed without shipments: unknown.
        fulfilled_quantity=shipped or None,
    )


def _shipping_refunded(refunds: Sequence[Json], address_id: int, currency: str) -> int:
    return sum(
        minor(item.get("requested_amount"), currency, field="requested_amount")
        for refund in refunds
        for item in refund.get("items") or ()
        if isinstance(item, Mapping)
        and item.get("item_type") == "SHIPPING"
        and item.get("item_id") == address_id
    )


def shipping_line(
    address: Json, refunds: Sequence[Json], currency: str, *, inclusive: bool
) -> ShippingLine:
    """One shipping address as a shipping line (id = the order address id).

    A SHIPPING refund's amount includes its share of the address's shipping tax.
    """
    cost_inc = minor(address.get("cost_inc_tax"), currency, field="cost_inc_tax")
    cost_ex = minor(address.get("cost_ex_tax"), currency, field="cost_ex_tax")
    tax = cost_inc - cost_ex
    refunded = _shipping_refunded(refunds, int(address["id"]), currency)
    refunded_tax = _share(refunded, tax, cost_inc)
    return ShippingLine(
        id=str(address["id"]),
        title=str(address.get("shipping_method") or ""),
        price=cost_inc if inclusive else cost_ex,
        tax_lines=(TaxLine(title=TAX_TITLE, amount=tax),) if tax else (),
        already_refunded=refunded if inclusive else refunded - refunded_tax,
        already_refunded_tax=refunded_tax,
    )


def _share(amount: int, part: int, whole: int) -> int:
    """`amount * part / whole`, half-up, in integers."""
    if whole <= 0:
        return 0
    return (amount * part * 2 + whole) // (2 * whole)


def _payment_method(name: str) -> str:
    lowered = name.lower()
    if "store credit" in lowered:
        return "store_credit"
    if "gift" in lowered:
        return "gift_card"
    return "card"


def order_from_bigcommerce(
    order: Json, products: Sequence[Json], addresses: Sequence[Json], refunds: Sequence[Json]
) -> Order:
    """The normalised order from a v2 order, its products and addresses, and its v3 refunds."""
    currency = order_currency(order)
    inclusive = bool(order.get("is_tax_inclusive_pricing"))
    lines = tuple(order_line(p, currency, inclusive=inclusive) for p in products)
    allocated = sum(d.amount for line in lines for d in line.discount_allocations)
    order_level = minor(order.get("discount_amount"), currency) + minor(
        order.get("coupon_discount"), currency
    )
    discounts = (OrderDiscount(amount=order_level - allocated),) if order_level > allocated else ()
    paid = minor(order.get("total_inc_tax"), currency, field="total_inc_tax")
    refunded = sum(minor(r.get("total_amount"), currency) for r in refunds)
    method = str(order.get("payment_method") or "")
    return Order(
        id=str(order["id"]),
        name=str(order["id"]),
        email=_email(order),
        created_at=_date(order.get("date_created")),
        platform="bigcommerce",
        currency=currency,
        shop_currency=currency,
        taxes_included=inclusive,
        line_items=lines,
        order_discounts=discounts,
        shipping_lines=tuple(
            shipping_line(a, refunds, currency, inclusive=inclusive) for a in addresses
        ),
        amount_paid=paid,
        already_refunded_amount=refunded,
        payments=(
            Payment(
                method=_payment_method(method),
                gateway=method or None,
                amount=paid,
                refunded=refunded,
            ),
        ),
    )


def order_summary(order: Json, products: Sequence[Json] | None) -> OrderSummary:
    """A search hit; `products` None when they were not read (then its SKUs are unknown)."""
    currency = order_currency(order)
    billing = order.get("billing_address")
    postal = billing.get("zip") if isinstance(billing, Mapping) else None
    skus = tuple(str(p["sku"]) for p in products or () if p.get("sku"))
    return OrderSummary(
        id=str(order["id"]),
        name=str(order["id"]),
        email=_email(order),
        created_at=_date(order.get("date_created")),
        currency=currency,
        total=minor(order.get("total_inc_tax"), currency),
        postal_code=str(postal) if postal else None,
        skus=skus,
        skus_complete=products is not None,
    )


def matches(summary: OrderSummary, query: OrderQuery) -> bool:
    """Whether a hit meets what the API could not filter exactly (email case, date, SKUs)."""
    if query.email and (summary.email or "").lower() != query.email.lower():
        return False
    if query.created_from and summary.created_at and summary.created_at < query.created_from:
        return False
    return not query.skus or any(sku in summary.skus for sku in query.skus)


def location(node: Json) -> Location:
    """An inventory location."""
    name = node.get("label") or node.get("code") or str(node["id"])
    return Location(id=str(node["id"]), name=str(name), active=bool(node.get("enabled", True)))


def refund_reason(command: RefundCommand) -> str:
    """The reason BigCommerce stores with the refund: our note, starting with our key."""
    note = (command.note or "").strip()
    if key_in_note(note) != command.idempotency_key:
        note = f"{note_marker(command.idempotency_key)}{note}".strip()
    return note[:MAX_REASON]


def refund_items(command: RefundCommand) -> list[dict[str, Any]]:
    """PRODUCT items (order product id, quantity) and SHIPPING items (address id, amount).

    A SHIPPING amount is what leaves the store for that address, its tax included: the
    plan's amount plus its tax, unless the plan's amount already holds it (tax-inclusive).
    """
    reason = refund_reason(command)
    quantities: dict[str, int] = {}
    for line in command.lines:
        quantities[line.line_id] = quantities.get(line.line_id, 0) + line.quantity
    items: list[dict[str, Any]] = [
        {
            "item_type": "PRODUCT",
            "item_id": _int_id(line_id, "order product id"),
            "quantity": quantity,
            "reason": reason,
        }
        for line_id, quantity in quantities.items()
        if quantity > 0
    ]
    for shipping in command.money.shipping if command.money is not None else ():
        amount = shipping.amount + (0 if _tax_inclusive(command) else shipping.tax)
        if amount > 0:
            items.append(
                {
                    "item_type": "SHIPPING",
                    "item_id": _int_id(shipping.shipping_line_id, "order address id"),
                    "amount": wire_amount(amount, command.currency),
                    "reason": reason,
                }
            )
    return items


def _tax_inclusive(command: RefundCommand) -> bool:
    """Whether the plan's amounts hold their tax (its total then counts the tax once)."""
    money = command.money
    if money is None:
        return False
    rest = money.fees + money.adjustment
    inclusive = sum(x.subtotal + x.duties for x in money.lines) + money.shipping_amount + rest
    exclusive = inclusive + sum(x.tax for x in money.lines) + money.shipping_tax
    return money.total == inclusive and money.total != exclusive


def quoted_total(quote: Json, currency: str) -> int:
    return minor(quote.get("total_refund_amount"), currency, field="total_refund_amount")


def suggested_refund(quote: Json, command: RefundCommand) -> SuggestedRefund:
    """The quote as a `SuggestedRefund`.

    BigCommerce quotes totals only (amount and tax), not lines. When they equal the plan's,
    the lines carry the plan's split; otherwise the quote's figures are spread over the lines
    by quantity, so a disagreement shows line by line.
    """
    currency = command.currency
    total = quoted_total(quote, currency)
    tax = minor(quote.get("total_refund_tax_amount"), currency, field="total_refund_tax_amount")
    tenders = tuple(
        SuggestedTender(
            amount=minor(option.get("amount"), currency),
            gateway=str(option.get("provider_id") or "") or None,
        )
        for option in _first_method(quote)
    )
    money = command.money
    if money is not None and _agrees(money, total, tax):
        return SuggestedRefund(
            currency=currency,
            lines=tuple(
                SuggestedLine(
                    line_id=m.line_id, quantity=m.quantity, subtotal=m.subtotal, tax=m.tax
                )
                for m in money.lines
            ),
            shipping_amount=money.shipping_amount,
            shipping_tax=money.shipping_tax,
            tenders=tenders,
        )
    shipping = sum(
        minor(item["amount"], currency) for item in refund_items(command) if "amount" in item
    )
    lines = [line for line in command.lines if line.quantity > 0]
    products_total = max(total - shipping, 0)
    subtotal_parts = largest_remainder(max(products_total - tax, 0), [x.quantity for x in lines])
    tax_parts = largest_remainder(max(tax, 0), [x.quantity for x in lines])
    return SuggestedRefund(
        currency=currency,
        lines=tuple(
            SuggestedLine(line_id=line.line_id, quantity=line.quantity, subtotal=sub, tax=t)
            for line, sub, t in zip(lines, subtotal_parts, tax_parts, strict=True)
        ),
        shipping_amount=min(shipping, total),
        tenders=tenders,
    )


def _agrees(money: RefundMoney, total: int, tax: int) -> bool:
    planned_tax = sum(line.tax for line in money.lines) + money.shipping_tax
    return bool(money.total == total and planned_tax == tax)


def _methods(quote: Json) -> list[list[Json]]:
    methods = []
    for method in quote.get("refund_methods") or ():
        if isinstance(method, Sequence) and not isinstance(method, str):
            options = [o for o in method if isinstance(o, Mapping)]
            if options:
                methods.append(options)
    return methods


def _first_method(quote: Json) -> list[Json]:
    methods = _methods(quote)
    return methods[0] if methods else []


def _wants(command: RefundCommand) -> str:
    methods = {t.method for t in command.tenders}
    if "store_credit" in methods:
        return "store_credit"
    if methods & OFFLINE_METHODS:
        return "offline"
    return "original"


def refund_payments(quote: Json, command: RefundCommand) -> list[dict[str, Any]]:
    """The payments of the one refund method of the quote that matches the command's tender:
    store credit, an offline (custom) refund, or else the order's own payment provider."""
    wanted = _wants(command)

    def fits(method: list[Json]) -> bool:
        providers = {str(o.get("provider_id")) for o in method}
        offline = all(bool(o.get("offline")) for o in method)
        if wanted == "store_credit":
            return providers == {"storecredit"}
        if wanted == "offline":
            return len(method) == 1 and offline
        return "storecredit" not in providers and not any(o.get("offline") for o in method)

    method = next((m for m in _methods(quote) if fits(m)), None)
    if method is None:
        raise PermanentError(
            "NO_REFUND_METHOD",
            f"the refund quote offers no {wanted.replace('_', ' ')} refund method",
            wanted=wanted,
        )
    return [
        {
            "provider_id": option.get("provider_id"),
            "amount": option.get("amount"),  # as quoted: BigCommerce wants it unchanged
            "offline": bool(option.get("offline")),
        }
        for option in method
    ]


def platform_refund(refund: Json, currency: str) -> PlatformRefund:
    """A v3 refund; its reason carries our key when we made it."""
    reason = refund.get("reason")
    note = str(reason) if isinstance(reason, str) and reason else None
    lines = tuple(
        RefundedLine(line_id=str(item.get("item_id")), quantity=int(item.get("quantity") or 0))
        for item in refund.get("items") or ()
        if isinstance(item, Mapping) and item.get("item_type") == "PRODUCT"
    )
    return PlatformRefund(
        id=str(refund["id"]),
        order_id=str(refund.get("order_id")),
        currency=currency,
        total=minor(refund.get("total_amount"), currency, field="total_amount"),
        created_at=_date(refund.get("created")),
        note=note,
        idempotency_key=key_in_note(note),
        lines=lines,
        shipping=None,  # a SHIPPING item's amount holds tax in a share the refund does not state
    )


def adjustment_item(item: ItemIdentity, location_id: int, quantity: int) -> dict[str, Any]:
    """One relative-adjustment item: by SKU when the product has one, else variant or product."""
    body: dict[str, Any] = {"location_id": location_id, "quantity": quantity}
    if item.sku:
        body["sku"] = item.sku
    elif item.variant_id:
        body["variant_id"] = item.variant_id
    elif item.product_id:
        body["product_id"] = item.product_id
    else:
        raise PermanentError("NO_ITEM", "the order product names no SKU, variant or product")
    return body
