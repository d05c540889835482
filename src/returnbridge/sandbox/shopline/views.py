"""JSON shapes of the API: orders, lines, refunds, returns, locations (money as strings)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from returnbridge.sandbox.shopline.money import to_cent, wire
from returnbridge.sandbox.shopline.state import (
    DiscountAllocation,
    Fulfillment,
    LineItem,
    Location,
    Order,
    Refund,
    RefundLine,
    RefundTransaction,
    Return,
    ReturnLine,
    ShippingLine,
    TaxLine,
    timestamp,
)


def money_set(order: Order, amount: Decimal) -> dict[str, Any]:
    """``{shop_money, presentment_money}``: settlement amount, and it at the order's rate."""
    return {
        "shop_money": {"amount": wire(amount), "currency_code": order.currency},
        "presentment_money": {
            "amount": wire(to_cent(amount * order.exchange_rate)),
            "currency_code": order.presentment_currency,
        },
    }


def _tax_line(order: Order, tax: TaxLine) -> dict[str, Any]:
    return {
        "title": tax.title,
        "rate": str(tax.rate),
        "price": wire(tax.price),
        "price_set": money_set(order, tax.price),
    }


def _allocation(order: Order, allocation: DiscountAllocation) -> dict[str, Any]:
    return {
        "amount": wire(allocation.amount),
        "amount_set": money_set(order, allocation.amount),
        "discount_application_index": allocation.application_index,
    }


def line_item(order: Order, line: LineItem) -> dict[str, Any]:
    """A line as orders show it."""
    if line.fulfilled == 0:
        status = None
    elif line.fulfillable_quantity == 0:
        status = "fulfilled"
    else:
        status = "partial"
    return {
        "id": line.id,
        "product_id": line.product_id,
        "variant_id": line.variant_id,
        "sku": line.sku,
        "title": line.title,
        "name": line.title if not line.variant_title else f"{line.title} - {line.variant_title}",
        "variant_title": line.variant_title,
        "quantity": line.quantity,
        "price": wire(line.price),
        "price_set": money_set(order, line.price),
        "tax_lines": [_tax_line(order, t) for t in line.tax_lines],
        "discount_allocations": [_allocation(order, d) for d in line.discount_allocations],
        "fulfillable_quantity": line.fulfillable_quantity,
        "fulfillment_status": status,
        "requires_shipping": True,
        "taxable": bool(line.tax_lines),
    }


def _shipping_line(order: Order, shipping: ShippingLine) -> dict[str, Any]:
    return {
        "title": shipping.title,
        "code": shipping.code,
        "price": wire(shipping.price),
        "price_set": money_set(order, shipping.price),
        "discounted_price": wire(shipping.price),
        "discounted_price_set": money_set(order, shipping.price),
        "tax_lines": [_tax_line(order, t) for t in shipping.tax_lines],
    }


def _fulfillment(order: Order, fulfillment: Fulfillment) -> dict[str, Any]:
    lines = []
    for part in fulfillment.lines:
        line = order.line(part.line_item_id)
        if line is not None:
            lines.append({**line_item(order, line), "quantity": part.quantity})
    return {
        "id": fulfillment.id,
        "order_id": order.id,
        "status": "success",
        "created_at": timestamp(fulfillment.created_at),
        "updated_at": timestamp(fulfillment.created_at),
        "line_items": lines,
    }


def _order_taxes(order: Order) -> list[dict[str, Any]]:
    """Taxes of the order summed by title and rate."""
    totals: dict[tuple[str, Decimal], Decimal] = {}
    taxes = [t for line in order.line_items for t in line.tax_lines]
    taxes += [t for s in order.shipping_lines for t in s.tax_lines]
    for tax in taxes:
        key = (tax.title, tax.rate)
        totals[key] = totals.get(key, Decimal(0)) + tax.price
    return [
        _tax_line(order, TaxLine(title=title, rate=rate, price=price))
        for (title, rate), price in totals.items()
    ]


def order_json(order: Order) -> dict[str, Any]:
    """``GET orders/{id}.json``'s ``order``."""
    refunded = order.refunded_money
    gateways = list(dict.fromkeys(p.gateway for p in order.payments))
    return {
        "id": order.id,
        "name": order.name,
        "email": order.email,
        "created_at": timestamp(order.created_at),
        "updated_at": timestamp(order.updated_at),
        "processed_at": timestamp(order.created_at),
        "cancelled_at": timestamp(order.cancelled_at) if order.cancelled_at else None,
        "status": order.status,
        "financial_status": order.financial_status,
        "fulfillment_status": order.fulfillment_status,
        "currency": order.currency,
        "presentment_currency": order.presentment_currency,
        "taxes_included": False,
        "total_line_items_price": wire(order.line_items_price),
        "total_line_items_price_set": money_set(order, order.line_items_price),
        "subtotal_price": wire(order.subtotal),
        "subtotal_price_set": money_set(order, order.subtotal),
        "total_discounts": wire(order.total_discounts),
        "total_discounts_set": money_set(order, order.total_discounts),
        "total_tax": wire(order.total_tax),
        "total_tax_set": money_set(order, order.total_tax),
        "total_shipping_price_set": money_set(order, order.shipping_price),
        "total_price": wire(order.total),
        "total_price_set": money_set(order, order.total),
        "current_total_price": wire(order.total - refunded),
        "current_total_price_set": money_set(order, order.total - refunded),
        "total_refunded": wire(refunded),
        "total_refunded_set": money_set(order, refunded),
        "discount_codes": [
            {"code": d.code, "amount": d.value, "type": d.value_type}
            for d in order.discount_applications
            if d.code
        ],
        "discount_applications": [
            {
                "type": "discount_code" if d.code else "automatic",
                "code": d.code,
                "title": d.title,
                "value": d.value,
                "value_type": d.value_type,
                "target_type": d.target_type,
                "allocation_method": d.allocation_method,
                "target_selection": "all",
            }
            for d in order.discount_applications
        ],
        "line_items": [line_item(order, line) for line in order.line_items],
        "shipping_lines": [_shipping_line(order, s) for s in order.shipping_lines],
        "tax_lines": _order_taxes(order),
        "payment_gateway_names": gateways,
        "payment_details": [
            {
                "pay_seq": p.id,
                "gateway": p.gateway,
                "pay_amount": wire(to_cent(p.amount * order.exchange_rate)),
                "settle_pay_amount": wire(p.amount),
                "settle_currency": order.currency,
                "pay_status": "PAID",
                "create_time": timestamp(p.created_at),
            }
            for p in order.payments
        ],
        "transactions": [
            {
                "id": p.id,
                "order_id": order.id,
                "kind": "sale",
                "gateway": p.gateway,
                "status": "success",
                "amount": wire(p.amount),
                "currency": order.currency,
                "created_at": timestamp(p.created_at),
                "processed_at": timestamp(p.created_at),
            }
            for p in order.payments
        ],
        "fulfillments": [_fulfillment(order, f) for f in order.fulfillments],
        "refunds": [refund_json(order, r) for r in order.refunds],
        "customer": {"id": order.customer_id, "email": order.email},
    }


def _refund_line(order: Order, line: RefundLine) -> dict[str, Any]:
    item = order.line(line.line_item_id)
    return {
        "id": line.id,
        "line_item_id": line.line_item_id,
        "quantity": line.quantity,
        "type": line.type,
        "restock_type": line.restock_type,
        "location_id": line.location_id,
        "subtotal": wire(line.subtotal),
        "subtotal_set": money_set(order, line.subtotal),
        "total_tax": wire(line.total_tax),
        "total_tax_set": money_set(order, line.total_tax),
        "line_item": line_item(order, item) if item is not None else None,
    }


def _refund_transaction(order: Order, transaction: RefundTransaction) -> dict[str, Any]:
    return {
        "id": transaction.id,
        "parent_id": transaction.parent_id,
        "order_id": order.id,
        "kind": "refund",
        "gateway": transaction.gateway,
        "status": "success",
        "amount": wire(transaction.amount),
        "currency": transaction.currency,
        "type": transaction.original_route,
        "created_at": timestamp(transaction.created_at),
        "processed_at": timestamp(transaction.created_at),
    }


def refund_json(order: Order, refund: Refund) -> dict[str, Any]:
    """A refund, as every read and the ``refunds/create`` webhook show it."""
    discrepancy = refund.money - refund.items_total
    adjustments = []
    if discrepancy != 0:
        adjustments.append(
            {
                "id": f"{refund.id}1",
                "order_id": order.id,
                "refund_id": refund.id,
                "kind": "refund_discrepancy",
                "reason": "refund_discrepancy",
                "amount": wire(-discrepancy),
                "amount_set": money_set(order, -discrepancy),
                "tax_amount": wire(Decimal(0)),
                "tax_amount_set": money_set(order, Decimal(0)),
            }
        )
    return {
        "id": refund.id,
        "order_id": order.id,
        "created_at": timestamp(refund.created_at),
        "processed_at": refund.processed_at or timestamp(refund.created_at),
        "note": refund.note,
        "currency": refund.currency,
        "refund_line_items": [_refund_line(order, line) for line in refund.lines],
        "shipping": {"amount": wire(refund.shipping_amount), "tax": wire(refund.shipping_tax)},
        "transactions": [_refund_transaction(order, t) for t in refund.transactions],
        "order_adjustments": adjustments,
        "total_duties_set": money_set(order, Decimal(0)),
    }


def _return_line(order: Order, line: ReturnLine) -> dict[str, Any]:
    item = order.line(line.line_item_id)
    return {
        "id": line.id,
        "quantity": line.quantity,
        "return_reason": line.return_reason,
        "return_reason_note": line.return_reason_note,
        "fulfillment_id": line.fulfillment_id,
        "fulfillment_line_item": {
            "line_item": line_item(order, item) if item is not None else None,
            "quantity": line.quantity,
        },
    }


def return_json(order: Order, entry: Return) -> dict[str, Any]:
    """A return order."""
    return {
        "id": entry.id,
        "order_id": entry.order_id,
        "status": entry.status,
        "created_at": timestamp(entry.created_at),
        "processed_at": entry.processed_at or timestamp(entry.created_at),
        "return_reason": entry.return_reason,
        "notify_customer": entry.notify_customer,
        "return_line_items": [_return_line(order, line) for line in entry.lines],
    }


def location_json(location: Location, country_code: str = "US") -> dict[str, Any]:
    """A location as ``locations/list.json`` shows it."""
    return {
        "id": location.id,
        "name": location.name,
        "active": location.active,
        "is_default": "true" if location.is_default else "false",
        "legacy": False,
        "country_code": country_code,
        "created_at": timestamp(location.created_at),
        "updated_at": timestamp(location.created_at),
    }
