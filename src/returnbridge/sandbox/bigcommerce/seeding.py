"""Control-surface payloads that create stores and orders; amounts are decimal strings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from returnbridge.sandbox.bigcommerce.money import AmountError, parse_cents
from returnbridge.sandbox.bigcommerce.state import (
    STATUS_NAMES,
    AppliedDiscount,
    Ids,
    InventoryLocation,
    Order,
    OrderProduct,
    ShippingAddress,
    Store,
)

DEFAULT_QUOTA = 150
DEFAULT_WINDOW_SECONDS = 30.0


class SeedError(ValueError):
    """A seed the sandbox cannot build."""


class Seed(BaseModel):
    """Base of control payloads: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class LocationSeed(Seed):
    """An inventory location of a store."""

    id: int = Field(ge=1)
    label: str
    code: str | None = None
    enabled: bool = True


DEFAULT_LOCATIONS = (LocationSeed(id=1, label="Default location", code="BC-LOCATION-1"),)


class StoreSeed(Seed):
    """``POST /_sandbox/stores``; ``client_secret`` signs the store's webhook deliveries."""

    store_hash: str = Field(min_length=1, pattern=r"^[a-z0-9]+$")
    access_token: str = Field(min_length=1)
    rate_quota: int = Field(default=DEFAULT_QUOTA, ge=1)
    rate_window_seconds: float = Field(default=DEFAULT_WINDOW_SECONDS, gt=0)
    client_secret: str = Field(default="sandbox-client-secret", min_length=1)
    store_id: str = "1001"
    locations: list[LocationSeed] = Field(
        default_factory=lambda: list(DEFAULT_LOCATIONS), min_length=1
    )


class DiscountSeed(Seed):
    """A discount applied to an ordered product: its amount for the whole line."""

    amount: str
    code: str | None = None
    name: str | None = None
    id: str | None = None
    target: Literal["order", "product"] = "order"


class ProductSeed(Seed):
    """An ordered product (unit prices); ``total_tax`` is the line's tax after discounts
    (default: ``(price_inc_tax - price_ex_tax) * quantity``)."""

    product_id: int
    variant_id: int = 0
    name: str
    sku: str
    quantity: int = Field(ge=1)
    price_ex_tax: str
    price_inc_tax: str | None = None
    applied_discounts: list[DiscountSeed] = Field(default_factory=list)
    total_tax: str | None = None


class ShippingSeed(Seed):
    """The order's one shipping address and its cost."""

    first_name: str = "Jane"
    last_name: str = "Doe"
    country_iso2: str = "US"
    zip: str = "94105"
    shipping_method: str = "Flat Rate"
    cost_ex_tax: str = "0"
    cost_inc_tax: str | None = None


class OrderSeed(Seed):
    """``POST /_sandbox/stores/{store_hash}/orders``."""

    id: int | None = None
    customer_id: int = 0
    email: str
    status_id: int = 11
    currency_code: str = "USD"
    payment_method: str = "Credit Card"
    payment_provider_id: str = "braintree"
    date_created: str = "Tue, 05 Mar 2026 21:40:11 +0000"
    is_tax_inclusive_pricing: bool = False
    coupon_discount: str = "0"
    discount_amount: str = "0"
    products: list[ProductSeed] = Field(min_length=1)
    shipping: ShippingSeed = Field(default_factory=ShippingSeed)


class StockSeed(Seed):
    """``POST /_sandbox/stores/{store_hash}/stock``: set the stock of a SKU at a location."""

    sku: str
    level: int
    location_id: int = 1


def _cents(value: str, name: str) -> int:
    try:
        cents = parse_cents(value)
    except AmountError as exc:
        raise SeedError(f"{name}: {exc}") from exc
    if cents < 0:
        raise SeedError(f"{name} must not be negative")
    return cents


def build_store(seed: StoreSeed) -> Store:
    """A new, empty store."""
    return Store(
        store_hash=seed.store_hash,
        access_token=seed.access_token,
        rate_quota=seed.rate_quota,
        rate_window_seconds=seed.rate_window_seconds,
        client_secret=seed.client_secret,
        store_id=seed.store_id,
        locations={
            loc.id: InventoryLocation(
                id=loc.id,
                code=loc.code or f"LOCATION-{loc.id}",
                label=loc.label,
                enabled=loc.enabled,
            )
            for loc in seed.locations
        },
    )


def build_order(seed: OrderSeed, *, store: Store, ids: Ids) -> Order:
    """An order built from a seed, with fresh product and address ids."""
    if seed.status_id not in STATUS_NAMES:
        raise SeedError(f"unknown status_id {seed.status_id}")
    order_id = seed.id if seed.id is not None else ids.next("order", 100)
    if order_id in store.orders:
        raise SeedError(f"order {order_id} exists")
    shipping = seed.shipping
    ship_ex = _cents(shipping.cost_ex_tax, "shipping.cost_ex_tax")
    ship_inc = _cents(shipping.cost_inc_tax or shipping.cost_ex_tax, "shipping.cost_inc_tax")
    if ship_inc < ship_ex:
        raise SeedError("shipping.cost_inc_tax is below cost_ex_tax")
    address = ShippingAddress(
        id=ids.next("address", 10),
        first_name=shipping.first_name,
        last_name=shipping.last_name,
        email=seed.email,
        country_iso2=shipping.country_iso2,
        zip=shipping.zip,
        shipping_method=shipping.shipping_method,
        cost_ex_tax=ship_ex,
        cost_inc_tax=ship_inc,
    )
    products = []
    for index, item in enumerate(seed.products):
        ex = _cents(item.price_ex_tax, f"products[{index}].price_ex_tax")
        inc = _cents(item.price_inc_tax or item.price_ex_tax, f"products[{index}].price_inc_tax")
        if inc < ex:
            raise SeedError(f"products[{index}].price_inc_tax is below price_ex_tax")
        discounts = [
            AppliedDiscount(
                id=d.id or (d.code or "manual-discount"),
                name=d.name or (f"Coupon {d.code}" if d.code else "Manual Discount"),
                code=d.code,
                amount_cents=_cents(d.amount, f"products[{index}].applied_discounts.amount"),
                target=d.target,
            )
            for d in item.applied_discounts
        ]
        if sum(d.amount_cents for d in discounts) > ex * item.quantity:
            raise SeedError(f"products[{index}]: discounts exceed the line")
        tax = (
            None
            if item.total_tax is None
            else _cents(item.total_tax, f"products[{index}].total_tax")
        )
        products.append(
            OrderProduct(
                id=ids.next("order_product", 50),
                product_id=item.product_id,
                variant_id=item.variant_id,
                order_address_id=address.id,
                name=item.name,
                sku=item.sku,
                quantity=item.quantity,
                price_ex_tax=ex,
                price_inc_tax=inc,
                discounts=discounts,
                tax_cents=tax,
            )
        )
    return Order(
        id=order_id,
        customer_id=seed.customer_id,
        email=seed.email,
        status_id=seed.status_id,
        currency_code=seed.currency_code,
        payment_method=seed.payment_method,
        payment_provider_id=seed.payment_provider_id,
        date_created=seed.date_created,
        date_modified=seed.date_created,
        products=products,
        addresses=[address],
        is_tax_inclusive_pricing=seed.is_tax_inclusive_pricing,
        coupon_discount=_cents(seed.coupon_discount, "coupon_discount"),
        discount_amount=_cents(seed.discount_amount, "discount_amount"),
    )
