"""Orders and refunds as the wc/v3 REST API renders them (money as 2-dp strings)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from returnbridge.sandbox.woocommerce.money import fmt, unit_price
from returnbridge.sandbox.woocommerce.state import ChargeLine, LineItem, Order, Refund, RefundedItem

_ADDRESS_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "address_1",
    "address_2",
    "city",
    "state",
    "postcode",
    "country",
)


def _price(cents: int, quantity: int) -> float:
    # WooCommerce sends ``price`` as a JSON number; converted only here, at the wire.
    return float(unit_price(cents, quantity))


def _line_item(item: LineItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "name": item.name,
        "product_id": item.product_id,
        "variation_id": 0,
        "quantity": item.quantity,
        "tax_class": "",
        "subtotal": fmt(item.subtotal),
        "subtotal_tax": fmt(sum(t.subtotal for t in item.taxes)),
        "total": fmt(item.total),
        "total_tax": fmt(item.total_tax),
        "taxes": [
            {"id": t.rate_id, "total": fmt(t.total), "subtotal": fmt(t.subtotal)}
            for t in item.taxes
        ],
        "meta_data": [],
        "sku": item.sku or "",
        "price": _price(item.total, item.quantity),
    }


def _charge_line(line: ChargeLine) -> dict[str, Any]:
    taxes = [{"id": t.rate_id, "total": fmt(t.total), "subtotal": ""} for t in line.taxes]
    if line.kind == "shipping":
        return {
            "id": line.id,
            "method_title": line.name,
            "method_id": line.method_id,
            "instance_id": "",
            "total": fmt(line.total),
            "total_tax": fmt(line.total_tax),
            "taxes": taxes,
            "meta_data": [],
        }
    return {
        "id": line.id,
        "name": line.name,
        "tax_class": "",
        "tax_status": "taxable",
        "total": fmt(line.total),
        "total_tax": fmt(line.total_tax),
        "taxes": taxes,
        "meta_data": [],
    }


def _tax_lines(order: Order) -> list[dict[str, Any]]:
    item_tax: dict[int, int] = defaultdict(int)
    shipping_tax: dict[int, int] = defaultdict(int)
    items: list[LineItem | ChargeLine] = [*order.line_items, *order.fee_lines]
    for item in items:
        for tax in item.taxes:
            item_tax[tax.rate_id] += tax.total
    for line in order.shipping_lines:
        for tax in line.taxes:
            shipping_tax[tax.rate_id] += tax.total
    names = order.tax_rates
    return [
        {
            "id": rate_id,
            "rate_code": names.get(rate_id, ("", None))[1] or f"TAX-{rate_id}",
            "rate_id": rate_id,
            "label": names.get(rate_id, ("Tax", None))[0],
            "compound": False,
            "tax_total": fmt(item_tax[rate_id]),
            "shipping_tax_total": fmt(shipping_tax[rate_id]),
            "meta_data": [],
        }
        for rate_id in sorted({*item_tax, *shipping_tax})
    ]


def order_json(order: Order) -> dict[str, Any]:
    """``GET /orders/{id}``."""
    shipping_total = sum(s.total for s in order.shipping_lines)
    shipping_tax = sum(s.total_tax for s in order.shipping_lines)
    discount = sum(li.subtotal - li.total for li in order.line_items)
    billing = dict.fromkeys(_ADDRESS_FIELDS, "") | order.billing
    return {
        "id": order.id,
        "parent_id": 0,
        "number": order.number,
        "order_key": f"wc_order_{order.id}",
        "created_via": "checkout",
        "status": order.status,
        "currency": order.currency,
        "date_created": order.date_created,
        "date_created_gmt": order.date_created,
        "date_modified": order.date_modified,
        "date_modified_gmt": order.date_modified,
        "discount_total": fmt(discount),
        "discount_tax": "0.00",
        "shipping_total": fmt(shipping_total),
        "shipping_tax": fmt(shipping_tax),
        "cart_tax": fmt(sum(li.total_tax for li in order.line_items)),
        "total": fmt(order.total),
        "total_tax": fmt(order.total_tax),
        "prices_include_tax": order.prices_include_tax,
        "customer_id": order.customer_id,
        "customer_note": "",
        "billing": billing,
        "shipping": dict.fromkeys(_ADDRESS_FIELDS, ""),
        "payment_method": order.payment_method,
        "payment_method_title": order.payment_method_title,
        "transaction_id": order.transaction_id,
        "meta_data": [],
        "line_items": [_line_item(li) for li in order.line_items],
        "tax_lines": _tax_lines(order),
        "shipping_lines": [_charge_line(s) for s in order.shipping_lines],
        "fee_lines": [_charge_line(f) for f in order.fee_lines],
        "coupon_lines": [
            {
                "id": c.id,
                "code": c.code,
                "discount": fmt(c.discount),
                "discount_tax": "0.00",
                "meta_data": [],
            }
            for c in order.coupon_lines
        ],
        "refunds": [
            {"id": r.id, "reason": r.reason or "", "total": fmt(-r.amount)}
            for r in reversed(order.refunds)
        ],
    }


def _refunded_taxes(item: RefundedItem) -> list[dict[str, Any]]:
    return [
        {"id": rate_id, "total": fmt(-amount), "subtotal": fmt(-amount)}
        for rate_id, amount in item.taxes.items()
    ]


def _refunded_line(item: RefundedItem, line: LineItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "name": line.name,
        "product_id": line.product_id,
        "variation_id": 0,
        "quantity": -item.quantity,
        "tax_class": "",
        "subtotal": fmt(-item.total),
        "subtotal_tax": fmt(-item.total_tax),
        "total": fmt(-item.total),
        "total_tax": fmt(-item.total_tax),
        "taxes": _refunded_taxes(item),
        "meta_data": [{"id": item.id, "key": "_refunded_item_id", "value": str(item.item_id)}],
        "sku": line.sku or "",
        "price": _price(item.total, item.quantity),
    }


def _refunded_charge(item: RefundedItem, line: ChargeLine) -> dict[str, Any]:
    name = {"method_title": line.name, "method_id": line.method_id}
    if line.kind == "fee":
        name = {"name": line.name}
    return {
        "id": item.id,
        **name,
        "total": fmt(-item.total),
        "total_tax": fmt(-item.total_tax),
        "taxes": _refunded_taxes(item),
        "meta_data": [{"id": item.id, "key": "_refunded_item_id", "value": str(item.item_id)}],
    }


def refund_json(refund: Refund, order: Order) -> dict[str, Any]:
    """A ``shop_order_refund``: positive ``amount``, negative item quantities and totals."""
    lines: list[dict[str, Any]] = []
    shipping: list[dict[str, Any]] = []
    fees: list[dict[str, Any]] = []
    for item in refund.items:
        original = order.item(item.item_id)
        if isinstance(original, LineItem):
            lines.append(_refunded_line(item, original))
        elif original is not None:
            target = shipping if original.kind == "shipping" else fees
            target.append(_refunded_charge(item, original))
    return {
        "id": refund.id,
        "date_created": refund.date_created,
        "date_created_gmt": refund.date_created,
        "amount": fmt(refund.amount),
        "reason": refund.reason or "",
        "refunded_by": refund.refunded_by,
        "refunded_payment": refund.refunded_payment,
        "meta_data": refund.meta_data,
        "line_items": lines,
        "shipping_lines": shipping,
        "fee_lines": fees,
    }


def order_state(order: Order, stock: dict[int, int]) -> dict[str, Any]:
    """The REST view of an order plus what the control surface adds for assertions."""
    return {
        **order_json(order),
        "refunded_total": fmt(order.refunded),
        "remaining_refundable": fmt(order.remaining_refundable),
        "refunded_quantities": {
            str(li.id): order.refunded_quantity(li.id) for li in order.line_items
        },
        "stock": {
            str(li.product_id): stock[li.product_id]
            for li in order.line_items
            if li.product_id in stock
        },
        "refund_objects": [refund_json(r, order) for r in order.refunds],
    }
