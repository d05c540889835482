"""Control-surface payloads that create stores, orders and stock.

Seed amounts are decimal strings in the order currency, excluding tax; taxes are given per tax
rate id, as WooCommerce stores them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from returnbridge.sandbox.woocommerce.money import MoneyError, to_cents
from returnbridge.sandbox.woocommerce.state import (
    ChargeLine,
    Coupon,
    Ids,
    KeyPermission,
    LineItem,
    Order,
    Store,
    Tax,
)


class _Seed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StoreSeed(_Seed):
    """``POST /_sandbox/stores``: a site and its REST API key."""

    name: str
    consumer_key: str
    consumer_secret: str
    permissions: KeyPermission = "read_write"
    user_id: int = 1


class TaxSeed(_Seed):
    """Tax of one rate on one item; ``subtotal`` (before discounts) defaults to ``total``."""

    rate_id: int
    total: str
    subtotal: str | None = None


class LineItemSeed(_Seed):
    """A product line: unit ``price`` and line ``discount`` exclude tax."""

    id: int | None = None
    product_id: int
    sku: str | None = None
    name: str
    quantity: int = Field(ge=1)
    price: str
    discount: str = "0"
    taxes: list[TaxSeed] = Field(default_factory=list)


class ShippingLineSeed(_Seed):
    """A shipping charge, excluding tax."""

    id: int | None = None
    method_id: str = "flat_rate"
    method_title: str = "Flat rate"
    total: str
    taxes: list[TaxSeed] = Field(default_factory=list)


class FeeLineSeed(_Seed):
    """A fee, excluding tax."""

    id: int | None = None
    name: str
    total: str
    taxes: list[TaxSeed] = Field(default_factory=list)


class TaxRateSeed(_Seed):
    """A tax rate the order's ``tax_lines`` name (label and code as the store set them)."""

    rate_id: int
    label: str
    rate_code: str | None = None


class CouponSeed(_Seed):
    """A coupon line: its code and the discount it gave (excluding tax), for display only.

    Line discounts are seeded on the lines (``LineItemSeed.discount``), as WooCommerce applies
    a coupon to line totals; this only lists the code.
    """

    code: str
    discount: str


class BillingSeed(_Seed):
    """The billing address fields the sandbox keeps."""

    email: str = ""
    first_name: str = ""
    last_name: str = ""
    phone: str = ""


class OrderSeed(_Seed):
    """``POST /_sandbox/stores/{name}/orders``."""

    id: int | None = None
    number: str | None = None
    status: str = "processing"
    currency: str = "USD"
    date_created: str = "2026-01-15T10:00:00"
    prices_include_tax: bool = False
    customer_id: int = 0
    billing: BillingSeed = Field(default_factory=BillingSeed)
    payment_method: str = "stripe"
    payment_method_title: str = "Credit Card (Stripe)"
    gateway_refunds: bool = True
    """Whether the payment gateway can refund automatically (``api_refund: true``)."""
    transaction_id: str = ""
    line_items: list[LineItemSeed] = Field(min_length=1)
    shipping_lines: list[ShippingLineSeed] = Field(default_factory=list)
    fee_lines: list[FeeLineSeed] = Field(default_factory=list)
    tax_rates: list[TaxRateSeed] = Field(default_factory=list)
    coupon_lines: list[CouponSeed] = Field(default_factory=list)


class StockSeed(_Seed):
    """``POST /_sandbox/stores/{name}/stock``: a product that manages stock."""

    product_id: int
    stock_quantity: int


class SeedError(ValueError):
    """A seed payload that cannot become an order."""


def _taxes(seeds: list[TaxSeed]) -> list[Tax]:
    return [
        Tax(t.rate_id, to_cents(t.total), to_cents(t.subtotal if t.subtotal else t.total))
        for t in seeds
    ]


def _line(seed: LineItemSeed, ids: Ids) -> LineItem:
    subtotal = to_cents(seed.price) * seed.quantity
    total = subtotal - to_cents(seed.discount)
    if total < 0:
        msg = f"discount of {seed.name!r} exceeds its subtotal"
        raise SeedError(msg)
    return LineItem(
        id=seed.id or ids.next(),
        product_id=seed.product_id,
        sku=seed.sku,
        name=seed.name,
        quantity=seed.quantity,
        subtotal=subtotal,
        total=total,
        taxes=_taxes(seed.taxes),
    )


def build_order(seed: OrderSeed, *, ids: Ids) -> Order:
    """An order from its seed."""
    try:
        order_id = seed.id or ids.next()
        lines = [_line(li, ids) for li in seed.line_items]
        shipping = [
            ChargeLine(
                s.id or ids.next(),
                "shipping",
                s.method_title,
                s.method_id,
                to_cents(s.total),
                _taxes(s.taxes),
            )
            for s in seed.shipping_lines
        ]
        fees = [
            ChargeLine(f.id or ids.next(), "fee", f.name, None, to_cents(f.total), _taxes(f.taxes))
            for f in seed.fee_lines
        ]
        coupons = [Coupon(ids.next(), c.code, to_cents(c.discount)) for c in seed.coupon_lines]
    except MoneyError as exc:
        raise SeedError(str(exc)) from exc
    return Order(
        id=order_id,
        number=seed.number or str(order_id),
        status=seed.status,
        currency=seed.currency,
        date_created=seed.date_created,
        date_modified=seed.date_created,
        prices_include_tax=seed.prices_include_tax,
        customer_id=seed.customer_id,
        billing=seed.billing.model_dump(),
        payment_method=seed.payment_method,
        payment_method_title=seed.payment_method_title,
        gateway_refunds=seed.gateway_refunds,
        transaction_id=seed.transaction_id,
        line_items=lines,
        shipping_lines=shipping,
        fee_lines=fees,
        tax_rates={t.rate_id: (t.label, t.rate_code) for t in seed.tax_rates},
        coupon_lines=coupons,
    )


def build_store(seed: StoreSeed) -> Store:
    """A store from its seed."""
    return Store(
        name=seed.name,
        consumer_key=seed.consumer_key,
        consumer_secret=seed.consumer_secret,
        permissions=seed.permissions,
        user_id=seed.user_id,
    )
