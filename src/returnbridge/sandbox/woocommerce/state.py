"""The simulated stores: orders, their items and refunds, and product stock."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

KeyPermission = Literal["read", "write", "read_write"]


@dataclass
class Tax:
    """A tax amount charged by one tax rate on one item."""

    rate_id: int
    total: int
    subtotal: int


@dataclass
class LineItem:
    """A product line; ``subtotal`` is before discounts, ``total`` after, both excluding tax."""

    id: int
    product_id: int
    sku: str | None
    name: str
    quantity: int
    subtotal: int
    total: int
    taxes: list[Tax]

    @property
    def total_tax(self) -> int:
        """Tax charged on the line."""
        return sum(t.total for t in self.taxes)


@dataclass
class ChargeLine:
    """A shipping line (``method_id``) or a fee line (``name``): a total plus taxes."""

    id: int
    kind: Literal["shipping", "fee"]
    name: str
    method_id: str | None
    total: int
    taxes: list[Tax]

    @property
    def total_tax(self) -> int:
        """Tax charged on the line."""
        return sum(t.total for t in self.taxes)


@dataclass
class Coupon:
    """A coupon line: the code and the discount it gave (excluding tax)."""

    id: int
    code: str
    discount: int


@dataclass
class RefundedItem:
    """What a refund gave back for one order item (positive amounts)."""

    id: int
    item_id: int
    quantity: int
    total: int
    taxes: dict[int, int]

    @property
    def total_tax(self) -> int:
        """Tax refunded on the item."""
        return sum(self.taxes.values())


@dataclass
class Refund:
    """A ``shop_order_refund``: ``amount`` is what was refunded, positive."""

    id: int
    order_id: int
    date_created: str
    amount: int
    reason: str | None
    refunded_by: int
    refunded_payment: bool
    meta_data: list[dict[str, Any]]
    items: list[RefundedItem]


@dataclass
class Order:
    """A ``shop_order`` with everything a refund touches."""

    id: int
    number: str
    status: str
    currency: str
    date_created: str
    date_modified: str
    prices_include_tax: bool
    customer_id: int
    billing: dict[str, str]
    payment_method: str
    payment_method_title: str
    gateway_refunds: bool
    transaction_id: str
    line_items: list[LineItem]
    shipping_lines: list[ChargeLine]
    fee_lines: list[ChargeLine]
    refunds: list[Refund] = field(default_factory=list)
    tax_rates: dict[int, tuple[str, str | None]] = field(default_factory=dict)
    """Label and rate code per tax rate id (``tax_lines``); unnamed rates are "Tax"."""
    coupon_lines: list[Coupon] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Grand total, taxes included."""
        lines = sum(li.total + li.total_tax for li in self.line_items)
        charges = sum(c.total + c.total_tax for c in self.shipping_lines + self.fee_lines)
        return lines + charges

    @property
    def total_tax(self) -> int:
        """All tax on the order."""
        items: list[LineItem | ChargeLine] = [*self.line_items, *self.shipping_lines]
        return sum(i.total_tax for i in [*items, *self.fee_lines])

    @property
    def refunded(self) -> int:
        """Sum of refund amounts."""
        return sum(r.amount for r in self.refunds)

    @property
    def remaining_refundable(self) -> int:
        """What a new refund may still give back."""
        return self.total - self.refunded

    def item(self, item_id: int) -> LineItem | ChargeLine | None:
        """The product, shipping or fee item with this id."""
        items: list[LineItem | ChargeLine] = [*self.line_items, *self.shipping_lines]
        for item in [*items, *self.fee_lines]:
            if item.id == item_id:
                return item
        return None

    def refunded_quantity(self, item_id: int) -> int:
        """Units of an item already refunded."""
        return sum(ri.quantity for r in self.refunds for ri in r.items if ri.item_id == item_id)


@dataclass(frozen=True)
class ApiKey:
    """A REST API key of a site: each carries its own permission."""

    consumer_key: str
    consumer_secret: str
    permissions: KeyPermission
    key_id: int = 0
    description: str = ""


@dataclass
class Store:
    """One WooCommerce site, reached with its REST API key (or one issued since)."""

    name: str
    consumer_key: str
    consumer_secret: str
    permissions: KeyPermission
    user_id: int
    orders: dict[int, Order] = field(default_factory=dict)
    stock: dict[int, int] = field(default_factory=dict)
    """Stock quantity per product id, for products that manage stock."""
    used_nonces: set[str] = field(default_factory=set)
    """OAuth 1.0a nonces already seen with this store's key."""
    issued_keys: dict[str, ApiKey] = field(default_factory=dict)
    """Keys created since seeding (``key_delivery.py``), by consumer key."""

    def api_key(self, consumer_key: str) -> ApiKey | None:
        """The store's key with this consumer key: the seeded one or an issued one."""
        if consumer_key == self.consumer_key:
            return ApiKey(self.consumer_key, self.consumer_secret, self.permissions)
        return self.issued_keys.get(consumer_key)


class Ids:
    """One id sequence shared by orders, items and refunds (posts share one table in WP)."""

    def __init__(self, start: int = 100) -> None:
        self._counter = itertools.count(start)

    def next(self) -> int:
        """A fresh id."""
        return next(self._counter)


@dataclass
class World:
    """All stores; guard every read and write with ``lock``."""

    stores: dict[str, Store] = field(default_factory=dict)
    ids: Ids = field(default_factory=Ids)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def store_for_key(self, consumer_key: str | None) -> Store | None:
        """The store whose API key this is."""
        if not consumer_key:
            return None
        for store in self.stores.values():
            if store.api_key(consumer_key) is not None:
                return store
        return None

    def reset(self) -> None:
        """Forget every store and restart ids."""
        self.stores.clear()
        self.ids = Ids()
