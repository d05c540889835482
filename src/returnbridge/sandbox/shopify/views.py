"""State records shaped as the GraphQL types of ``schema.graphql``.

Views are dicts keyed by field name; fields that take arguments are callables, which
graphql-core's default resolver calls with ``(info, **arguments)``.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo

from returnbridge.sandbox.shopify.calculation import LineRequest, Suggestion, suggest
from returnbridge.sandbox.shopify.gids import gid, parse_gid
from returnbridge.sandbox.shopify.money import (
    AmountError,
    Bag,
    format_amount,
    parse_amount,
    total,
)
from returnbridge.sandbox.shopify.pagination import connection
from returnbridge.sandbox.shopify.refunds import refund_total
from returnbridge.sandbox.shopify.state import (
    DiscountAllocation,
    Duty,
    LineItem,
    Location,
    Order,
    Refund,
    RefundLine,
    RefundShipping,
    ShippingLine,
    Shop,
    TaxLine,
    Transaction,
)

View = dict[str, Any]


def money_bag(bag: Bag, order: Order) -> View:
    """A ``MoneyBag``."""
    return {
        "shopMoney": {
            "amount": format_amount(bag.shop, order.currency),
            "currencyCode": order.currency,
        },
        "presentmentMoney": {
            "amount": format_amount(bag.presentment, order.presentment_currency),
            "currencyCode": order.presentment_currency,
        },
    }


def _truncate(items: list[Any], first: int | None) -> list[Any]:
    return items if first is None else items[: max(first, 0)]


def location_view(location: Location) -> View:
    """A ``Location``."""
    return {
        "id": gid("Location", location.id),
        "legacyResourceId": str(location.id),
        "name": location.name,
        "isActive": location.active,
    }


def _decimal_text(value: Fraction) -> str:
    """A seeded rate (exact, from decimal text) back as decimal text."""
    return str(Decimal(value.numerator) / Decimal(value.denominator))


def _tax_line_view(tax: TaxLine, order: Order) -> View:
    return {
        "title": tax.title,
        # Shopify types these as GraphQL Float (a rate, never money): graphql-core coerces the
        # exact decimal text, so no binary float is made here.
        "rate": _decimal_text(tax.rate),
        "ratePercentage": _decimal_text(tax.rate * 100),
        "priceSet": money_bag(tax.price, order),
    }


def _allocation_view(allocation: DiscountAllocation, order: Order) -> View:
    application = allocation.application
    view: View = {
        "__typename": (
            "DiscountCodeApplication" if application.code else "ManualDiscountApplication"
        ),
        "index": application.index,
        "allocationMethod": application.allocation_method,
        "targetSelection": application.target_selection,
        "targetType": application.target_type,
        "code": application.code,
        "title": application.title,
    }
    return {"allocatedAmountSet": money_bag(allocation.amount, order), "discountApplication": view}


def line_item_view(line: LineItem, order: Order) -> View:
    """A ``LineItem`` with its current quantities."""
    refunded = order.refunded_quantity(line)
    return {
        "id": gid("LineItem", line.id),
        "sku": line.sku,
        "name": line.title,
        "title": line.title,
        "quantity": line.quantity,
        "refundableQuantity": line.quantity - refunded,
        "currentQuantity": line.quantity - refunded,
        "unfulfilledQuantity": order.unfulfilled_quantity(line),
        "originalUnitPriceSet": money_bag(line.unit_price, order),
        "discountAllocations": [_allocation_view(a, order) for a in line.discount_allocations],
        "taxLines": lambda _info, first=None: _truncate(
            [_tax_line_view(t, order) for t in line.tax_lines], first
        ),
        "duties": [duty_view(d, order) for d in line.duties],
    }


def duty_view(duty: Duty, order: Order) -> View:
    """A ``Duty`` (the sandbox keeps no taxes on duties)."""
    return {
        "id": gid("Duty", duty.id),
        "price": money_bag(duty.price, order),
        "taxLines": [],
        "harmonizedSystemCode": duty.harmonized_system_code,
        "countryCodeOfOrigin": duty.country_code_of_origin,
    }


def _refund_duty_view(duty_id: int, amount: Bag, order: Order) -> View:
    found = order.duty(duty_id)
    return {
        "amountSet": money_bag(amount, order),
        "originalDuty": duty_view(found[1], order) if found else None,
    }


def shipping_line_view(shipping: ShippingLine, order: Order) -> View:
    """A ``ShippingLine``."""
    return {
        "id": gid("ShippingLine", shipping.id),
        "title": shipping.title,
        "originalPriceSet": money_bag(shipping.price, order),
        "discountAllocations": [_allocation_view(a, order) for a in shipping.discount_allocations],
        "taxLines": [_tax_line_view(t, order) for t in shipping.tax_lines],
    }


def transaction_view(transaction: Transaction, order: Order) -> View:
    """An ``OrderTransaction``."""
    parent = order.transaction(transaction.parent_id) if transaction.parent_id else None
    return {
        "id": gid("OrderTransaction", transaction.id),
        "kind": transaction.kind,
        "status": transaction.status,
        "gateway": transaction.gateway,
        "amountSet": money_bag(transaction.amount, order),
        "createdAt": transaction.created_at,
        "parentTransaction": transaction_view(parent, order) if parent else None,
    }


def _refund_line_view(line: RefundLine, order: Order, shop: Shop) -> View:
    item = order.line(line.line_item_id)
    assert item is not None
    location = shop.location(line.location_id) if line.location_id is not None else None
    return {
        "lineItem": line_item_view(item, order),
        "quantity": line.quantity,
        "restockType": line.restock_type,
        "restocked": line.restock_type in {"RETURN", "CANCEL"} and location is not None,
        "location": location_view(location) if location else None,
        "priceSet": money_bag(line.unit_price, order),
        "subtotalSet": money_bag(line.subtotal, order),
        "totalTaxSet": money_bag(line.tax, order),
    }


def _refund_shipping_view(entry: RefundShipping, order: Order) -> View:
    shipping = next(s for s in order.shipping_lines if s.id == entry.shipping_line_id)
    return {
        "id": gid("RefundShippingLine", entry.id),
        "shippingLine": shipping_line_view(shipping, order),
        "subtotalAmountSet": money_bag(entry.subtotal, order),
        "taxAmountSet": money_bag(entry.tax, order),
    }


def refund_view(refund: Refund, order: Order, shop: Shop) -> View:
    """A ``Refund``."""
    transactions = [t for t in order.transactions if t.id in set(refund.transaction_ids)]
    lines = list(enumerate(refund.lines))
    return {
        "id": gid("Refund", refund.id),
        "legacyResourceId": str(refund.id),
        "createdAt": refund.created_at,
        "note": refund.note,
        "totalRefundedSet": money_bag(refund_total(order, refund), order),
        "duties": [_refund_duty_view(d.duty_id, d.amount, order) for d in refund.duties],
        "refundLineItems": lambda _info, first=None, after=None: connection(
            lines,
            first=first,
            after=after,
            item_id=lambda pair: pair[0] + 1,
            view=lambda pair: _refund_line_view(pair[1], order, shop),
        ),
        "refundShippingLines": lambda _info, first=None, after=None: connection(
            refund.shipping,
            first=first,
            after=after,
            item_id=lambda entry: entry.id,
            view=lambda entry: _refund_shipping_view(entry, order),
        ),
        "transactions": lambda _info, first=None, after=None: connection(
            transactions,
            first=first,
            after=after,
            item_id=lambda t: t.id,
            view=lambda t: transaction_view(t, order),
        ),
    }


def _suggestion_view(suggestion: Suggestion, order: Order, shop: Shop) -> View:
    lines = []
    for line in suggestion.lines:
        location = shop.location(line.location_id) if line.location_id is not None else None
        lines.append(
            {
                "lineItem": line_item_view(line.line, order),
                "quantity": line.quantity,
                "restockType": line.restock_type,
                "restocked": False,
                "location": location_view(location) if location else None,
                "priceSet": money_bag(line.line.unit_price, order),
                "subtotalSet": money_bag(line.subtotal, order),
                "totalTaxSet": money_bag(line.tax, order),
            }
        )
    return {
        "amountSet": money_bag(suggestion.amount, order),
        # The schema: subtotalSet is "the sum of all the prices", discountedSubtotalSet "the
        # sum of all the discounted prices" of the line items being refunded.
        "subtotalSet": money_bag(suggestion.gross_subtotal, order),
        "discountedSubtotalSet": money_bag(suggestion.subtotal, order),
        "totalTaxSet": money_bag(suggestion.tax, order),
        "maximumRefundableSet": money_bag(suggestion.maximum_refundable, order),
        "refundLineItems": lines,
        "refundDuties": [_refund_duty_view(d.duty.id, d.amount, order) for d in suggestion.duties],
        "totalDutiesSet": money_bag(suggestion.duties_total, order),
        "shipping": {
            "amountSet": money_bag(suggestion.shipping_amount, order),
            "taxSet": money_bag(suggestion.shipping_tax, order),
            "maximumRefundableSet": money_bag(suggestion.shipping_maximum, order),
        },
        "suggestedTransactions": [
            {
                "amountSet": money_bag(t.amount, order),
                "gateway": t.parent.gateway,
                "kind": "SUGGESTED_REFUND",
                "parentTransaction": transaction_view(t.parent, order),
                "maximumRefundableSet": money_bag(t.maximum, order),
            }
            for t in suggestion.transactions
        ],
    }


def _requested_duties(items: list[dict[str, Any]] | None) -> list[tuple[int, str]]:
    """``(duty id, refund type)`` of each ``RefundDutyInput`` naming a duty id."""
    duties = []
    for item in items or []:
        duty_id = parse_gid(item.get("dutyId"), "Duty")
        if duty_id is not None:
            duties.append((duty_id, item.get("refundType") or "FULL"))
    return duties


def _suggested_refund(
    order: Order,
    shop: Shop,
    *,
    refund_line_items: list[dict[str, Any]] | None,
    refund_shipping: bool | None,
    shipping_amount: object,
    suggest_full_refund: bool,
    refund_duties: list[dict[str, Any]] | None = None,
) -> View:
    """``Order.suggestedRefund``: quantities above what is refundable are lowered to it."""
    requests = []
    if suggest_full_refund:
        for line in order.line_items:
            left = line.quantity - order.refunded_quantity(line)
            if left > 0:
                requests.append(LineRequest(line, left, "NO_RESTOCK", None))
    else:
        pending: dict[int, int] = {}
        for item in refund_line_items or []:
            line_id = parse_gid(item["lineItemId"], "LineItem")
            requested = order.line(line_id) if line_id is not None else None
            if requested is None:
                continue
            left = requested.quantity - order.refunded_quantity(requested)
            quantity = min(item["quantity"], left - pending.get(requested.id, 0))
            if quantity <= 0:
                continue
            pending[requested.id] = pending.get(requested.id, 0) + quantity
            location_id = parse_gid(item.get("locationId"), "Location")
            requests.append(
                LineRequest(
                    requested, quantity, item.get("restockType") or "NO_RESTOCK", location_id
                )
            )
    amount = None
    if shipping_amount is not None:
        try:
            amount = parse_amount(shipping_amount, order.presentment_currency)
        except AmountError as exc:
            raise GraphQLError(str(exc)) from exc
    suggestion = suggest(
        order,
        requests,
        full_shipping=bool(refund_shipping) or suggest_full_refund,
        shipping_amount=amount,
        duties=_requested_duties(refund_duties)
        or (
            [(d.id, "FULL") for li in order.line_items for d in li.duties]
            if suggest_full_refund
            else []
        ),
    )
    return _suggestion_view(suggestion, order, shop)


def order_view(order: Order, shop: Shop) -> View:
    """An ``Order`` with its current refund state."""

    def suggested_refund(
        _info: GraphQLResolveInfo[Any],
        refundLineItems: list[dict[str, Any]] | None = None,  # noqa: N803 - GraphQL argument
        refundShipping: bool | None = None,  # noqa: N803
        shippingAmount: object = None,  # noqa: N803
        suggestFullRefund: bool = False,  # noqa: N803
        refundDuties: list[dict[str, Any]] | None = None,  # noqa: N803
    ) -> View:
        return _suggested_refund(
            order,
            shop,
            refund_line_items=refundLineItems,
            refund_shipping=refundShipping,
            shipping_amount=shippingAmount,
            suggest_full_refund=suggestFullRefund,
            refund_duties=refundDuties,
        )

    net = order.net_payment
    has_duties = any(line.duties for line in order.line_items)
    duties = order.total_duties
    refunded_duties = total([d.amount for r in order.refunds for d in r.duties])
    return {
        "id": gid("Order", order.id),
        "legacyResourceId": str(order.id),
        "name": order.name,
        "email": order.email,
        "phone": order.phone,
        "shippingAddress": {"zip": order.shipping_zip} if order.shipping_zip else None,
        "createdAt": order.created_at,
        "processedAt": order.created_at,
        "updatedAt": order.updated_at,
        "currencyCode": order.currency,
        "presentmentCurrencyCode": order.presentment_currency,
        "taxesIncluded": order.taxes_included,
        "displayFinancialStatus": order.financial_status,
        "customer": {"id": gid("Customer", order.id), "email": order.email}
        if order.email
        else None,
        "refundable": net.presentment > 0,
        "totalPriceSet": money_bag(order.total_price, order),
        "totalReceivedSet": money_bag(order.received, order),
        "totalRefundedSet": money_bag(order.refunded, order),
        "netPaymentSet": money_bag(net, order),
        "originalTotalDutiesSet": money_bag(duties, order) if has_duties else None,
        "currentTotalDutiesSet": (
            money_bag(duties - refunded_duties, order) if has_duties else None
        ),
        "lineItems": lambda _info, first=None, after=None: connection(
            order.line_items,
            first=first,
            after=after,
            item_id=lambda li: li.id,
            view=lambda li: line_item_view(li, order),
        ),
        "shippingLines": lambda _info, first=None, after=None: connection(
            order.shipping_lines,
            first=first,
            after=after,
            item_id=lambda s: s.id,
            view=lambda s: shipping_line_view(s, order),
        ),
        "transactions": lambda _info, first=None: _truncate(
            [transaction_view(t, order) for t in order.transactions], first
        ),
        "refunds": lambda _info, first=None: _truncate(
            [refund_view(r, order, shop) for r in order.refunds], first
        ),
        "suggestedRefund": suggested_refund,
    }
