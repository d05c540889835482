"""The Loop sandbox's world: shops (one per API key), their Shopify orders as Loop sees
them, draft returns, returns with their notes, and the signed webhooks it sends.

Money is Decimal, written as strings with two decimals on the wire, as Loop does. All state
is behind one re-entrant lock; the clock is injectable (seconds, like `time.time`).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from returnbridge.sandbox.common.faults import FaultQueue
from returnbridge.sandbox.common.journal import Journal

CENT = Decimal("0.01")
FaultKind = Literal["rate_limit", "server_error", "timeout_after_commit", "processing_failed"]
States = ("open", "closed", "cancelled", "expired", "review")


def money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


@dataclass
class OrderLine:
    id: int
    sku: str
    title: str
    quantity: int
    price: Decimal
    """Unit price."""
    tax: Decimal = Decimal(0)
    """Tax of the whole line (all units)."""
    discount: Decimal = Decimal(0)
    """Discount of the whole line (all units)."""


@dataclass
class Order:
    name: str
    provider_order_id: int
    email: str
    zip: str
    currency: str
    lines: list[OrderLine]


@dataclass
class ReturnLine:
    id: int
    line: OrderLine
    quantity: int
    reason: str | None

    def share(self, whole: Decimal) -> Decimal:
        return (whole * self.quantity / self.line.quantity).quantize(CENT, ROUND_HALF_UP)


@dataclass
class Note:
    id: int
    content: str
    created_at: float


@dataclass
class LoopReturn:
    id: int
    shop: str
    order: Order
    lines: list[ReturnLine]
    created_at: float
    updated_at: float
    state: str = "open"
    refund: Decimal | None = None
    notes: list[Note] = field(default_factory=list)
    processing_due: float | None = None

    @property
    def product_total(self) -> Decimal:
        return sum((ln.line.price * ln.quantity for ln in self.lines), Decimal(0))

    @property
    def discount_total(self) -> Decimal:
        return sum((ln.share(ln.line.discount) for ln in self.lines), Decimal(0))

    @property
    def tax_total(self) -> Decimal:
        return sum((ln.share(ln.line.tax) for ln in self.lines), Decimal(0))

    @property
    def total(self) -> Decimal:
        return self.product_total - self.discount_total + self.tax_total


@dataclass
class Draft:
    id: int
    shop: str
    order: Order
    is_gift: bool
    lines: list[ReturnLine] = field(default_factory=list)
    state: str = "draft"
    return_id: int | None = None


@dataclass
class Webhook:
    url: str
    secret: str


@dataclass
class Delivery:
    id: int
    shop: str
    trigger: str
    return_id: int
    body: bytes
    signature: str
    url: str
    dropped: bool
    status_code: int | None = None
    error: str | None = None


@dataclass
class Shop:
    name: str
    api_key: str
    currency: str
    auto_process_seconds: float | None
    orders: dict[str, Order] = field(default_factory=dict)
    webhooks: list[Webhook] = field(default_factory=list)
    unavailable: set[str] = field(default_factory=set)
    drop_webhooks: int = 0
    window_start: float = 0.0
    window_count: int = 0


@dataclass(frozen=True)
class JournalEntry:
    seq: int
    shop: str | None
    operation: str
    method: str
    path: str
    status: int


class LoopSimulator:
    """Every shop's state, the fault queue, the request journal and the webhook log."""

    RATE_LIMIT = 300
    WINDOW = 60.0

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.shops: dict[str, Shop] = {}
        self.returns: dict[int, LoopReturn] = {}
        self.drafts: dict[int, Draft] = {}
        self.deliveries: list[Delivery] = []
        self.faults: FaultQueue[FaultKind] = FaultQueue(FaultKind, scope="shop")
        self.journal: Journal[JournalEntry] = Journal(JournalEntry, scope="shop")
        self._ids = itertools.count(40_000_001)
        self._line_ids = itertools.count(900_001)
        self._delivery_ids = itertools.count(1)
        self.sender: Callable[[Delivery], None] = lambda delivery: None

    def now_iso(self, at: float | None = None) -> str:
        stamp = self.clock() if at is None else at
        return datetime.fromtimestamp(stamp, tz=UTC).isoformat().replace("+00:00", "Z")

    def next_id(self) -> int:
        return next(self._ids)

    def next_line_id(self) -> int:
        return next(self._line_ids)

    def shop_by_key(self, api_key: str | None) -> Shop | None:
        if not api_key:
            return None
        return next((s for s in self.shops.values() if s.api_key == api_key), None)

    def reset(self) -> None:
        with self.lock:
            self.shops.clear()
            self.returns.clear()
            self.drafts.clear()
            self.deliveries.clear()
            self.faults.clear()
            self.journal.clear()

    def allow(self, shop: Shop) -> bool:
        """One more request in this key's minute, or False (over 300)."""
        now = self.clock()
        if now - shop.window_start >= self.WINDOW:
            shop.window_start, shop.window_count = now, 0
        shop.window_count += 1
        return shop.window_count <= self.RATE_LIMIT

    def emit(self, loop_return: LoopReturn, trigger: str, payload: bytes, sign: Any) -> None:
        """Record and send (unless dropped) the webhook for `trigger` to every endpoint."""
        shop = self.shops[loop_return.shop]
        for hook in shop.webhooks:
            dropped = shop.drop_webhooks > 0
            if dropped:
                shop.drop_webhooks -= 1
            delivery = Delivery(
                next(self._delivery_ids),
                shop.name,
                trigger,
                loop_return.id,
                payload,
                sign(hook.secret, payload),
                hook.url,
                dropped,
            )
            self.deliveries.append(delivery)
            if not dropped:
                self.sender(delivery)

    def due_processing(self) -> list[LoopReturn]:
        now = self.clock()
        return [
            r
            for r in self.returns.values()
            if r.processing_due is not None and r.processing_due <= now
        ]
