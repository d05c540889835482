"""The contract between the engine and a commerce-platform connector.

The engine speaks only these types. A connector translates them to its platform in `mapping.py`
and talks HTTP in `client.py`. Operations are synchronous (they run inside DBOS steps, in worker
threads); every failure is one of the classes in `returnbridge.domain.errors`.

New platforms (WooCommerce, BigCommerce, SHOPLINE) implement `OrderConnector`; what a platform
cannot do natively is declared in `capabilities` so the engine can compensate (for example,
search refunds by the key written into the note when there is no idempotency key).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from returnbridge.domain.orders import Location, Order, OrderSummary


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Capability(StrEnum):
    IDEMPOTENT_REFUNDS = "idempotent_refunds"  # the platform dedupes refunds by our key
    SUGGESTED_REFUND = "suggested_refund"  # the platform can preview a refund
    RESTOCK_WITH_REFUND = "restock_with_refund"  # restock happens inside the refund call
    RESTOCK = "restock"  # goods can be restocked apart from a refund (`OrderConnector.restock`)
    GOODS_ONLY_REFUND = "goods_only_refund"  # a refund of no money restocks goods
    SEARCH_BY_EMAIL = "search_by_email"
    SEARCH_BY_NAME = "search_by_name"
    PLATFORM_RETURNS = "platform_returns"
    """The platform keeps returns of its own (`ReturnsConnector`): goods come back through one,
    restocked and refunded when it is processed."""


class OrderQuery(_Frozen):
    """Ways to find an order; any combination, all given ones must hold."""

    name: str | None = None  # the human order number ("#1001" or "1001")
    names: tuple[str, ...] = ()  # alternatives to `name` (the store's prefix/suffix variants)
    email: str | None = None
    skus: tuple[str, ...] = ()
    created_from: datetime | None = None  # placed on or after this day (UTC)
    limit: int = 10


RestockKind = Literal["return", "cancel", "none"]


class RefundLineCommand(_Frozen):
    line_id: str
    quantity: int
    restock: RestockKind = "none"
    location_id: str | None = None


class TenderCommand(_Frozen):
    """Money to send back through one original payment (or a new store-credit tender)."""

    amount: int
    method: str = "original"
    parent_id: str | None = None
    gateway: str | None = None


class TaxAmount(_Frozen):
    """One tax line's share of a refunded line or shipping line (minor units)."""

    title: str
    amount: int
    tax_id: str | None = None
    """The platform's id of the tax (rate) line, when the order gave one."""


class LineMoney(_Frozen):
    """What the plan refunds for one order line: before tax, its taxes, and duties."""

    line_id: str
    quantity: int
    subtotal: int
    taxes: tuple[TaxAmount, ...] = ()
    tax: int = 0
    duties: int = 0


class ShippingMoney(_Frozen):
    shipping_line_id: str
    amount: int
    taxes: tuple[TaxAmount, ...] = ()
    tax: int = 0


class RefundMoney(_Frozen):
    """The plan's money, to the minor unit: what a connector that takes explicit amounts
    sends, and what the engine checks the platform's record against after the write.

    `total` = lines (subtotal + tax + duties) + shipping (amount + tax) + `fees` (deductions,
    negative) + `adjustment` (the cap, negative).
    """

    lines: tuple[LineMoney, ...] = ()
    shipping: tuple[ShippingMoney, ...] = ()
    fees: int = 0
    adjustment: int = 0
    total: int = 0

    @property
    def shipping_amount(self) -> int:
        return sum(line.amount for line in self.shipping)

    @property
    def shipping_tax(self) -> int:
        return sum(line.tax for line in self.shipping)


class DutyCommand(_Frozen):
    """One import duty to refund: all that remains of it, or the returned units' share."""

    duty_id: str
    refund_type: Literal["full", "proportional"]


class RefundCommand(_Frozen):
    """One refund to execute on the platform, fully decided by the engine beforehand."""

    order_id: str
    currency: str
    idempotency_key: str
    lines: tuple[RefundLineCommand, ...] = ()
    shipping_full: bool = False
    shipping_amount: int | None = None
    duties: tuple[DutyCommand, ...] = ()
    """Duties to refund, by the platform's duty id (Shopify's `refundDuties`)."""
    tenders: tuple[TenderCommand, ...] = ()
    note: str | None = None
    notify_customer: bool = False
    expected_total: int | None = None  # our planned total, for cross-checks and logs
    money: RefundMoney | None = None
    """The plan's figures; None when no money moves (goods only)."""
    platform_key: str | None = None
    """The key the platform dedupes this send by, when not `idempotency_key`: a send after the
    platform refused an earlier one under our key (Shopify replays a refused key's answer for
    24 h, so a retry after the cause is fixed needs a key of its own). Our key still travels
    in the note, so the refund is found by it whichever send made it."""
    tolerance: int = 0
    """Minor units by which a platform's own figure (a quote, what it records) may differ
    from `money` per figure and still count as agreeing (the connection's
    `cross_check_tolerance`)."""


class RefundedLine(_Frozen):
    line_id: str
    quantity: int
    restock: RestockKind = "none"
    location_id: str | None = None
    subtotal: int | None = None
    tax: int | None = None


class PlatformRefund(_Frozen):
    """A refund as the platform recorded it."""

    id: str
    order_id: str
    currency: str
    total: int
    created_at: datetime | None = None
    note: str | None = None
    idempotency_key: str | None = None
    lines: tuple[RefundedLine, ...] = ()
    shipping: int | None = None
    """Shipping refunded (subtotal); None when the platform's answer did not say."""


class RestockLine(_Frozen):
    line_id: str
    quantity: int


class RestockCommand(_Frozen):
    """Returned goods to put back into stock, on platforms whose refunds do not restock.

    `key` is the refund's idempotency key (the same return revision); platforms that can
    record a reason with the adjustment carry it there.
    """

    order_id: str
    key: str
    lines: tuple[RestockLine, ...]
    location_id: str | None = None
    reason: str | None = None


class RestockResult(_Frozen):
    """What the platform adjusted: one entry per order line, in stock units."""

    reference: str | None = None
    """The platform's id for the adjustment (a transaction id), when it gives one."""
    lines: tuple[RestockLine, ...] = ()
    location_id: str | None = None


class SuggestedLine(_Frozen):
    line_id: str
    quantity: int
    subtotal: int
    tax: int


class SuggestedTender(_Frozen):
    amount: int
    gateway: str | None = None
    parent_id: str | None = None


class SuggestedRefund(_Frozen):
    """The platform's own calculation of a refund, used to cross-check our plan."""

    currency: str
    lines: tuple[SuggestedLine, ...] = ()
    shipping_amount: int = 0
    shipping_tax: int = 0
    tenders: tuple[SuggestedTender, ...] = ()
    duties: int | None = None
    """Duties the platform would refund; None when its answer does not state them."""

    @property
    def subtotal(self) -> int:
        return sum(line.subtotal for line in self.lines)

    @property
    def tax(self) -> int:
        return sum(line.tax for line in self.lines) + self.shipping_tax

    @property
    def total(self) -> int:
        """Lines with their tax plus shipping with its tax, plus duties."""
        return self.subtotal + self.tax + self.shipping_amount + (self.duties or 0)


class ReturnLineCommand(_Frozen):
    line_id: str
    """The order line the units come back from."""
    quantity: int


class OpenReturnCommand(_Frozen):
    """A return to open on the platform for shipped goods, approved already.

    `key` is the refund's idempotency key: the connector writes it where the platform keeps
    it (`note`) and looks for it before opening another.
    """

    order_id: str
    key: str
    lines: tuple[ReturnLineCommand, ...]
    note: str


class PlatformReturnLine(_Frozen):
    id: str
    line_id: str
    quantity: int
    processed_quantity: int = 0


class PlatformReturn(_Frozen):
    """A return as the platform recorded it (status as the platform names it: OPEN, CLOSED)."""

    id: str
    order_id: str
    status: str
    lines: tuple[PlatformReturnLine, ...] = ()
    name: str | None = None

    @property
    def processed(self) -> bool:
        """Every unit of the return was processed (restocked or not, refunded or not)."""
        return all(line.processed_quantity >= line.quantity for line in self.lines)


class ProcessReturnCommand(_Frozen):
    """Process an open return: its lines as `refund.lines` say (a location: restocked there;
    none: not restocked) and the refund's money, if any, as its financial transfer."""

    return_id: str
    refund: RefundCommand


class ProcessedReturn(_Frozen):
    platform_return: PlatformReturn
    refund: PlatformRefund | None = None
    """The refund the processing made; None when no money moved (goods only)."""


@runtime_checkable
class ReturnsConnector(Protocol):
    """The operations of a connector with Capability.PLATFORM_RETURNS.

    `platform_returns` says whether this connection wants them (a connection setting): a
    connector able to keep returns may still be asked to refund with `create_refund` only.
    """

    platform_returns: bool

    def open_return(self, command: OpenReturnCommand) -> PlatformReturn:
        """The return opened under `command.key`: the one already there, else a new one."""
        ...

    def process_return(self, command: ProcessReturnCommand) -> ProcessedReturn:
        """Process the return once: a return already processed is answered with its refund
        (found by the key, as `create_refund` does) instead of being processed again."""
        ...

    def find_return(self, order_id: str, key: str) -> ProcessedReturn | None:
        """The return opened under `key` with the refund its processing made (None while it
        is not processed or made none); None when there is no such return."""
        ...


@runtime_checkable
class OrderConnector(Protocol):
    """Operations the engine needs from a merchant's commerce platform."""

    platform: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]

    def get_order(self, order_id: str) -> Order:
        """Read one order by platform id; `NotFound` when it does not exist."""
        ...

    def find_orders(self, query: OrderQuery) -> list[OrderSummary]:
        """Search orders; an empty list when none match."""
        ...

    def list_locations(self) -> list[Location]: ...

    def suggest_refund(self, command: RefundCommand) -> SuggestedRefund:
        """The platform's preview of `command` (only with Capability.SUGGESTED_REFUND)."""
        ...

    def create_refund(self, command: RefundCommand) -> PlatformRefund:
        """Execute `command` once.

        With Capability.IDEMPOTENT_REFUNDS repeated calls with the same key return the same
        refund. Without it the connector writes the key into the refund (a note, meta data)
        so that `list_refunds` + `dedupe.find_by_key` find it, and when the answer to its own
        write is lost it looks there before raising; the engine looks again before any retry.
        """
        ...

    def restock(self, command: RestockCommand) -> RestockResult:
        """Put returned goods back into stock (only with Capability.RESTOCK; platforms with
        RESTOCK_WITH_REFUND restock inside `create_refund` instead)."""
        ...

    def list_refunds(self, order_id: str) -> list[PlatformRefund]: ...

    def close(self) -> None: ...
