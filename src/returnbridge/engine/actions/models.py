"""Inputs and outputs of the Connectivity API's actions (their JSON Schemas are published)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from returnbridge.connectors.base.connector import PlatformRefund, RestockLine
from returnbridge.domain.orders import Location, OrderSummary
from returnbridge.domain.returns import RefundInstruction, ReturnLine


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_OrderId = Field(min_length=1, max_length=200, description="the platform's order id")


class GetOrderIn(_In):
    order_id: str = _OrderId


class FindOrdersIn(_In):
    """All given criteria must hold; at least one is needed."""

    name: str | None = Field(
        default=None, max_length=100, description="order number, e.g. #1001 or 1001"
    )
    email: str | None = Field(default=None, max_length=320, description="customer email")
    skus: list[str] = Field(default_factory=list, max_length=20, description="SKUs on the order")
    created_from: datetime | None = Field(default=None, description="placed on or after")
    limit: int = Field(default=10, ge=1, le=50)


class ListLocationsIn(_In):
    pass


class RefundIn(_In):
    """A refund of order lines, planned by returnbridge to the minor unit (refund-math rules):
    tax, discounts and shipping prorated, never more than is refundable."""

    order_id: str = _OrderId
    lines: list[ReturnLine] = Field(
        default_factory=list, max_length=250, description="lines by line_id or sku, with quantity"
    )
    refund: RefundInstruction = Field(
        default_factory=RefundInstruction,
        description="shipping, restocking fee, duties, method (as in a return event)",
    )
    restock: bool = Field(default=False, description="put the goods back into stock")
    location_id: str | None = Field(
        default=None, max_length=200, description="where to restock; default the first active"
    )
    note: str | None = Field(default=None, max_length=500)
    notify_customer: bool = False


class ListRefundsIn(_In):
    order_id: str = _OrderId


class RestockIn(_In):
    order_id: str = _OrderId
    lines: list[RestockLine] = Field(min_length=1, max_length=250)
    location_id: str | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, max_length=200)


class OrderList(BaseModel):
    orders: list[OrderSummary]


class LocationList(BaseModel):
    locations: list[Location]


class RefundList(BaseModel):
    refunds: list[PlatformRefund]


class RefundPreview(BaseModel):
    """Our plan and the platform's own calculation side by side."""

    order_id: str
    currency: str
    plan: dict[str, Any] | None = Field(
        description="returnbridge's plan: lines, tax, shipping, fees, total, tenders (minor units)"
    )
    platform: dict[str, Any] | None = Field(
        description="the platform's calculation, when it offers one (minor units)"
    )
    platform_preview: Literal["offered", "not_offered"]
    differences: list[str] = Field(description="where the two differ beyond the tolerance")
    agrees: bool | None = Field(description="None when the platform offers no calculation")


class RestockOut(BaseModel):
    order_id: str
    method: Literal["inventory_adjustment", "goods_only_refund"] = Field(
        description="how the platform was asked: an inventory adjustment, or a refund of no "
        "money that restocks (platforms that restock inside refunds)"
    )
    reference: str | None
    location_id: str | None
    lines: list[RestockLine]
