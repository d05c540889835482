"""The simulated stores: orders, order products, shipping addresses, refunds and stock."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from returnbridge.sandbox.bigcommerce.money import share

STATUS_NAMES = {
    0: "Incomplete",
    1: "Pending",
    2: "Shipped",
    3: "Partially Shipped",
    4: "Refunded",
    5: "Cancelled",
    6: "Declined",
    7: "Awaiting Payment",
    8: "Awaiting Pickup",
    9: "Awaiting Shipment",
    10: "Completed",
    11: "Awaiting Fulfillment",
    12: "Manual Verification Required",
    13: "Disputed",
    14: "Partially Refunded",
}
REFUNDED = 4
PARTIALLY_REFUNDED = 14


def parse_id(raw: str) -> int | None:
    """An id from a path segment; None when it is not a positive integer (then 404)."""
    return int(raw) if raw.isascii() and raw.isdigit() and int(raw) > 0 else None


@dataclass(frozen=True)
class AppliedDiscount:
    """A discount on one order product (a coupon or manual discount allocated to it)."""

    id: str
    name: str
    code: str | None
    amount_cents: int
    target: str


@dataclass
class OrderProduct:
    """One order line; ``id`` is the order product id refunds name as ``item_id``."""

    id: int
    product_id: int
    variant_id: int
    order_address_id: int
    name: str
    sku: str
    quantity: int
    price_ex_tax: int
    price_inc_tax: int
    quantity_refunded: int = 0
    refunded_cents: int = 0
    discounts: list[AppliedDiscount] = field(default_factory=list)
    tax_cents: int | None = None
    """The line's tax after discounts; None: ``(price_inc_tax - price_ex_tax) * quantity``."""

    @property
    def price_tax(self) -> int:
        """Tax per unit before discounts, in cents."""
        return self.price_inc_tax - self.price_ex_tax

    @property
    def discount_cents(self) -> int:
        """Every discount applied to the line, in cents."""
        return sum(d.amount_cents for d in self.discounts)

    @property
    def line_tax(self) -> int:
        """The line's tax, in cents."""
        return self.price_tax * self.quantity if self.tax_cents is None else self.tax_cents

    def tax_of(self, units: int) -> int:
        """Tax of the first ``units`` units (pro rata, half-up; all of it for every unit)."""
        return share(self.line_tax, units, self.quantity)

    def net_of(self, units: int) -> int:
        """What the first ``units`` units cost, discounts off, tax on: a refund of units
        ``[a, b)`` is ``net_of(b) - net_of(a)``, so refunds add up to the line exactly."""
        discount = share(self.discount_cents, units, self.quantity)
        return self.price_ex_tax * units - discount + self.tax_of(units)


@dataclass
class ShippingAddress:
    """An order address (consignment); its ``id`` is the SHIPPING refund ``item_id``."""

    id: int
    first_name: str
    last_name: str
    email: str
    country_iso2: str
    shipping_method: str
    cost_ex_tax: int
    cost_inc_tax: int
    refunded_cents: int = 0
    zip: str = "94105"


@dataclass
class RefundLine:
    """One refunded item as the refund records it."""

    item_type: str
    item_id: int
    quantity: int | None
    requested_cents: int | None
    reason: str | None


@dataclass
class RefundPayment:
    """One payment of a refund."""

    id: int
    provider_id: str
    amount_cents: int
    offline: bool


@dataclass
class Refund:
    """A committed refund (payment actions are accepted, never declined, in the sandbox)."""

    id: int
    order_id: int
    created: str
    reason: str
    total_cents: int
    tax_cents: int
    items: list[RefundLine]
    payments: list[RefundPayment]


@dataclass
class Order:
    """An order with its lines, addresses, payment and refunds."""

    id: int
    customer_id: int
    email: str
    status_id: int
    currency_code: str
    payment_method: str
    payment_provider_id: str
    date_created: str
    date_modified: str
    products: list[OrderProduct]
    addresses: list[ShippingAddress]
    refunds: list[Refund] = field(default_factory=list)
    refund_in_progress: bool = False
    is_tax_inclusive_pricing: bool = False
    coupon_discount: int = 0
    discount_amount: int = 0

    @property
    def total_inc_tax(self) -> int:
        """Products (discounts off, tax on) plus shipping with its tax, in cents."""
        lines = sum(p.net_of(p.quantity) for p in self.products)
        return lines + sum(a.cost_inc_tax for a in self.addresses)

    @property
    def total_ex_tax(self) -> int:
        """Products (discounts off) plus shipping, tax excluded, in cents."""
        lines = sum(p.price_ex_tax * p.quantity - p.discount_cents for p in self.products)
        return lines + sum(a.cost_ex_tax for a in self.addresses)

    @property
    def refunded_cents(self) -> int:
        """Everything refunded so far."""
        return sum(r.total_cents for r in self.refunds)

    def product(self, item_id: int) -> OrderProduct | None:
        """The order product with this id."""
        return next((p for p in self.products if p.id == item_id), None)

    def address(self, item_id: int) -> ShippingAddress | None:
        """The order address with this id."""
        return next((a for a in self.addresses if a.id == item_id), None)


@dataclass
class InventoryLocation:
    """An inventory location (``GET /v3/inventory/locations``)."""

    id: int
    code: str
    label: str
    enabled: bool = True


@dataclass
class Adjustment:
    """One accepted inventory adjustment: its transaction id, reason and (location, sku, delta)."""

    transaction_id: str
    reason: str | None
    items: list[tuple[int, str, int]]


@dataclass
class Store:
    """One store: hash, token, rate quota, orders, locations, stock per location and SKU,
    inventory adjustments and the webhook deliveries made for it."""

    store_hash: str
    access_token: str
    rate_quota: int
    rate_window_seconds: float
    client_secret: str = "sandbox-client-secret"  # noqa: S105 - a sandbox default, not a secret
    store_id: str = "1001"
    orders: dict[int, Order] = field(default_factory=dict)
    locations: dict[int, InventoryLocation] = field(default_factory=dict)
    stock: dict[int, dict[str, int]] = field(default_factory=dict)
    adjustments: list[Adjustment] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    def level(self, location_id: int, sku: str) -> int:
        """Units of ``sku`` on hand at a location (0 when never set)."""
        return self.stock.get(location_id, {}).get(sku, 0)

    def sku_of(self, *, variant_id: int | None = None, product_id: int | None = None) -> str | None:
        """The SKU a catalog id stands for, learnt from the store's ordered products."""
        for order in self.orders.values():
            for product in order.products:
                if variant_id and product.variant_id == variant_id:
                    return product.sku
                if product_id is not None and product.product_id == product_id:
                    return product.sku
        return None


class Ids:
    """Store-wide increasing ids, per kind, like BigCommerce's integer ids."""

    def __init__(self) -> None:
        self._counters: dict[str, itertools.count[int]] = {}

    def next(self, kind: str, start: int = 100) -> int:
        """The next id of a kind."""
        counter = self._counters.setdefault(kind, itertools.count(start))
        return next(counter)


@dataclass
class World:
    """All stores, guarded by one re-entrant lock."""

    stores: dict[str, Store] = field(default_factory=dict)
    ids: Ids = field(default_factory=Ids)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def reset(self) -> None:
        """Forget every store (ids keep growing)."""
        with self.lock:
            self.stores.clear()
