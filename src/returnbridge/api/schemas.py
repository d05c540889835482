"""Request and response bodies of the API (separate from the storage tables)."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from returnbridge.api.problems import ApiProblem
from returnbridge.domain.money import format_minor
from returnbridge.domain.returns import (
    MAX_LINES,
    BoundedObject,
    CanonicalReturn,
    ReturnLine,
    StrictInt,
)
from returnbridge.store.tables import Connection, Refund, Return, TimelineEvent

MAX_REVISION = 2**31 - 1
"""Revisions are stored as 32-bit integers (PostgreSQL `integer`)."""

MAX_AMOUNT_DIGITS = 15
"""Decimal amounts need fewer integer digits than this; beyond, minor units overflow storage."""


def _unstorable(value: Any, path: str) -> tuple[str, str] | None:
    """The first value JSON or PostgreSQL cannot keep, as (field path, why), if any."""
    if isinstance(value, str):
        return (path or "body", "text must not contain NUL characters") if "\x00" in value else None
    if isinstance(value, float):
        return None if math.isfinite(value) else (path or "body", "numbers must be finite")
    if isinstance(value, Decimal) and value.is_finite() and value.adjusted() >= MAX_AMOUNT_DIGITS:
        return (path or "body", f"amounts must be below 10^{MAX_AMOUNT_DIGITS}")
    if isinstance(value, BaseModel):
        value = dict(value)
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                return (path or "body", "keys must not contain NUL characters")
            found = _unstorable(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _unstorable(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def unstorable(value: Any) -> str | None:
    """Why `value` (a model, dict or list) cannot be stored, as "field: why"; None if it can."""
    found = _unstorable(value, "")
    return None if found is None else f"{found[0]}: {found[1]}"


def reject_unstorable(body: BaseModel | dict[str, Any]) -> None:
    """Refuse NUL characters, NaN/Infinity and absurdly large amounts anywhere in a body.

    PostgreSQL cannot store NUL in text, JSON has no NaN, and an amount like 1e100000 cannot
    become minor units: each would otherwise fail later (a 500, a null, a failed workflow).
    """
    found = _unstorable(body, "")
    if found is not None:
        field, message = found
        raise ApiProblem(
            422,
            "VALIDATION_ERROR",
            f"{field}: {message}",
            field=field,
            errors=[{"field": field, "message": message}],
        )


class ReturnEventIn(CanonicalReturn):
    """A return event from the vendor: the canonical return plus which connection it targets."""

    revision: StrictInt = Field(default=1, ge=1, le=MAX_REVISION)

    connection_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="the tenant's platform connection; optional if it has one",
    )


class RetryIn(BaseModel):
    """Why the operator retries (kept on the timeline)."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500)


class ResolveIn(BaseModel):
    """The reviewer's decision: the order (a candidate's id or name, or any order the platform
    has), the corrected lines (they become the return's next revision), or both."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"anyOf": [{"required": ["order"]}, {"required": ["lines"]}]},
    )

    order: str | None = Field(
        default=None, min_length=1, max_length=200, description="order id or name, e.g. '#1002'"
    )
    lines: tuple[ReturnLine, ...] | None = Field(default=None, min_length=1, max_length=MAX_LINES)
    reason: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _something(self) -> ResolveIn:
        if self.order is None and self.lines is None:
            raise ValueError("give order, lines, or both")
        return self


class ReviewOut(BaseModel):
    """Why a return waits in `needs_review`, and what a reviewer can do about it."""

    event: str = Field(description="what parked it, e.g. order_ambiguous, awaiting_approval")
    reason: str | None
    since: datetime
    actions: list[str] = Field(description="review actions that apply: resolve, approve, ...")


class MoneyOut(BaseModel):
    amount: str = Field(description="decimal string in the currency's minor-unit precision")
    currency: str
    minor: int


class TimelineEventOut(BaseModel):
    at: datetime
    event: str
    from_status: str | None
    to_status: str | None
    actor: str
    reason: str | None
    data: dict[str, Any]


class RefundOut(BaseModel):
    id: str
    idempotency_key: str
    status: str
    platform_refund_id: str | None
    order_id: str
    amount: MoneyOut


class ReturnOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    url: str
    external_id: str
    revision: int
    status: str
    channel: str
    source: str
    connection_id: str
    order_reference: dict[str, Any]
    matched_order_id: str | None
    matched_order_name: str | None
    candidates: list[Any]
    refund_total: MoneyOut | None
    workflow_id: str | None
    created_at: datetime
    updated_at: datetime
    return_request: dict[str, Any] = Field(description="the canonical return as stored")
    review: ReviewOut | None = Field(
        default=None, description="set while the return is in needs_review (docs/review.md)"
    )
    timeline: list[TimelineEventOut] | None = None
    refunds: list[RefundOut] | None = None


class ReturnAccepted(BaseModel):
    duplicate: bool
    url: str
    return_: ReturnOut = Field(alias="return")

    model_config = ConfigDict(populate_by_name=True)


class ReturnPageOut(BaseModel):
    items: list[ReturnOut]
    next_cursor: str | None


class TenantIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class TenantCreated(BaseModel):
    id: str
    name: str
    api_key: str = Field(description="shown once; store it now")


class ConnectionIn(BaseModel):
    platform: str = Field(
        min_length=1, max_length=32, description="shopify, woocommerce or bigcommerce"
    )
    name: str = Field(min_length=1, max_length=200)
    base_url: str = Field(
        max_length=500,
        description="the store: https://my-shop.myshopify.com, a WooCommerce site "
        "(https://shop.example.com) or https://api.bigcommerce.com",
    )
    credentials: BoundedObject = Field(
        description="encrypted at rest, never shown again. shopify: {access_token}; "
        "woocommerce: {consumer_key, consumer_secret}; bigcommerce: {store_hash, access_token}"
    )
    settings: BoundedObject = Field(default_factory=dict)


class ConnectionOut(BaseModel):
    id: str
    tenant_id: str
    platform: str
    name: str
    base_url: str
    settings: dict[str, Any]
    created_at: datetime


def connection_out(connection: Connection) -> ConnectionOut:
    """A connection as the API shows it: never its credentials."""
    return ConnectionOut(
        id=connection.id,
        tenant_id=connection.tenant_id,
        platform=connection.platform,
        name=connection.name,
        base_url=connection.base_url,
        settings=connection.settings,
        created_at=connection.created_at,
    )


def money_out(minor: int | None, currency: str | None) -> MoneyOut | None:
    if minor is None or currency is None:
        return None
    return MoneyOut(amount=format_minor(minor, currency), currency=currency, minor=minor)


def return_out(
    record: Return,
    *,
    base_url: str,
    timeline: list[TimelineEvent] | None = None,
    refunds: list[Refund] | None = None,
    parked: TimelineEvent | None = None,
) -> ReturnOut:
    """`parked` is the event that moved a `needs_review` return there (its `review`); it is
    found in `timeline` when that is given."""
    if parked is None and timeline:
        parked = next(
            (
                e
                for e in reversed(timeline)
                if e.to_status == "needs_review" and e.from_status != e.to_status
            ),
            None,
        )
    return ReturnOut(
        id=record.id,
        url=f"{base_url}/v1/returns/{record.id}",
        external_id=record.external_id,
        revision=record.revision,
        status=record.status,
        channel=record.channel,
        source=record.source,
        connection_id=record.connection_id,
        order_reference=record.order_ref,
        matched_order_id=record.matched_order_id,
        matched_order_name=record.matched_order_name,
        candidates=record.candidates,
        refund_total=money_out(record.refund_total, record.currency),
        workflow_id=record.workflow_id,
        created_at=record.created_at,
        updated_at=record.updated_at,
        return_request=record.payload,
        review=review_out(parked) if record.status == "needs_review" and parked else None,
        timeline=None
        if timeline is None
        else [
            TimelineEventOut(
                at=e.at,
                event=e.event,
                from_status=e.from_status,
                to_status=e.to_status,
                actor=e.actor,
                reason=e.reason,
                data=e.data,
            )
            for e in timeline
        ],
        refunds=None
        if refunds is None
        else [
            RefundOut(
                id=r.id,
                idempotency_key=r.idempotency_key,
                status=r.status,
                platform_refund_id=r.platform_refund_id,
                order_id=r.order_id,
                amount=money_out(r.amount, r.currency)
                or MoneyOut(amount="0", currency="", minor=0),
            )
            for r in refunds
        ],
    )


def review_out(parked: TimelineEvent) -> ReviewOut:
    """Why the return waits and what applies: approve only when it awaits approval."""
    actions = ["resolve", "retry", "cancel"]
    if parked.event == "awaiting_approval":
        actions = ["approve", "cancel"]
    return ReviewOut(event=parked.event, reason=parked.reason, since=parked.at, actions=actions)
