"""The simulated shops: orders, refunds, stock and locations, kept in memory.

Mutable records hold what was created; every derived figure (refunded quantity, net payment,
financial status) is computed from the recorded refunds and transactions, never stored.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

from returnbridge.sandbox.shopify.money import Bag, total

if TYPE_CHECKING:
    from returnbridge.sandbox.shopify.returns import ShopReturn

CHARGE_KINDS = frozenset({"SALE", "CAPTURE"})


@dataclass(slots=True)
class Location:
    """A stock location of a shop."""

    id: int
    name: str
    active: bool


@dataclass(slots=True)
class DiscountApplication:
    """How a discount was applied (code or manual) to the order."""

    index: int
    code: str | None
    title: str
    allocation_method: str
    target_selection: str
    target_type: str


@dataclass(slots=True)
class DiscountAllocation:
    """The part of a discount application that landed on one line (all its units)."""

    amount: Bag
    application: DiscountApplication


@dataclass(slots=True)
class TaxLine:
    """One tax charged on a line (all its units)."""

    title: str
    rate: Fraction
    price: Bag


@dataclass(slots=True)
class Duty:
    """An import duty charged on all units of a line."""

    id: int
    price: Bag
    harmonized_system_code: str | None = None
    country_code_of_origin: str | None = None


@dataclass(slots=True)
class LineItem:
    """An ordered line: unit price, quantity, and the components charged on it."""

    id: int
    sku: str | None
    title: str
    quantity: int
    unit_price: Bag
    fulfilled_quantity: int
    tax_lines: list[TaxLine]
    discount_allocations: list[DiscountAllocation]
    duties: list[Duty] = field(default_factory=list)


@dataclass(slots=True)
class ShippingLine:
    """A shipping charge with its discount and taxes."""

    id: int
    title: str
    price: Bag
    discount: Bag
    tax_lines: list[TaxLine]
    discount_allocations: list[DiscountAllocation]

    @property
    def tax(self) -> Bag:
        """All tax charged on the shipping line."""
        return total([t.price for t in self.tax_lines])


@dataclass(slots=True)
class Transaction:
    """A money movement on the order (charges and refunds)."""

    id: int
    kind: str
    status: str
    gateway: str
    amount: Bag
    created_at: str
    parent_id: int | None = None


@dataclass(slots=True)
class RefundLine:
    """Units of one line taken back by a refund, with the money computed for them."""

    line_item_id: int
    quantity: int
    restock_type: str
    location_id: int | None
    unit_price: Bag
    subtotal: Bag
    tax: Bag
    from_fulfilled: int
    from_unfulfilled: int


@dataclass(slots=True)
class RefundShipping:
    """Shipping refunded on one shipping line."""

    id: int
    shipping_line_id: int
    subtotal: Bag
    tax: Bag


@dataclass(slots=True)
class RefundDuty:
    """Part of a duty given back by a refund."""

    duty_id: int
    amount: Bag


@dataclass(slots=True)
class Refund:
    """A committed refund: lines, shipping, duties and the refund transactions it created."""

    id: int
    created_at: str
    note: str | None
    lines: list[RefundLine]
    shipping: list[RefundShipping]
    transaction_ids: list[int]
    duties: list[RefundDuty] = field(default_factory=list)


@dataclass(slots=True)
class Order:
    """An order of one shop, with its refunds and transactions."""

    id: int
    name: str
    email: str | None
    created_at: str
    updated_at: str
    currency: str
    presentment_currency: str
    exchange_rate: Fraction
    taxes_included: bool
    line_items: list[LineItem]
    shipping_lines: list[ShippingLine]
    discount_applications: list[DiscountApplication]
    transactions: list[Transaction] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    returns: list[ShopReturn] = field(default_factory=list)
    phone: str | None = None
    shipping_zip: str | None = None
    closed_at: str | None = None
    cancelled_at: str | None = None

    def line(self, line_id: int) -> LineItem | None:
        """The line with this id, if it belongs to the order."""
        return next((line for line in self.line_items if line.id == line_id), None)

    def transaction(self, transaction_id: int) -> Transaction | None:
        """The transaction with this id, if it belongs to the order."""
        return next((t for t in self.transactions if t.id == transaction_id), None)

    def refund_lines(self, line_id: int) -> list[RefundLine]:
        """Every refund line recorded against a line item."""
        return [rl for r in self.refunds for rl in r.lines if rl.line_item_id == line_id]

    def refunded_quantity(self, line: LineItem) -> int:
        """Units of the line already refunded (any restock type)."""
        return sum(rl.quantity for rl in self.refund_lines(line.id))

    def unfulfilled_quantity(self, line: LineItem) -> int:
        """Units never fulfilled and not yet removed by a refund."""
        removed = sum(rl.from_unfulfilled for rl in self.refund_lines(line.id))
        return line.quantity - line.fulfilled_quantity - removed

    def returnable_fulfilled(self, line: LineItem) -> int:
        """Fulfilled units not yet refunded."""
        taken = sum(rl.from_fulfilled for rl in self.refund_lines(line.id))
        return line.fulfilled_quantity - taken

    def refunded_shipping(self, shipping_line_id: int) -> tuple[Bag, Bag]:
        """Shipping subtotal and tax already refunded on a shipping line."""
        entries = [
            rs for r in self.refunds for rs in r.shipping if rs.shipping_line_id == shipping_line_id
        ]
        return total([e.subtotal for e in entries]), total([e.tax for e in entries])

    def duty(self, duty_id: int) -> tuple[LineItem, Duty] | None:
        """The duty with this id and its line, if it belongs to the order."""
        for line in self.line_items:
            for duty in line.duties:
                if duty.id == duty_id:
                    return line, duty
        return None

    def refunded_duty(self, duty_id: int) -> Bag:
        """What refunds already gave back of a duty."""
        return total([d.amount for r in self.refunds for d in r.duties if d.duty_id == duty_id])

    @property
    def total_duties(self) -> Bag:
        """Every duty charged on the order."""
        return total([d.price for line in self.line_items for d in line.duties])

    def line_total(self, line: LineItem) -> Bag:
        """What the customer was charged for a line."""
        charged = line.unit_price.times(line.quantity) - total(
            [a.amount for a in line.discount_allocations]
        )
        if self.taxes_included:
            return charged
        return charged + total([t.price for t in line.tax_lines])

    def shipping_total(self, shipping: ShippingLine) -> Bag:
        """What the customer was charged for a shipping line."""
        charged = shipping.price - shipping.discount
        return charged if self.taxes_included else charged + shipping.tax

    @property
    def total_price(self) -> Bag:
        """The order total as charged."""
        return (
            total([self.line_total(li) for li in self.line_items])
            + total([self.shipping_total(s) for s in self.shipping_lines])
            + self.total_duties
        )

    def _successful(self, kinds: frozenset[str]) -> list[Transaction]:
        return [t for t in self.transactions if t.kind in kinds and t.status == "SUCCESS"]

    @property
    def charges(self) -> list[Transaction]:
        """Successful SALE and CAPTURE transactions, in order."""
        return self._successful(CHARGE_KINDS)

    @property
    def received(self) -> Bag:
        """Money received from the customer."""
        return total([t.amount for t in self.charges])

    @property
    def refunded(self) -> Bag:
        """Money given back through refund transactions."""
        return total([t.amount for t in self._successful(frozenset({"REFUND"}))])

    @property
    def net_payment(self) -> Bag:
        """Received minus refunded."""
        return self.received - self.refunded

    def refundable_on(self, charge: Transaction) -> Bag:
        """What is still refundable on one charge transaction."""
        refunded = total(
            [t.amount for t in self._successful(frozenset({"REFUND"})) if t.parent_id == charge.id]
        )
        return charge.amount - refunded

    @property
    def financial_status(self) -> str:
        """Shopify's displayFinancialStatus derived from the transactions."""
        received = self.received.presentment
        refunded = self.refunded.presentment
        if received == 0:
            return "PENDING"
        if refunded >= received:
            return "REFUNDED"
        if refunded > 0:
            return "PARTIALLY_REFUNDED"
        if received < self.total_price.presentment:
            return "PARTIALLY_PAID"
        return "PAID"


@dataclass(slots=True)
class StoreCreditCredit:
    """A credit on a store credit account (``StoreCreditAccountCreditTransaction``)."""

    id: int
    amount: int
    created_at: str
    expires_at: str | None
    origin_transaction_id: int | None
    event: str = "ORDER_REFUND"


@dataclass(slots=True)
class StoreCreditAccount:
    """One customer's store credit in one currency."""

    id: int
    owner: str
    currency: str
    credits: list[StoreCreditCredit] = field(default_factory=list)

    @property
    def balance(self) -> int:
        """Minor units available (credits are never spent in the sandbox)."""
        return sum(c.amount for c in self.credits)


@dataclass(slots=True)
class StoredAttempt:
    """The first answer to an idempotency key: what a repeat with the same input gets back.

    ``order`` is a copy of the order as that answer showed it, so a replay answers the first
    response, not the order's current state.
    """

    fingerprint: str
    at: float
    refund_id: int | None
    order: Order | None
    user_errors: list[dict[str, object]]


@dataclass(slots=True)
class Shop:
    """One simulated shop: its token, currency, locations, orders and stock."""

    domain: str
    access_token: str
    currency: str
    locations: list[Location]
    restore_rate: float
    bucket_size: int
    orders: dict[int, Order] = field(default_factory=dict)
    stock: dict[tuple[str, int], int] = field(default_factory=dict)
    stocked: set[tuple[str, int]] = field(default_factory=set)
    idempotency: dict[str, StoredAttempt] = field(default_factory=dict)
    in_flight: set[str] = field(default_factory=set)
    store_credit: dict[tuple[str, str], StoreCreditAccount] = field(default_factory=dict)
    app_tokens: dict[str, str] = field(default_factory=dict)
    """Access tokens issued by app installs (``install.py``), with their client ids."""

    def location(self, location_id: int) -> Location | None:
        """The location with this id, if the shop has it."""
        return next((loc for loc in self.locations if loc.id == location_id), None)

    def stocks(self, sku: str, location_id: int) -> bool:
        """Whether the location stocks the SKU (has an inventory level for it)."""
        return (sku, location_id) in self.stocked or (sku, location_id) in self.stock


class Ids:
    """Deterministic id source shared by every record the sandbox creates."""

    def __init__(self, start: int = 1001) -> None:
        self._counter = itertools.count(start)

    def next(self) -> int:
        """A fresh id."""
        return next(self._counter)


@dataclass
class World:
    """Every shop plus the lock that serialises all reads and writes."""

    shops: dict[str, Shop] = field(default_factory=dict)
    ids: Ids = field(default_factory=Ids)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def shop_for_token(self, token: str | None) -> Shop | None:
        """The shop an access token belongs to."""
        if not token:
            return None
        return next(
            (s for s in self.shops.values() if s.access_token == token or token in s.app_tokens),
            None,
        )

    def reset(self) -> None:
        """Forget every shop and restart ids."""
        self.shops.clear()
        self.ids = Ids()
