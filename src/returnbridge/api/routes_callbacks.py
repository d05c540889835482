"""`/v1/callbacks`: the tenant's callback subscriptions and the delivery log of every attempt.

A subscription's signing secret is answered once, at creation or rotation. The URL is
checked when it is saved (http(s), and a public address unless the operator allows private
ones). Deliveries can be replayed one by one or per subscription.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from returnbridge.api.deps import RuntimeDep, TenantDep
from returnbridge.api.problems import ApiProblem
from returnbridge.api.routing import TenantRoute
from returnbridge.api.schemas import reject_unstorable
from returnbridge.notify.callbacks.payload import EVENT_TYPES
from returnbridge.notify.callbacks.ssrf import CallbackUrlError, check_url
from returnbridge.standard_webhooks import new_secret
from returnbridge.store import callbacks as store
from returnbridge.store.clock import utc_now
from returnbridge.store.errors import RecordNotFoundError
from returnbridge.store.tables import CallbackAttempt, CallbackDelivery, CallbackSubscription

router = APIRouter(prefix="/v1/callbacks", tags=["callbacks"], route_class=TenantRoute)


def _event_types(value: list[str]) -> list[str]:
    unknown = sorted(set(value) - set(EVENT_TYPES))
    if unknown:
        raise ValueError(f"unknown event types {unknown}; known: {list(EVENT_TYPES)}")
    return sorted(set(value))


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2000)
    event_types: list[str] = Field(
        default_factory=list, description="return.<status> types; empty: every status change"
    )
    description: str | None = Field(default=None, max_length=500)

    _check_types = field_validator("event_types")(_event_types)


class SubscriptionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=8, max_length=2000)
    event_types: list[str] | None = None
    description: str | None = Field(default=None, max_length=500)
    status: Literal["active", "disabled"] | None = None

    @field_validator("event_types")
    @classmethod
    def _types(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _event_types(value)


class SubscriptionOut(BaseModel):
    id: str
    url: str
    event_types: list[str]
    description: str | None
    status: str
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime


class SubscriptionWithSecret(SubscriptionOut):
    secret: str = Field(description="shown once: verify our signatures with it")


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_seconds: int = Field(
        default=86_400,
        ge=0,
        le=7 * 86_400,
        description="how long callbacks also carry a signature by the old secret (0: none)",
    )


class RotatedSecret(SubscriptionWithSecret):
    previous_secret_signs_until: datetime | None = Field(
        description="until when each callback is also signed with the old secret"
    )


class AttemptOut(BaseModel):
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    response_excerpt: str | None


class DeliveryOut(BaseModel):
    id: str
    subscription_id: str
    webhook_id: str
    event_type: str
    return_id: str | None
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, object]
    log: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None = Field(
        default=None, description="pass as `cursor` for the next (older) page; null: the last"
    )


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime | None = Field(
        default=None, description="only callbacks of status changes at or after this instant"
    )
    status: Literal["failed", "pending", "delivered", "all"] = "failed"


class Replayed(BaseModel):
    replayed: int


def _out(row: CallbackSubscription) -> SubscriptionOut:
    return SubscriptionOut(
        id=row.id,
        url=row.url,
        event_types=list(row.event_types or []),
        description=row.description,
        status=row.status,
        disabled_reason=row.disabled_reason,
        failing_since=row.failing_since,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _attempt_out(row: CallbackAttempt) -> AttemptOut:
    return AttemptOut(
        at=row.at,
        status_code=row.status_code,
        error=row.error,
        duration_ms=row.duration_ms,
        response_excerpt=row.response_excerpt,
    )


def _delivery_out(row: CallbackDelivery, log: list[CallbackAttempt]) -> DeliveryOut:
    return DeliveryOut(
        id=row.id,
        subscription_id=row.subscription_id,
        webhook_id=row.message_id,
        event_type=row.event_type,
        return_id=row.return_id,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status == store.PENDING else None,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
        payload=dict(row.payload),
        log=[_attempt_out(a) for a in log],
    )


def _check(url: str, runtime: RuntimeDep) -> None:
    """Resolve and check `url` (sync routes run in the thread pool: the lookup blocks)."""
    allow = runtime.settings.callbacks_allow_private_addresses
    try:
        check_url(url, allow_private=allow)
    except CallbackUrlError as error:
        raise ApiProblem(422, error.code, error.message, field="url") from None


def _not_found(error: RecordNotFoundError) -> ApiProblem:
    return ApiProblem(404, "NOT_FOUND", str(error.message))


@router.post("/subscriptions", status_code=201, summary="Subscribe an endpoint to callbacks")
def create(body: SubscriptionIn, tenant: TenantDep, runtime: RuntimeDep) -> SubscriptionWithSecret:
    reject_unstorable(body)
    _check(body.url, runtime)
    secret = new_secret()
    with runtime.sessions.begin() as session:
        row = store.create_subscription(
            session,
            tenant.id,
            url=body.url,
            event_types=body.event_types,
            description=body.description,
            secret=secret,
            cipher=runtime.cipher,
        )
    return SubscriptionWithSecret(**_out(row).model_dump(), secret=secret)


@router.get("/subscriptions", summary="The tenant's callback subscriptions (never a secret)")
def list_all(tenant: TenantDep, runtime: RuntimeDep) -> list[SubscriptionOut]:
    with runtime.reads() as session:
        return [_out(row) for row in store.list_subscriptions(session, tenant.id)]


@router.get("/subscriptions/{subscription_id}", summary="One subscription")
def get_one(subscription_id: str, tenant: TenantDep, runtime: RuntimeDep) -> SubscriptionOut:
    with runtime.reads() as session:
        try:
            return _out(store.get_subscription(session, subscription_id, tenant_id=tenant.id))
        except RecordNotFoundError as error:
            raise _not_found(error) from None


@router.patch(
    "/subscriptions/{subscription_id}", summary="Change the URL or types; enable or disable"
)
def patch(
    subscription_id: str, body: SubscriptionPatch, tenant: TenantDep, runtime: RuntimeDep
) -> SubscriptionOut:
    reject_unstorable(body)
    if body.url is not None:
        _check(body.url, runtime)
    with runtime.sessions.begin() as session:
        try:
            row = store.get_subscription(session, subscription_id, tenant_id=tenant.id)
        except RecordNotFoundError as error:
            raise _not_found(error) from None
        if body.url is not None:
            row.url = body.url
        if body.event_types is not None:
            row.event_types = body.event_types
        if body.description is not None:
            row.description = body.description
        if body.status == store.ACTIVE and row.status != store.ACTIVE:
            row.status, row.disabled_reason, row.failing_since = store.ACTIVE, None, None
        elif body.status == store.DISABLED and row.status != store.DISABLED:
            row.status, row.disabled_reason = store.DISABLED, "disabled by the tenant"
        row.updated_at = utc_now()
        return _out(row)


@router.post(
    "/subscriptions/{subscription_id}/rotate-secret",
    summary="A new signing secret (shown once); the old one also signs for the overlap",
)
def rotate(
    subscription_id: str,
    tenant: TenantDep,
    runtime: RuntimeDep,
    body: RotateIn | None = None,
) -> RotatedSecret:
    overlap = timedelta(seconds=(body or RotateIn()).overlap_seconds)
    secret = new_secret()
    now = utc_now()
    with runtime.sessions.begin() as session:
        try:
            row = store.get_subscription(session, subscription_id, tenant_id=tenant.id)
        except RecordNotFoundError as error:
            raise _not_found(error) from None
        until = store.set_secret(row, secret, cipher=runtime.cipher, now=now, keep_previous=overlap)
        return RotatedSecret(
            **_out(row).model_dump(), secret=secret, previous_secret_signs_until=until
        )


@router.delete(
    "/subscriptions/{subscription_id}", status_code=204, summary="Unsubscribe (and drop its log)"
)
def remove(subscription_id: str, tenant: TenantDep, runtime: RuntimeDep) -> Response:
    with runtime.sessions.begin() as session:
        try:
            row = store.get_subscription(session, subscription_id, tenant_id=tenant.id)
        except RecordNotFoundError as error:
            raise _not_found(error) from None
        store.delete_subscription(session, row)
    return Response(status_code=204)


@router.post(
    "/subscriptions/{subscription_id}/replay",
    summary="Send a subscription's deliveries again (by default the failed ones)",
)
def replay_subscription(
    subscription_id: str, body: ReplayIn, tenant: TenantDep, runtime: RuntimeDep
) -> Replayed:
    with runtime.sessions.begin() as session:
        try:
            store.get_subscription(session, subscription_id, tenant_id=tenant.id)
        except RecordNotFoundError as error:
            raise _not_found(error) from None
        count = store.replay_subscription(
            session,
            subscription_id,
            status=None if body.status == "all" else body.status,
            since=body.since,
            now=utc_now(),
        )
        return Replayed(replayed=count)


@router.get("/deliveries", summary="The delivery log: deliveries with every attempt, paged")
def deliveries(
    tenant: TenantDep,
    runtime: RuntimeDep,
    *,
    subscription_id: str | None = None,
    return_id: str | None = None,
    status: Literal["pending", "delivered", "failed", "skipped"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> DeliveryPage:
    with runtime.reads() as session:
        before = None
        if cursor is not None:
            try:
                last = store.get_delivery(session, cursor, tenant_id=tenant.id)
            except RecordNotFoundError:
                raise ApiProblem(
                    422, "INVALID_CURSOR", "that page cursor names no delivery", field="cursor"
                ) from None
            before = last
        rows = store.list_deliveries(
            session,
            tenant.id,
            subscription_id=subscription_id,
            return_id=return_id,
            status=status,
            before=before,
            limit=limit,
        )
        logs = store.attempts_of(session, [r.id for r in rows])
    return DeliveryPage(
        items=[_delivery_out(r, logs[r.id]) for r in rows],
        next_cursor=rows[-1].id if len(rows) == limit else None,
    )


@router.get("/deliveries/{delivery_id}", summary="One delivery with every attempt")
def delivery(delivery_id: str, tenant: TenantDep, runtime: RuntimeDep) -> DeliveryOut:
    with runtime.reads() as session:
        try:
            row = store.get_delivery(session, delivery_id, tenant_id=tenant.id)
        except RecordNotFoundError as error:
            raise _not_found(error) from None
        return _delivery_out(row, store.attempts_of(session, [row.id])[row.id])


@router.post("/deliveries/{delivery_id}/replay", summary="Send one delivery again")
def replay_one(delivery_id: str, tenant: TenantDep, runtime: RuntimeDep) -> Replayed:
    with runtime.sessions.begin() as session:
        try:
            row = store.get_delivery(session, delivery_id, tenant_id=tenant.id)
        except RecordNotFoundError as error:
            raise _not_found(error) from None
        return Replayed(replayed=store.replay([row], now=utc_now()))
