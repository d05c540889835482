"""The Loop sandbox's world: shops (each with its API keys), their Shopify orders as Loop sees
them, draft returns, returns with their notes, webhook subscriptions and deliveries.

Amounts are ``Decimal``; instants are the sandbox clock's seconds (like ``time.time``). The
whole world is behind one re-entrant lock.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from returnbridge.sandbox.loop.money import ZERO, cents

ReturnState = Literal["open", "closed", "cancelled", "expired", "review"]
RETURN_STATES: tuple[ReturnState, ...] = ("open", "closed", "cancelled", "expired", "review")
DraftState = Literal["created", "submitted"]


@dataclass(frozen=True)
class OrderLine:
    """A Shopify line item: ``price`` per unit; ``tax`` and ``discount`` of the whole line."""

    id: int
    sku: str
    title: str
    quantity: int
    price: Decimal
    tax: Decimal = ZERO
    discount: Decimal = ZERO


@dataclass(frozen=True)
class Order:
    """A Shopify order as Loop reads it; ``loop_id`` is Loop's own order id."""

    name: str
    provider_order_id: int
    loop_id: int
    email: str
    zip: str
    phone: str | None
    currency: str
    lines: tuple[OrderLine, ...]

    def line(self, line_id: object) -> OrderLine | None:
        """The line with Shopify id ``line_id`` (number or numeric string)."""
        return next((ln for ln in self.lines if str(ln.id) == str(line_id)), None)


@dataclass(frozen=True)
class ReturnLine:
    """Units of one order line in a draft or a return; ``id`` is Loop's return line id."""

    id: int
    line: OrderLine
    quantity: int
    reason: str | None

    def share(self, whole: Decimal) -> Decimal:
        """These units' part of a whole-line amount, to the cent."""
        return cents(whole * self.quantity / self.line.quantity)


@dataclass(frozen=True)
class Note:
    id: int
    content: str
    created_at: float


@dataclass
class LoopReturn:
    """A return. ``processing_due`` is set while a processing is queued."""

    id: int
    shop: str
    order: Order
    lines: list[ReturnLine]
    created_at: float
    updated_at: float
    state: ReturnState = "open"
    refund: Decimal | None = None
    notes: list[Note] = field(default_factory=list)
    processing_due: float | None = None

    @property
    def product_total(self) -> Decimal:
        return sum((ln.line.price * ln.quantity for ln in self.lines), ZERO)

    @property
    def discount_total(self) -> Decimal:
        return sum((ln.share(ln.line.discount) for ln in self.lines), ZERO)

    @property
    def tax_total(self) -> Decimal:
        return sum((ln.share(ln.line.tax) for ln in self.lines), ZERO)

    @property
    def total(self) -> Decimal:
        """What processing refunds: products − discounts + tax."""
        return self.product_total - self.discount_total + self.tax_total


@dataclass
class Draft:
    """A draft return (Return Create API)."""

    id: int
    shop: str
    order: Order
    is_gift: bool
    secondary_input: str
    lines: list[ReturnLine] = field(default_factory=list)
    state: DraftState = "created"
    return_id: int | None = None


@dataclass
class Webhook:
    """A subscription: ``triggers`` None means every trigger (control-surface endpoints)."""

    id: int
    url: str
    secret: str
    topic: str = "return"
    triggers: frozenset[str] | None = None
    status: Literal["active", "inactive"] = "active"

    def wants(self, trigger: str) -> bool:
        return self.status == "active" and (self.triggers is None or trigger in self.triggers)


@dataclass
class Delivery:
    """One webhook POST: recorded always, sent unless ``dropped``."""

    id: int
    shop: str
    webhook_id: int
    trigger: str
    return_id: int
    url: str
    body: bytes
    signature: str
    dropped: bool
    at: float
    attempts: int = 0
    status_code: int | None = None
    error: str | None = None


@dataclass
class Shop:
    """A Loop merchant: keys, settings, Shopify orders, subscriptions."""

    name: str
    shop_id: int
    api_keys: tuple[str, ...]
    currency: str
    auto_process_seconds: float | None
    webhook_secret: str
    retry_after: bool = False
    orders: dict[str, Order] = field(default_factory=dict)
    webhooks: list[Webhook] = field(default_factory=list)
    unavailable_orders: set[str] = field(default_factory=set)
    unavailable_zips: set[str] = field(default_factory=set)
    drop_webhooks: int = 0

    def find_order(self, name: str) -> Order | None:
        """The order by Shopify name, with or without its ``#``."""
        bare = name.strip().lstrip("#")
        return self.orders.get(name) or self.orders.get("#" + bare) or self.orders.get(bare)

    def covers(self, order: Order) -> bool:
        """Whether a return policy covers the order (its name and postal code)."""
        return order.name not in self.unavailable_orders and order.zip not in self.unavailable_zips


class World:
    """Every shop, draft, return and delivery; ids from shared counters."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.shops: dict[str, Shop] = {}
        self.drafts: dict[int, Draft] = {}
        self.returns: dict[int, LoopReturn] = {}
        self.deliveries: list[Delivery] = []
        self._ids = itertools.count(40_000_001)
        self._small_ids = itertools.count(900_001)

    def next_id(self) -> int:
        """A draft, return or order id."""
        return next(self._ids)

    def next_small_id(self) -> int:
        """A return line, note, webhook or delivery id."""
        return next(self._small_ids)

    def shop_by_key(self, api_key: str | None) -> Shop | None:
        if not api_key:
            return None
        return next((s for s in self.shops.values() if api_key in s.api_keys), None)

    def returned_units(self, order: Order, line: OrderLine) -> int:
        """Units of ``line`` in the order's returns, cancelled ones excepted (they free them)."""
        return sum(
            rl.quantity
            for r in self.returns.values()
            if r.order is order and r.state != "cancelled"
            for rl in r.lines
            if rl.line is line
        )

    def reset(self) -> None:
        with self.lock:
            self.shops.clear()
            self.drafts.clear()
            self.returns.clear()
            self.deliveries.clear()
