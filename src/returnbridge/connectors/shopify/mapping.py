"""Pure translation between Shopify GraphQL JSON and the domain models.

Main money figures are the presentment (customer) currency; for multi-currency orders the shop
currency goes into the `*_shop` twins. Decimal strings are parsed exactly into minor units and
outbound amounts are formatted from minor units: no floats anywhere. GIDs are kept as ids.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from returnbridge.connectors.base.connector import (
    OrderQuery,
    PlatformRefund,
    RefundCommand,
    RefundedLine,
    RefundLineCommand,
    RestockKind,
    SuggestedLine,
    SuggestedRefund,
    SuggestedTender,
    TenderCommand,
)
from returnbridge.domain.errors import DomainError
from returnbridge.domain.money import exponent, format_minor, parse_minor
from returnbridge.domain.orders import (
    DiscountAllocation,
    Duty,
    Location,
    Order,
    OrderLine,
    OrderSummary,
    Payment,
    ShippingLine,
    TaxLine,
)

Json = Mapping[str, Any]

PLATFORM = "shopify"
RESTOCK_TYPES: Mapping[RestockKind, str] = {
    "return": "RETURN",
    "cancel": "CANCEL",
    "none": "NO_RESTOCK",
}
_RESTOCK_KINDS: Mapping[str, RestockKind] = {v: k for k, v in RESTOCK_TYPES.items()}
_PAYMENT_KINDS = frozenset({"SALE", "CAPTURE"})
_REFUND_KINDS = frozenset({"REFUND"})
_CLOSED_LOOP_METHODS: Mapping[str, str] = {
    "gift_card": "gift_card",
    "shopify_store_credit": "store_credit",
    "store_credit": "store_credit",
    "manual": "manual",
}
_SEARCH_SPECIAL = re.compile(r"[\s:()\"\\']")


# -- money -------------------------------------------------------------------------------------


def _money(value: Json | None, *, field: str) -> tuple[int, str]:
    if not isinstance(value, Mapping):
        raise DomainError("INVALID_PLATFORM_DATA", f"{field}: missing money", field=field)
    currency = str(value["currencyCode"])
    return parse_minor(str(value["amount"]), currency, field=field), currency


def presentment(bag: Json | None, *, field: str = "amount") -> int:
    """Minor units of a MoneyBag's presentment money."""
    return _money(bag.get("presentmentMoney") if bag else None, field=field)[0]


def shop(bag: Json | None, *, field: str = "amount") -> int:
    """Minor units of a MoneyBag's shop money."""
    return _money(bag.get("shopMoney") if bag else None, field=field)[0]


def _sum(bags: Iterable[Json | None], *, field: str, multi: bool) -> tuple[int, int | None]:
    """Presentment total of `bags`, and their shop total when `multi` (else None)."""
    listed = list(bags)
    total = sum(presentment(bag, field=field) for bag in listed)
    return total, sum(shop(bag, field=field) for bag in listed) if multi else None


def _nodes(connection: Json | None) -> list[Json]:
    if not isinstance(connection, Mapping):
        return []
    nodes = connection.get("nodes")
    if isinstance(nodes, list):
        return [n for n in nodes if isinstance(n, Mapping)]
    edges = connection.get("edges") or []
    return [
        e["node"] for e in edges if isinstance(e, Mapping) and isinstance(e.get("node"), Mapping)
    ]


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _id(value: Any) -> str | None:
    return str(value["id"]) if isinstance(value, Mapping) and value.get("id") else None


# -- orders ------------------------------------------------------------------------------------


def _tax_lines(items: Iterable[Json], *, multi: bool, field: str) -> tuple[TaxLine, ...]:
    lines = []
    for item in items:
        rate = item.get("rate")
        lines.append(
            TaxLine(
                title=str(item.get("title") or ""),
                # A rate is a ratio, not money; Shopify sends a JSON float, read via its repr.
                rate=Decimal(str(rate)) if rate is not None else None,
                amount=presentment(item.get("priceSet"), field=field),
                amount_shop=shop(item.get("priceSet"), field=field) if multi else None,
            )
        )
    return tuple(lines)


def _refunded_duties(refunds: Sequence[Json], *, multi: bool) -> dict[str, tuple[int, int]]:
    """Per duty id: (refunded, refunded_shop) over the order's refunds (`Refund.duties`)."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for refund in refunds:
        for item in refund.get("duties") or ():
            duty_id = _id(item.get("originalDuty"))
            if not duty_id:
                continue
            totals[duty_id][0] += presentment(item.get("amountSet"), field="duties")
            if multi:
                totals[duty_id][1] += shop(item.get("amountSet"), field="duties")
    return {k: (v[0], v[1]) for k, v in totals.items()}


def _duties(
    node: Json, *, multi: bool, refunded: Mapping[str, tuple[int, int]]
) -> tuple[Duty, ...]:
    duties = []
    for duty in node.get("duties") or ():
        duty_id = str(duty.get("id") or "")
        done, done_shop = refunded.get(duty_id, (0, 0))
        duties.append(
            Duty(
                id=duty_id or None,
                amount=presentment(duty.get("price"), field="duties.price"),
                amount_shop=shop(duty.get("price"), field="duties.price") if multi else None,
                already_refunded=done,
                already_refunded_shop=done_shop if multi else None,
            )
        )
    return tuple(duties)


def _order_line(
    node: Json, *, multi: bool, refunded_duties: Mapping[str, tuple[int, int]] | None = None
) -> OrderLine:
    quantity = int(node["quantity"])
    refundable = int(node.get("refundableQuantity", quantity))
    unfulfilled = int(node.get("unfulfilledQuantity", 0))
    price = node.get("originalUnitPriceSet")
    allocations = []
    for allocation in node.get("discountAllocations") or ():
        application = allocation.get("discountApplication") or {}
        bag = allocation.get("allocatedAmountSet")
        allocations.append(
            DiscountAllocation(
                amount=presentment(bag, field="discountAllocations"),
                amount_shop=shop(bag, field="discountAllocations") if multi else None,
                code=application.get("code"),
                level="order" if application.get("allocationMethod") == "ACROSS" else "line",
            )
        )
    return OrderLine(
        id=str(node["id"]),
        sku=node.get("sku") or None,
        title=str(node.get("title") or node.get("name") or ""),
        variant_id=_id(node.get("variant")),
        quantity=quantity,
        unit_price=presentment(price, field="originalUnitPriceSet"),
        unit_price_shop=shop(price, field="originalUnitPriceSet") if multi else None,
        discount_allocations=tuple(allocations),
        tax_lines=_tax_lines(node.get("taxLines") or (), multi=multi, field="taxLines"),
        duties=_duties(node, multi=multi, refunded=refunded_duties or {}),
        already_returned_quantity=max(quantity - refundable, 0),
        # Units refunded before shipping leave unfulfilledQuantity too, so this counts them as
        # "fulfilled": that keeps `fulfilled - already_returned` equal to the shipped units still
        # refundable (refundableQuantity - unfulfilledQuantity), whatever each refund's restock.
        fulfilled_quantity=min(max(quantity - unfulfilled, 0), quantity),
    )


def _shipping_refunds(
    refunds: Sequence[Json], *, multi: bool
) -> dict[str, tuple[int, int, int, int]]:
    """Per shipping line id: (refunded, refunded_shop, tax, tax_shop); shop figures 0 unless
    `multi` (shop money is read for multi-currency orders only)."""
    field = "refundShippingLines"
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for refund in refunds:
        for item in _nodes(refund.get("refundShippingLines")):
            line_id = _id(item.get("shippingLine"))
            if not line_id:
                continue
            entry = totals[line_id]
            entry[0] += presentment(item.get("subtotalAmountSet"), field=field)
            entry[2] += presentment(item.get("taxAmountSet"), field=field)
            if multi:
                entry[1] += shop(item.get("subtotalAmountSet"), field=field)
                entry[3] += shop(item.get("taxAmountSet"), field=field)
    return {k: (v[0], v[1], v[2], v[3]) for k, v in totals.items()}


def _shipping_line(
    node: Json, index: int, *, multi: bool, refunded: Mapping[str, tuple[int, int, int, int]]
) -> ShippingLine:
    line_id = str(node.get("id") or f"shipping-{index}")
    discount, discount_shop = _sum(
        (a.get("allocatedAmountSet") for a in node.get("discountAllocations") or ()),
        field="shippingLines.discountAllocations",
        multi=multi,
    )
    done, done_shop, done_tax, done_tax_shop = refunded.get(line_id, (0, 0, 0, 0))
    price = node.get("originalPriceSet")
    return ShippingLine(
        id=line_id,
        title=str(node.get("title") or ""),
        price=presentment(price, field="shippingLines.originalPriceSet"),
        price_shop=shop(price, field="shippingLines.originalPriceSet") if multi else None,
        discount=discount,
        discount_shop=discount_shop,
        tax_lines=_tax_lines(node.get("taxLines") or (), multi=multi, field="shippingLines"),
        already_refunded=done,
        already_refunded_shop=done_shop if multi else None,
        already_refunded_tax=done_tax,
        already_refunded_tax_shop=done_tax_shop if multi else None,
    )


def _payment_method(gateway: str | None) -> str:
    return _CLOSED_LOOP_METHODS.get((gateway or "").lower(), "card")


def _payments(transactions: Sequence[Json]) -> tuple[Payment, ...]:
    """Successful SALE/CAPTURE transactions, each with what REFUND children gave back."""
    refunded: dict[str, int] = defaultdict(int)
    for tx in transactions:
        parent = _id(tx.get("parentTransaction"))
        if tx.get("kind") == "REFUND" and tx.get("status") == "SUCCESS" and parent:
            refunded[parent] += presentment(tx.get("amountSet"), field="transactions")
    payments = []
    for tx in transactions:
        if tx.get("kind") in _PAYMENT_KINDS and tx.get("status") == "SUCCESS":
            tx_id = str(tx["id"])
            gateway = tx.get("gateway")
            payments.append(
                Payment(
                    id=tx_id,
                    method=_payment_method(gateway),
                    gateway=gateway,
                    amount=presentment(tx.get("amountSet"), field="transactions"),
                    refunded=refunded.get(tx_id, 0),
                )
            )
    return tuple(payments)


def _order_total(
    order: Json, total: str, transactions: Sequence[Json], kinds: frozenset[str], *, multi: bool
) -> tuple[int, int | None]:
    """An order total, as read (`total`) or else summed over its successful `kinds` transactions.

    Shopify's totalReceivedSet is what SALE and CAPTURE transactions took, its totalRefundedSet
    what REFUND transactions gave back; every transaction of the order is read with it.
    """
    bag = order.get(total)
    if isinstance(bag, Mapping):
        return presentment(bag, field=total), shop(bag, field=total) if multi else None
    settled = [
        tx.get("amountSet")
        for tx in transactions
        if tx.get("kind") in kinds and tx.get("status") == "SUCCESS"
    ]
    amount = sum(presentment(b, field="transactions") for b in settled)
    return amount, sum(shop(b, field="transactions") for b in settled) if multi else None


def is_multi_currency(order: Json) -> bool:
    """Whether the order was paid in another currency than the shop's (`*_shop` twins needed)."""
    return str(order["presentmentCurrencyCode"]) != str(order["currencyCode"])


def order_from_shopify(order: Json, refunds: Sequence[Json] = ()) -> Order:
    """A Shopify `Order` (Order.graphql) plus its refunds (OrderRefunds.graphql) as an `Order`."""
    currency = str(order["presentmentCurrencyCode"])
    shop_currency = str(order["currencyCode"])
    multi = currency != shop_currency
    refunded_shipping = _shipping_refunds(refunds, multi=multi)
    duties = _refunded_duties(refunds, multi=multi)
    lines = tuple(
        _order_line(node, multi=multi, refunded_duties=duties)
        for node in _nodes(order.get("lineItems"))
    )
    shipping = tuple(
        _shipping_line(node, i, multi=multi, refunded=refunded_shipping)
        for i, node in enumerate(_nodes(order.get("shippingLines")))
    )
    transactions = [t for t in order.get("transactions") or () if isinstance(t, Mapping)]
    paid, paid_shop = _order_total(
        order, "totalReceivedSet", transactions, _PAYMENT_KINDS, multi=multi
    )
    refunded, refunded_shop = _order_total(
        order, "totalRefundedSet", transactions, _REFUND_KINDS, multi=multi
    )
    return Order(
        id=str(order["id"]),
        name=order.get("name"),
        email=order.get("email"),
        created_at=_timestamp(order.get("createdAt")),
        platform=PLATFORM,
        currency=currency,
        currency_exponent=exponent(currency),
        shop_currency=shop_currency,
        taxes_included=bool(order.get("taxesIncluded")),
        line_items=lines,
        shipping_lines=shipping,
        amount_paid=paid,
        amount_paid_shop=paid_shop,
        already_refunded_amount=refunded,
        already_refunded_amount_shop=refunded_shop,
        payments=_payments(transactions),
    )


def refunds_match_order(order: Json, refunds: Sequence[Json]) -> bool:
    """Whether the refunds add up to the order's refunded total (both read at one moment)."""
    refunded = presentment(order.get("totalRefundedSet"), field="totalRefundedSet")
    listed = sum(presentment(r.get("totalRefundedSet"), field="totalRefundedSet") for r in refunds)
    return refunded == listed


def has_next_page(connection: Any) -> bool:
    """Whether a GraphQL connection says more nodes follow this page."""
    if not isinstance(connection, Mapping):
        return False
    page = connection.get("pageInfo")
    return isinstance(page, Mapping) and bool(page.get("hasNextPage"))


def order_summary_from_shopify(node: Json) -> OrderSummary:
    total = node.get("totalPriceSet")
    skus = tuple(str(line["sku"]) for line in _nodes(node.get("lineItems")) if line.get("sku"))
    return OrderSummary(
        id=str(node["id"]),
        name=node.get("name"),
        email=node.get("email"),
        phone=node.get("phone"),
        postal_code=(node.get("shippingAddress") or {}).get("zip"),
        created_at=_timestamp(node.get("createdAt")),
        currency=node.get("presentmentCurrencyCode"),
        total=presentment(total, field="totalPriceSet") if total else None,
        skus=skus,
        skus_complete=not has_next_page(node.get("lineItems")),
    )


def location_from_shopify(node: Json) -> Location:
    return Location(id=str(node["id"]), name=str(node["name"]), active=bool(node["isActive"]))


# -- search ------------------------------------------------------------------------------------


def _term(key: str, value: str) -> str:
    if _SEARCH_SPECIAL.search(value):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{key}:"{escaped}"'
    return f"{key}:{value}"


def _name_terms(name: str) -> list[str]:
    name = name.strip()
    bare = name.lstrip("#")
    return (
        [_term("name", name)]
        if name.startswith("#")
        else [
            _term("name", bare),
            _term("name", "#" + bare),
        ]
    )


def search_query(query: OrderQuery) -> str:
    """Shopify search syntax for an `OrderQuery`: all given filters must hold.

    A name and its variants are alternatives (`OR`); `created_from` becomes
    `created_at:>=YYYY-MM-DD` (Shopify compares dates in the shop's time zone, so the day
    before is included: the client-side check is exact).
    """
    terms: list[str] = []
    names = list(dict.fromkeys(query.names or ((query.name,) if query.name else ())))
    alternatives = list(dict.fromkeys(t for name in names for t in _name_terms(name)))
    if alternatives:
        terms.append(
            alternatives[0] if len(alternatives) == 1 else f"({' OR '.join(alternatives)})"
        )
    if query.email:
        terms.append(_term("email", query.email.strip()))
    if query.created_from is not None:
        day = (query.created_from - timedelta(days=1)).date().isoformat()
        terms.append(f"created_at:>={day}")
    terms.extend(_term("sku", sku) for sku in query.skus)
    return " AND ".join(terms)


# -- refunds -----------------------------------------------------------------------------------


def _line_input(line: RefundLineCommand) -> dict[str, Any]:
    item: dict[str, Any] = {
        "lineItemId": line.line_id,
        "quantity": line.quantity,
        "restockType": RESTOCK_TYPES[line.restock],
    }
    if line.restock in ("return", "cancel"):
        # Shopify restocks RETURN and CANCEL units at the location named, and refuses either
        # without one (NO_RESTOCK takes none).
        if not line.location_id:
            raise DomainError(
                "LOCATION_REQUIRED",
                f"line {line.line_id}: restock {line.restock!r} needs a location_id",
                field="location_id",
            )
        item["locationId"] = line.location_id
    return item


def _tender_input(tender: TenderCommand, *, order_id: str, currency: str) -> dict[str, Any]:
    if not tender.gateway:
        raise DomainError(
            "GATEWAY_REQUIRED",
            "a refund transaction needs the gateway of its parent payment",
            field="gateway",
        )
    transaction: dict[str, Any] = {
        "orderId": order_id,
        "amount": format_minor(tender.amount, currency),
        "gateway": tender.gateway,
        "kind": "REFUND",
    }
    if tender.parent_id:
        transaction["parentId"] = tender.parent_id
    return transaction


def refund_input(command: RefundCommand) -> dict[str, Any]:
    """`RefundInput` for `refundCreate` (amounts in the presentment currency)."""
    currency = command.currency.upper()
    value: dict[str, Any] = {
        "orderId": command.order_id,
        # The presentment currency: required by Shopify for multi-currency orders and equal
        # to the only currency otherwise, so always sent.
        "currency": currency,
        "notify": command.notify_customer,
    }
    if command.note:
        value["note"] = command.note
    if command.lines:
        value["refundLineItems"] = [_line_input(line) for line in command.lines]
    if command.shipping_full:
        value["shipping"] = {"fullRefund": True}
    elif command.shipping_amount is not None:
        value["shipping"] = {"amount": format_minor(command.shipping_amount, currency)}
    if command.duties:
        value["refundDuties"] = duty_inputs(command)
    transactions = []
    methods = []
    for tender in command.tenders:
        if tender.amount == 0:
            continue
        if tender.amount < 0:
            raise DomainError("INVALID_AMOUNT", "tender amounts must be positive", field="amount")
        if tender.method == "store_credit":
            amount = {"amount": format_minor(tender.amount, currency), "currencyCode": currency}
            methods.append({"storeCreditRefund": {"amount": amount}})
        else:
            transactions.append(_tender_input(tender, order_id=command.order_id, currency=currency))
    if transactions:
        value["transactions"] = transactions
    if methods:
        value["refundMethods"] = methods
    return value


def duty_inputs(command: RefundCommand) -> list[dict[str, str]]:
    """`RefundDutyInput`s of the command's duties."""
    return [
        {"dutyId": duty.duty_id, "refundType": duty.refund_type.upper()} for duty in command.duties
    ]


def suggested_refund_variables(command: RefundCommand) -> dict[str, Any]:
    """Variables of SuggestedRefund.graphql for the lines and shipping of `command`."""
    variables: dict[str, Any] = {
        "id": command.order_id,
        "refundLineItems": [_line_input(line) for line in command.lines],
        "withShipping": command.shipping_full or command.shipping_amount is not None,
    }
    if command.duties:
        variables["refundDuties"] = duty_inputs(command)
    if command.shipping_full:
        variables["refundShipping"] = True
    elif command.shipping_amount is not None:
        variables["shippingAmount"] = format_minor(command.shipping_amount, command.currency)
    return variables


def suggested_refund_from_shopify(suggested: Json, *, currency: str) -> SuggestedRefund:
    """A `SuggestedRefund` (SuggestedRefund.graphql) in the presentment `currency`."""
    shipping = suggested.get("shipping") or {}
    lines = tuple(
        SuggestedLine(
            line_id=str(_id(item.get("lineItem"))),
            quantity=int(item["quantity"]),
            subtotal=presentment(item.get("subtotalSet"), field="refundLineItems.subtotalSet"),
            tax=presentment(item.get("totalTaxSet"), field="refundLineItems.totalTaxSet"),
        )
        for item in suggested.get("refundLineItems") or ()
    )
    tenders = tuple(
        SuggestedTender(
            amount=presentment(tx.get("amountSet"), field="suggestedTransactions"),
            gateway=tx.get("gateway"),
            parent_id=_id(tx.get("parentTransaction")),
        )
        for tx in suggested.get("suggestedTransactions") or ()
    )
    return SuggestedRefund(
        currency=currency.upper(),
        lines=lines,
        shipping_amount=presentment(shipping.get("amountSet"), field="shipping.amountSet")
        if shipping
        else 0,
        shipping_tax=presentment(shipping.get("taxSet"), field="shipping.taxSet")
        if shipping
        else 0,
        tenders=tenders,
        duties=presentment(suggested.get("totalDutiesSet"), field="totalDutiesSet")
        if suggested.get("totalDutiesSet")
        else None,
    )


def created_refund(refund: Json, command: RefundCommand) -> PlatformRefund:
    """The `Refund` refundCreate answered (RefundCreate.graphql) for `command`.

    Shopify applies a refund's lines all or none, so its lines are those `command` sent; their
    amounts are not asked for (nothing downstream needs them), only the refund's total.
    """
    total = refund.get("totalRefundedSet") or {}
    return PlatformRefund(
        id=str(refund["id"]),
        order_id=command.order_id,
        currency=str((total.get("presentmentMoney") or {})["currencyCode"]),
        total=presentment(total, field="totalRefundedSet"),
        created_at=_timestamp(refund.get("createdAt")),
        note=command.note,
        idempotency_key=command.idempotency_key,
        lines=tuple(
            RefundedLine(
                line_id=line.line_id,
                quantity=line.quantity,
                restock=line.restock,
                location_id=line.location_id if line.restock != "none" else None,
            )
            for line in command.lines
        ),
    )


def refund_from_shopify(
    refund: Json, *, order_id: str, idempotency_key: str | None = None
) -> PlatformRefund:
    """A Shopify `Refund` (RefundFields) as a `PlatformRefund` in the presentment currency."""
    total = refund.get("totalRefundedSet") or {}
    currency = str((total.get("presentmentMoney") or {})["currencyCode"])
    lines = tuple(
        RefundedLine(
            line_id=str(_id(item.get("lineItem"))),
            quantity=int(item["quantity"]),
            restock=_RESTOCK_KINDS.get(str(item.get("restockType")), "none"),
            location_id=_id(item.get("location")),
            subtotal=presentment(item.get("subtotalSet"), field="refundLineItems.subtotalSet"),
            tax=presentment(item.get("totalTaxSet"), field="refundLineItems.totalTaxSet"),
        )
        for item in _nodes(refund.get("refundLineItems"))
    )
    shipping, _ = _sum(
        (item.get("subtotalAmountSet") for item in _nodes(refund.get("refundShippingLines"))),
        field="refundShippingLines",
        multi=False,
    )
    return PlatformRefund(
        id=str(refund["id"]),
        order_id=order_id,
        currency=currency,
        total=presentment(total, field="totalRefundedSet"),
        created_at=_timestamp(refund.get("createdAt")),
        note=refund.get("note"),
        idempotency_key=idempotency_key,
        lines=lines,
        shipping=shipping,
    )
