"""A platform order normalised for matching and refund planning.

Field names follow the order snapshot of refund-math §2, so a snapshot from the shared case
files parses directly. All money is integer minor units of the presentment currency
(`currency`); a `*_shop` twin holds the same component in the shop currency for multi-currency
orders. Platform identifiers are kept verbatim (GIDs for Shopify).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


# Platform's actual amount already refunded on one component, when known (refund-math §3.3).
_REFUNDED = AliasChoices("already_refunded", "refunded", "amount_refunded")
_REFUNDED_SHOP = AliasChoices("already_refunded_shop", "refunded_shop", "amount_refunded_shop")


class DiscountAllocation(_Frozen):
    """A discount already attached to one line (line-level, or an allocated order discount)."""

    amount: int
    amount_shop: int | None = None
    code: str | None = None
    level: Literal["line", "order"] = "line"
    already_refunded: int | None = Field(default=None, validation_alias=_REFUNDED)
    already_refunded_shop: int | None = Field(default=None, validation_alias=_REFUNDED_SHOP)


class TaxLine(_Frozen):
    """One tax charged on a line; `amount` None means only the rate is known (derive it)."""

    title: str
    id: str | None = None
    """The platform's id of the tax rate (WooCommerce refunds name taxes by it)."""
    rate: Decimal | None = None
    amount: int | None = None
    amount_shop: int | None = None
    already_refunded: int | None = Field(default=None, validation_alias=_REFUNDED)
    already_refunded_shop: int | None = Field(default=None, validation_alias=_REFUNDED_SHOP)


class Duty(_Frozen):
    id: str | None = None
    amount: int
    amount_shop: int | None = None
    already_refunded: int | None = Field(default=None, validation_alias=_REFUNDED)
    already_refunded_shop: int | None = Field(default=None, validation_alias=_REFUNDED_SHOP)


class OrderLine(_Frozen):
    """One order line: N units at a unit price with its discount, tax and duty components."""

    id: str
    sku: str | None = None
    title: str = ""
    variant_id: str | None = None
    quantity: int
    unit_price: int
    unit_price_shop: int | None = None
    discount_allocations: tuple[DiscountAllocation, ...] = ()
    tax_lines: tuple[TaxLine, ...] = ()
    duties: tuple[Duty, ...] = ()
    already_returned_quantity: int = 0
    fulfilled_quantity: int | None = Field(
        default=None, description="units shipped; None when the platform does not say (all)"
    )


class OrderDiscount(_Frozen):
    """An order-level discount the platform did not allocate to lines."""

    code: str | None = None
    amount: int
    amount_shop: int | None = None


class ShippingLine(_Frozen):
    id: str
    title: str = ""
    price: int
    price_shop: int | None = None
    discount: int = 0
    discount_shop: int | None = None
    tax_lines: tuple[TaxLine, ...] = ()
    already_refunded: int = 0
    already_refunded_shop: int | None = None
    already_refunded_tax: int = 0
    already_refunded_tax_shop: int | None = None


class Payment(_Frozen):
    """A tender the customer paid with; `id` is the platform's parent transaction id."""

    id: str | None = None
    method: str = "card"
    gateway: str | None = None
    amount: int
    refunded: int = 0


class Order(_Frozen):
    """The normalised order (snapshot): what matching and the refund planner read."""

    id: str
    name: str | None = None
    email: str | None = None
    created_at: datetime | None = None
    platform: str | None = None
    currency: str
    currency_exponent: int | None = None
    shop_currency: str | None = None
    taxes_included: bool = False
    line_items: tuple[OrderLine, ...] = ()
    order_discounts: tuple[OrderDiscount, ...] = ()
    shipping_lines: tuple[ShippingLine, ...] = ()
    amount_paid: int
    amount_paid_shop: int | None = None
    already_refunded_amount: int = 0
    already_refunded_amount_shop: int | None = None
    payments: tuple[Payment, ...] = ()
    exchange_rate: Decimal | None = Field(
        default=None,
        validation_alias=AliasChoices("exchange_rate", "fx_rate", "presentment_to_shop_rate"),
        description="recorded rate: shop-currency major units per presentment major unit (§3.9)",
    )

    @property
    def is_multi_currency(self) -> bool:
        return self.shop_currency is not None and self.shop_currency != self.currency

    def line(self, line_id: str) -> OrderLine | None:
        return next((line for line in self.line_items if line.id == line_id), None)

    def line_by_sku(self, sku: str) -> list[OrderLine]:
        return [line for line in self.line_items if line.sku == sku]


class OrderSummary(_Frozen):
    """A search hit: enough to tell candidate orders apart and show them to a human."""

    id: str
    name: str | None = None
    email: str | None = None
    created_at: datetime | None = None
    currency: str | None = None
    total: int | None = None
    phone: str | None = None
    postal_code: str | None = Field(default=None, description="shipping address postal code")
    skus: tuple[str, ...] = ()
    skus_complete: bool = Field(
        default=True, description="False when only some of the order's lines were read"
    )


class Location(_Frozen):
    """A place stock can be returned to."""

    id: str
    name: str
    active: bool = True
