"""The simulated stores: orders with their lines, payments, fulfillments, refunds and returns,
locations and stock. Amounts are ``Decimal`` in the store's settlement currency."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from returnbridge.sandbox.shopline.money import ZERO, share

PINNED_VERSION = "v20251201"
LineType = Literal["Unshipped", "Returned"]
LINE_TYPES: tuple[LineType, ...] = ("Unshipped", "Returned")
SignatureEncoding = Literal["hex", "base64"]


def timestamp(moment: datetime) -> str:
    """ISO 8601 with offset, to the second (``2026-03-05T21:40:11+00:00``)."""
    return moment.isoformat(timespec="seconds")


@dataclass(frozen=True)
class TaxLine:
    """A tax on a line or on shipping; ``price`` is the total tax of the whole line."""

    title: str
    rate: Decimal
    price: Decimal


@dataclass(frozen=True)
class DiscountAllocation:
    """The part of a discount application falling on one line (a line total)."""

    amount: Decimal
    application_index: int


@dataclass(frozen=True)
class DiscountApplication:
    """An order discount (code or automatic), as listed on the order."""

    code: str | None
    title: str
    value: str
    value_type: str
    target_type: str
    allocation_method: str


@dataclass
class LineItem:
    """One order line: ``price`` per unit before discounts; taxes and discounts as line totals.

    ``fulfilled`` units were shipped; refunds draw ``Unshipped`` units from the rest and
    ``Returned`` units from the shipped ones.
    """

    id: str
    product_id: str
    variant_id: str
    sku: str
    title: str
    variant_title: str | None
    quantity: int
    price: Decimal
    tax_lines: list[TaxLine]
    discount_allocations: list[DiscountAllocation]
    fulfilled: int
    refunded: dict[LineType, int] = field(default_factory=lambda: {"Unshipped": 0, "Returned": 0})

    @property
    def discount_total(self) -> Decimal:
        """Every discount on the line."""
        return sum((d.amount for d in self.discount_allocations), ZERO)

    @property
    def tax_total(self) -> Decimal:
        """Every tax on the line."""
        return sum((t.price for t in self.tax_lines), ZERO)

    @property
    def refunded_units(self) -> int:
        """Units refunded so far, of both types."""
        return sum(self.refunded.values())

    @property
    def fulfillable_quantity(self) -> int:
        """Units neither shipped nor refunded as unshipped."""
        return self.quantity - self.fulfilled - self.refunded["Unshipped"]

    def refundable(self, line_type: LineType) -> int:
        """Units a refund of ``line_type`` may still take."""
        if line_type == "Unshipped":
            return self.fulfillable_quantity
        return self.fulfilled - self.refunded["Returned"]

    def discount_of(self, units: int) -> Decimal:
        """The discount share of the first ``units`` units (half-up to the cent)."""
        return share(self.discount_total, units, self.quantity)

    def tax_of(self, units: int) -> Decimal:
        """The tax share of the first ``units`` units, tax line by tax line."""
        return sum((share(t.price, units, self.quantity) for t in self.tax_lines), ZERO)


@dataclass
class ShippingLine:
    """A shipping charge (tax-exclusive ``price``) with its taxes."""

    title: str
    code: str
    price: Decimal
    tax_lines: list[TaxLine]

    @property
    def tax_total(self) -> Decimal:
        """Every tax on this shipping line."""
        return sum((t.price for t in self.tax_lines), ZERO)


@dataclass
class PaymentSlip:
    """A payment of the order (SHOPLINE's payment slip, id ``230…``)."""

    id: str
    gateway: str
    amount: Decimal
    created_at: datetime
    refunded: Decimal = ZERO

    @property
    def maximum_refundable(self) -> Decimal:
        """What refunds may still take from this payment."""
        return self.amount - self.refunded


@dataclass(frozen=True)
class FulfillmentLine:
    """Units of one line in a fulfillment."""

    line_item_id: str
    quantity: int


@dataclass
class Fulfillment:
    """A shipment of some units."""

    id: str
    created_at: datetime
    lines: list[FulfillmentLine]

    def shipped(self, line_item_id: str) -> int:
        """Units of a line in this fulfillment."""
        return sum(f.quantity for f in self.lines if f.line_item_id == line_item_id)


@dataclass(frozen=True)
class RefundLine:
    """One refunded line as the refund records it."""

    id: str
    line_item_id: str
    quantity: int
    type: LineType
    restock_type: str
    location_id: str | None
    price: Decimal
    subtotal: Decimal
    total_tax: Decimal
    discount_total: Decimal


@dataclass(frozen=True)
class RefundTransaction:
    """Money sent back against one payment slip."""

    id: str
    parent_id: str
    gateway: str
    amount: Decimal
    currency: str
    original_route: bool | None
    created_at: datetime


@dataclass
class Refund:
    """A committed refund (applied at once; SHOPLINE may process asynchronously)."""

    id: str
    order_id: str
    created_at: datetime
    processed_at: str | None
    note: str | None
    currency: str
    lines: list[RefundLine]
    shipping_amount: Decimal
    shipping_tax: Decimal
    transactions: list[RefundTransaction]

    @property
    def items_total(self) -> Decimal:
        """What the lines and shipping are worth, tax included."""
        lines = sum((line.subtotal + line.total_tax for line in self.lines), ZERO)
        return lines + self.shipping_amount + self.shipping_tax

    @property
    def money(self) -> Decimal:
        """The money sent back."""
        return sum((t.amount for t in self.transactions), ZERO)


@dataclass(frozen=True)
class ReturnLine:
    """Units of one fulfilled line the buyer sends back."""

    id: str
    fulfillment_id: str
    line_item_id: str
    quantity: int
    return_reason: str | None
    return_reason_note: str | None


@dataclass
class Return:
    """A return order (``OPEN`` until closed)."""

    id: str
    order_id: str
    created_at: datetime
    processed_at: str | None
    return_reason: str | None
    notify_customer: bool
    lines: list[ReturnLine]
    status: str = "OPEN"


@dataclass
class Order:
    """An order of one store."""

    id: str
    name: str
    email: str
    customer_id: str
    currency: str
    presentment_currency: str
    exchange_rate: Decimal
    created_at: datetime
    updated_at: datetime
    status: str
    cancelled_at: datetime | None
    line_items: list[LineItem]
    shipping_lines: list[ShippingLine]
    discount_applications: list[DiscountApplication]
    payments: list[PaymentSlip]
    fulfillments: list[Fulfillment]
    refunds: list[Refund] = field(default_factory=list)

    def line(self, line_item_id: str) -> LineItem | None:
        """The line with this id."""
        return next((line for line in self.line_items if line.id == line_item_id), None)

    def payment(self, slip_id: str) -> PaymentSlip | None:
        """The payment slip with this id."""
        return next((p for p in self.payments if p.id == slip_id), None)

    def fulfillment(self, fulfillment_id: str) -> Fulfillment | None:
        """The fulfillment with this id."""
        return next((f for f in self.fulfillments if f.id == fulfillment_id), None)

    @property
    def line_items_price(self) -> Decimal:
        """Lines at unit price × quantity, before discounts."""
        return sum((line.price * line.quantity for line in self.line_items), ZERO)

    @property
    def total_discounts(self) -> Decimal:
        """Every discount allocated to lines."""
        return sum((line.discount_total for line in self.line_items), ZERO)

    @property
    def subtotal(self) -> Decimal:
        """Lines after discounts, before tax."""
        return self.line_items_price - self.total_discounts

    @property
    def shipping_price(self) -> Decimal:
        """Shipping before tax."""
        return sum((s.price for s in self.shipping_lines), ZERO)

    @property
    def shipping_tax(self) -> Decimal:
        """Tax on shipping."""
        return sum((s.tax_total for s in self.shipping_lines), ZERO)

    @property
    def total_tax(self) -> Decimal:
        """Tax on lines and shipping."""
        return sum((line.tax_total for line in self.line_items), ZERO) + self.shipping_tax

    @property
    def total(self) -> Decimal:
        """What the buyer owes: lines after discounts, shipping, taxes."""
        return self.subtotal + self.shipping_price + self.total_tax

    @property
    def paid(self) -> Decimal:
        """Money received."""
        return sum((p.amount for p in self.payments), ZERO)

    @property
    def refunded_money(self) -> Decimal:
        """Money sent back by refunds."""
        return sum((r.money for r in self.refunds), ZERO)

    @property
    def shipping_refunded(self) -> Decimal:
        """Shipping (before tax) refunded so far."""
        return sum((r.shipping_amount for r in self.refunds), ZERO)

    @property
    def financial_status(self) -> str:
        """``pending``, ``partially_paid``, ``paid``, ``partially_refunded`` or ``refunded``."""
        if self.paid == 0:
            return "pending"
        refunded = self.refunded_money
        if refunded >= self.paid:
            return "refunded"
        if refunded > 0:
            return "partially_refunded"
        return "paid" if self.paid >= self.total else "partially_paid"

    @property
    def fulfillment_status(self) -> str | None:
        """None (nothing shipped), ``partial`` or ``fulfilled``."""
        shipped = sum(line.fulfilled for line in self.line_items)
        if shipped == 0:
            return None
        open_units = sum(line.fulfillable_quantity for line in self.line_items)
        return "fulfilled" if open_units == 0 else "partial"


@dataclass
class Location:
    """A store location (where stock is kept and restocks go)."""

    id: str
    name: str
    active: bool
    is_default: bool
    created_at: datetime


@dataclass
class Store:
    """One store (one app installed on it): token, secret, bucket settings and its data."""

    handle: str
    access_token: str
    app_secret: str
    currency: str
    store_id: str
    merchant_id: str
    bucket_size: int
    leak_rate: float
    signature_encoding: SignatureEncoding
    locations: dict[str, Location] = field(default_factory=dict)
    stock: dict[str, dict[str, int]] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    returns: dict[str, Return] = field(default_factory=dict)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    next_order_number: int = 1001

    @property
    def domain(self) -> str:
        """The store's SHOPLINE domain, as webhooks name it."""
        return f"{self.handle}.myshopline.com"

    @property
    def default_location(self) -> Location:
        """The default location (the first one)."""
        return next(iter(self.locations.values()))


_ID_FORMS = {
    "order": ("2105", 26),
    "payment": ("2305", 26),
    "refund": ("26057", 22),
    "return": ("26058", 22),
    "fulfillment": ("2205", 26),
    "location": ("5409", 19),
    "line_item": ("11", 16),
    "refund_line": ("12", 16),
    "return_line": ("13", 16),
    "product": ("16", 16),
    "variant": ("18", 16),
    "customer": ("42", 19),
    "webhook": ("77", 20),
}


class Ids:
    """Increasing, deterministic long numeric string ids, one sequence per kind."""

    def __init__(self) -> None:
        self._counters: dict[str, itertools.count[int]] = {}

    def next(self, kind: str) -> str:
        """The next id of a kind, e.g. ``21050000000000000000000001`` for an order."""
        prefix, width = _ID_FORMS[kind]
        number = next(self._counters.setdefault(kind, itertools.count(1)))
        return prefix + str(number).zfill(width - len(prefix))


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
