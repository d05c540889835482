"""Seeds from the control surface: stores, orders (compact form) and stock levels."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from returnbridge.sandbox.shopline.money import (
    ZERO,
    AmountError,
    parse_amount,
    parse_rate,
    to_cent,
)
from returnbridge.sandbox.shopline.rate_limit import DEFAULT_BUCKET_SIZE, DEFAULT_LEAK_RATE
from returnbridge.sandbox.shopline.state import (
    DiscountAllocation,
    DiscountApplication,
    Fulfillment,
    FulfillmentLine,
    Ids,
    LineItem,
    Location,
    Order,
    PaymentSlip,
    ShippingLine,
    Store,
    TaxLine,
)

Amount = str | int


class SeedError(ValueError):
    """A seed the sandbox cannot build."""


class _Seed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LocationSeed(_Seed):
    """A store location."""

    id: str | None = Field(default=None, pattern=r"^\d+$")
    name: str
    active: bool = True


class StoreSeed(_Seed):
    """``POST /_sandbox/stores``."""

    handle: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    access_token: str = Field(min_length=1)
    app_secret: str = "sandbox-app-secret"  # noqa: S105 - a sandbox default, not a secret
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    store_id: str = "1700000001"
    merchant_id: str = "2000000001"
    locations: list[LocationSeed] | None = None
    bucket_size: int = Field(default=DEFAULT_BUCKET_SIZE, ge=1)
    leak_rate: float = Field(default=DEFAULT_LEAK_RATE, gt=0)
    webhook_signature_encoding: Literal["hex", "base64"] = "hex"


class StockSeed(_Seed):
    """``POST /_sandbox/stores/{handle}/stock``."""

    sku: str
    level: int
    location_id: str | None = None


class TaxSeed(_Seed):
    """A tax line: ``price`` is the line's total tax; without it, computed from ``rate``."""

    title: str = "Tax"
    rate: Amount
    price: Amount | None = None


class AllocationSeed(_Seed):
    """A line's share of a discount application (a line total)."""

    amount: Amount
    discount_application_index: int = Field(default=0, ge=0)


class DiscountApplicationSeed(_Seed):
    """An order discount."""

    code: str | None = None
    title: str | None = None
    value: Amount = "0.00"
    value_type: Literal["fixed_amount", "percentage"] = "fixed_amount"
    target_type: Literal["line_item", "shipping_line"] = "line_item"
    allocation_method: Literal["across", "each", "one"] = "across"


class LineSeed(_Seed):
    """An order line: unit ``price`` before discounts."""

    sku: str
    title: str
    quantity: int = Field(ge=1)
    price: Amount
    variant_title: str | None = None
    product_id: str | None = Field(default=None, pattern=r"^\d+$")
    variant_id: str | None = Field(default=None, pattern=r"^\d+$")
    fulfilled: int | None = Field(default=None, ge=0)
    tax_lines: list[TaxSeed] = Field(default_factory=list)
    discount_allocations: list[AllocationSeed] = Field(default_factory=list)


class ShippingSeed(_Seed):
    """A shipping line (price before tax)."""

    title: str = "Standard"
    code: str | None = None
    price: Amount
    tax_lines: list[TaxSeed] = Field(default_factory=list)


class PaymentSeed(_Seed):
    """A payment slip."""

    gateway: str = "Paypal"
    amount: Amount


class OrderSeed(_Seed):
    """``POST /_sandbox/stores/{handle}/orders``: only ``line_items`` is required."""

    id: str | None = Field(default=None, pattern=r"^\d+$")
    name: str | None = None
    email: str = "buyer@example.com"
    created_at: datetime | None = None
    status: Literal["open", "cancelled"] = "open"
    presentment_currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    exchange_rate: Amount = "1"
    discount_applications: list[DiscountApplicationSeed] = Field(default_factory=list)
    line_items: list[LineSeed] = Field(min_length=1)
    shipping_lines: list[ShippingSeed] = Field(default_factory=list)
    payments: list[PaymentSeed] | None = None


def build_store(seed: StoreSeed, *, ids: Ids, now: datetime) -> Store:
    """A store from its seed; without locations, one default location."""
    store = Store(
        handle=seed.handle,
        access_token=seed.access_token,
        app_secret=seed.app_secret,
        currency=seed.currency,
        store_id=seed.store_id,
        merchant_id=seed.merchant_id,
        bucket_size=seed.bucket_size,
        leak_rate=seed.leak_rate,
        signature_encoding=seed.webhook_signature_encoding,
    )
    locations = seed.locations or [LocationSeed(name="Default location")]
    for index, loc in enumerate(locations):
        location_id = loc.id or ids.next("location")
        if location_id in store.locations:
            raise SeedError(f"duplicate location id {location_id}")
        store.locations[location_id] = Location(
            id=location_id,
            name=loc.name,
            active=loc.active,
            is_default=index == 0,
            created_at=now,
        )
        store.stock[location_id] = {}
    return store


def _amount(value: Amount, what: str) -> Decimal:
    try:
        amount = parse_amount(value)
    except AmountError as exc:
        raise SeedError(f"{what}: {exc}") from exc
    if amount < 0:
        raise SeedError(f"{what}: negative amount")
    return amount


def _rate(value: Amount, what: str) -> Decimal:
    try:
        return parse_rate(value)
    except AmountError as exc:
        raise SeedError(f"{what}: {exc}") from exc


def _taxes(seeds: list[TaxSeed], taxable: Decimal, what: str) -> list[TaxLine]:
    """Tax lines; a missing ``price`` is ``taxable × rate`` half-up."""
    taxes = []
    for seed in seeds:
        rate = _rate(seed.rate, f"{what} tax rate")
        price = (
            to_cent(taxable * rate)
            if seed.price is None
            else _amount(seed.price, f"{what} tax price")
        )
        taxes.append(TaxLine(title=seed.title, rate=rate, price=price))
    return taxes


def _line(seed: LineSeed, *, ids: Ids, applications: int) -> LineItem:
    price = _amount(seed.price, f"line {seed.sku} price")
    allocations = []
    for alloc in seed.discount_allocations:
        if alloc.discount_application_index >= applications:
            raise SeedError(
                f"line {seed.sku}: no discount application {alloc.discount_application_index}"
            )
        allocations.append(
            DiscountAllocation(
                amount=_amount(alloc.amount, f"line {seed.sku} discount"),
                application_index=alloc.discount_application_index,
            )
        )
    discount = sum((a.amount for a in allocations), ZERO)
    gross = price * seed.quantity
    if discount > gross:
        raise SeedError(f"line {seed.sku}: discounts exceed the line")
    fulfilled = seed.quantity if seed.fulfilled is None else seed.fulfilled
    if fulfilled > seed.quantity:
        raise SeedError(f"line {seed.sku}: fulfilled exceeds quantity")
    return LineItem(
        id=ids.next("line_item"),
        product_id=seed.product_id or ids.next("product"),
        variant_id=seed.variant_id or ids.next("variant"),
        sku=seed.sku,
        title=seed.title,
        variant_title=seed.variant_title,
        quantity=seed.quantity,
        price=price,
        tax_lines=_taxes(seed.tax_lines, gross - discount, f"line {seed.sku}"),
        discount_allocations=allocations,
        fulfilled=fulfilled,
    )


def build_order(seed: OrderSeed, *, store: Store, ids: Ids, now: datetime) -> Order:
    """An order from its compact seed (see ``docs/sandbox-shopline.md``)."""
    if seed.id is not None and seed.id in store.orders:
        raise SeedError(f"order {seed.id} exists")
    created = seed.created_at or now
    if created.tzinfo is None:
        raise SeedError("created_at needs an offset")
    applications = [
        DiscountApplication(
            code=d.code,
            title=d.title or d.code or "Discount",
            value=str(_amount(d.value, "discount value")),
            value_type=d.value_type,
            target_type=d.target_type,
            allocation_method=d.allocation_method,
        )
        for d in seed.discount_applications
    ]
    lines = [_line(line, ids=ids, applications=len(applications)) for line in seed.line_items]
    shipping = []
    for ship in seed.shipping_lines:
        price = _amount(ship.price, "shipping price")
        shipping.append(
            ShippingLine(
                title=ship.title,
                code=ship.code or ship.title,
                price=price,
                tax_lines=_taxes(ship.tax_lines, price, "shipping"),
            )
        )
    order_id = seed.id or ids.next("order")
    if seed.name is None:
        name = f"#{store.next_order_number}"
        store.next_order_number += 1
    else:
        name = seed.name
    order = Order(
        id=order_id,
        name=name,
        email=seed.email,
        customer_id=ids.next("customer"),
        currency=store.currency,
        presentment_currency=seed.presentment_currency or store.currency,
        exchange_rate=_rate(seed.exchange_rate, "exchange_rate"),
        created_at=created,
        updated_at=created,
        status=seed.status,
        cancelled_at=created if seed.status == "cancelled" else None,
        line_items=lines,
        shipping_lines=shipping,
        discount_applications=applications,
        payments=[],
        fulfillments=[],
    )
    payments = seed.payments
    if payments is None:
        payments = [PaymentSeed(amount=str(order.total))]
    for payment in payments:
        order.payments.append(
            PaymentSlip(
                id=ids.next("payment"),
                gateway=payment.gateway,
                amount=_amount(payment.amount, "payment amount"),
                created_at=created,
            )
        )
    if order.paid > order.total:
        raise SeedError(f"payments {order.paid} exceed the order total {order.total}")
    shipped = [FulfillmentLine(line.id, line.fulfilled) for line in lines if line.fulfilled]
    if shipped:
        order.fulfillments.append(
            Fulfillment(id=ids.next("fulfillment"), created_at=created, lines=shipped)
        )
    return order
