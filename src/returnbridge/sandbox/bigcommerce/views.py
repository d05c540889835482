"""JSON shapes: v2 orders (money as 4-decimal strings) and v3 refunds (money as numbers)."""

from __future__ import annotations

from typing import Any

from returnbridge.sandbox.bigcommerce.money import v2_money, v3_amount
from returnbridge.sandbox.bigcommerce.state import (
    STATUS_NAMES,
    Order,
    OrderProduct,
    Refund,
    RefundLine,
    ShippingAddress,
)


def _resource(store_hash: str, path: str) -> dict[str, str]:
    return {"url": f"https://api.bigcommerce.com/stores/{store_hash}/v2{path}", "resource": path}


def v2_order(order: Order, store_hash: str) -> dict[str, Any]:
    """``GET /v2/orders/{id}``: subtotals before discounts; totals after them, with tax."""
    lines_ex = sum(p.price_ex_tax * p.quantity for p in order.products)
    lines_tax = sum(p.line_tax for p in order.products)
    ship_ex = sum(a.cost_ex_tax for a in order.addresses)
    ship_inc = sum(a.cost_inc_tax for a in order.addresses)
    return {
        "id": order.id,
        "customer_id": order.customer_id,
        "date_created": order.date_created,
        "date_modified": order.date_modified,
        "date_shipped": "",
        "status_id": order.status_id,
        "status": STATUS_NAMES[order.status_id],
        "subtotal_ex_tax": v2_money(lines_ex),
        "subtotal_inc_tax": v2_money(lines_ex + lines_tax),
        "subtotal_tax": v2_money(lines_tax),
        "base_shipping_cost": v2_money(ship_inc),
        "shipping_cost_ex_tax": v2_money(ship_ex),
        "shipping_cost_inc_tax": v2_money(ship_inc),
        "shipping_cost_tax": v2_money(ship_inc - ship_ex),
        "total_ex_tax": v2_money(order.total_ex_tax),
        "total_inc_tax": v2_money(order.total_inc_tax),
        "total_tax": v2_money(order.total_inc_tax - order.total_ex_tax),
        "items_total": sum(p.quantity for p in order.products),
        "items_shipped": 0,
        "payment_method": order.payment_method,
        "payment_status": "captured",
        "refunded_amount": v2_money(0),  # the spec: "always returns 0"
        "store_credit_amount": v2_money(0),
        "currency_code": order.currency_code,
        "default_currency_code": order.currency_code,
        "currency_exchange_rate": "1.0000000000",
        "is_tax_inclusive_pricing": order.is_tax_inclusive_pricing,
        "discount_amount": v2_money(order.discount_amount),
        "coupon_discount": v2_money(order.coupon_discount),
        "billing_address": _billing(order),
        "products": _resource(store_hash, f"/orders/{order.id}/products"),
        "shipping_addresses": _resource(store_hash, f"/orders/{order.id}/shipping_addresses"),
    }


def _billing(order: Order) -> dict[str, Any]:
    """The billing address: the first shipping address's name and place, the order's email."""
    first = order.addresses[0]
    return {
        "first_name": first.first_name,
        "last_name": first.last_name,
        "country_iso2": first.country_iso2,
        "zip": first.zip,
        "email": order.email,
    }


def v2_product(product: OrderProduct, order_id: int) -> dict[str, Any]:
    """One element of ``GET /v2/orders/{id}/products``."""
    return {
        "id": product.id,
        "order_id": order_id,
        "product_id": product.product_id,
        "variant_id": product.variant_id,
        "order_address_id": product.order_address_id,
        "name": product.name,
        "sku": product.sku,
        "type": "physical",
        "base_price": v2_money(product.price_ex_tax),
        "price_ex_tax": v2_money(product.price_ex_tax),
        "price_inc_tax": v2_money(product.price_inc_tax),
        "price_tax": v2_money(product.price_tax),
        "base_total": v2_money(product.price_ex_tax * product.quantity),
        "total_ex_tax": v2_money(product.price_ex_tax * product.quantity),
        "total_inc_tax": v2_money(product.price_ex_tax * product.quantity + product.line_tax),
        "total_tax": v2_money(product.line_tax),
        "quantity": product.quantity,
        "is_refunded": product.quantity_refunded > 0,
        "quantity_refunded": product.quantity_refunded,
        "refund_amount": v2_money(product.refunded_cents),
        "return_id": 0,
        "quantity_shipped": 0,
        "applied_discounts": [
            {
                "id": d.id,
                "amount": v2_money(d.amount_cents),
                "name": d.name,
                "code": d.code,
                "target": d.target,
            }
            for d in product.discounts
        ],
        "product_options": [],
    }


def v2_address(address: ShippingAddress, order: Order) -> dict[str, Any]:
    """One element of ``GET /v2/orders/{id}/shipping_addresses``."""
    items = [p for p in order.products if p.order_address_id == address.id]
    return {
        "id": address.id,
        "order_id": order.id,
        "first_name": address.first_name,
        "last_name": address.last_name,
        "email": address.email,
        "country_iso2": address.country_iso2,
        "zip": address.zip,
        "items_total": sum(p.quantity for p in items),
        "items_shipped": 0,
        "shipping_method": address.shipping_method,
        "base_cost": v2_money(address.cost_inc_tax),
        "cost_ex_tax": v2_money(address.cost_ex_tax),
        "cost_inc_tax": v2_money(address.cost_inc_tax),
        "cost_tax": v2_money(address.cost_inc_tax - address.cost_ex_tax),
        "base_handling_cost": v2_money(0),
        "handling_cost_ex_tax": v2_money(0),
        "handling_cost_inc_tax": v2_money(0),
        "handling_cost_tax": v2_money(0),
    }


def v3_refund(refund: Refund) -> dict[str, Any]:
    """The ``Refund`` object of payment actions."""
    return {
        "id": refund.id,
        "order_id": refund.order_id,
        "user_id": 0,
        "created": refund.created,
        "reason": refund.reason,
        "total_amount": v3_amount(refund.total_cents),
        "total_tax": v3_amount(refund.tax_cents),
        "uses_merchant_override_values": False,
        "items": [_refund_item(line) for line in refund.items],
        "payments": [
            {
                "id": payment.id,
                "provider_id": payment.provider_id,
                "amount": v3_amount(payment.amount_cents),
                "offline": payment.offline,
                "is_declined": False,
                "declined_message": "",
            }
            for payment in refund.payments
        ],
    }


def _refund_item(line: RefundLine) -> dict[str, Any]:
    """A ``RefundItem``: ``quantity`` only for PRODUCT, ``requested_amount`` only for amounts
    (the spec types both as non-null; absent rather than null). No ``transaction_id`` on
    payments: the sandbox talks to no gateway."""
    item: dict[str, Any] = {
        "item_type": line.item_type,
        "item_id": line.item_id,
        "reason": line.reason or "",
        "adjustments": [],
    }
    if line.quantity is not None:
        item["quantity"] = line.quantity
    if line.requested_cents is not None:
        item["requested_amount"] = v3_amount(line.requested_cents)
    return item


def order_state(order: Order, store_hash: str) -> dict[str, Any]:
    """Control-surface view: the v2 order with its products, addresses and refunds."""
    return {
        **v2_order(order, store_hash),
        "products": [v2_product(p, order.id) for p in order.products],
        "shipping_addresses": [v2_address(a, order) for a in order.addresses],
        "refunds": [v3_refund(r) for r in order.refunds],
        "refund_in_progress": order.refund_in_progress,
    }
