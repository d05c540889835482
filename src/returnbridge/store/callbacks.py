"""Vendor callback subscriptions, their deliveries and the log of every attempt.

Deliveries are made from the timeline: one per (subscription, status-change event), inserted
if absent, so scanning the same events again never doubles one. Every query of tenant data
filters on the tenant.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from returnbridge.store.clock import utc_now
from returnbridge.store.crypto import CredentialCipher
from returnbridge.store.errors import RecordNotFoundError
from returnbridge.store.ids import new_id
from returnbridge.store.tables import (
    CallbackAttempt,
    CallbackDelivery,
    CallbackSubscription,
    Return,
    TimelineEvent,
)

ACTIVE = "active"
DISABLED = "disabled"
PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
LATE_COMMIT = timedelta(seconds=120)
"""Events are read again this far back: a transaction may commit after a later one."""


def create_subscription(
    session: Session,
    tenant_id: str,
    *,
    url: str,
    event_types: Sequence[str],
    description: str | None,
    secret: str,
    cipher: CredentialCipher,
    now: datetime | None = None,
) -> CallbackSubscription:
    at = now or utc_now()
    row = CallbackSubscription(
        id=new_id("cbs"),
        tenant_id=tenant_id,
        url=url,
        description=description,
        event_types=list(event_types),
        secret_encrypted=cipher.encrypt({"secret": secret}),
        status=ACTIVE,
        disabled_reason=None,
        failing_since=None,
        cursor_at=at,
        created_at=at,
        updated_at=at,
    )
    session.add(row)
    session.flush()
    return row


def get_subscription(
    session: Session, subscription_id: str, *, tenant_id: str
) -> CallbackSubscription:
    row = session.get(CallbackSubscription, subscription_id)
    if row is None or row.tenant_id != tenant_id:
        raise RecordNotFoundError(
            message="callback subscription not found", kind="subscription", id=subscription_id
        )
    return row


def list_subscriptions(session: Session, tenant_id: str) -> list[CallbackSubscription]:
    return list(
        session.scalars(
            select(CallbackSubscription)
            .where(CallbackSubscription.tenant_id == tenant_id)
            .order_by(CallbackSubscription.created_at)
        )
    )


_ANY = select(CallbackSubscription.id).limit(1)


def any_subscription(session: Session) -> bool:
    """Whether any tenant subscribed at all (a worker's callback round starts here)."""
    return session.execute(_ANY).first() is not None


def all_subscriptions(session: Session) -> list[CallbackSubscription]:
    """Every tenant's subscriptions: disabled ones still record their deliveries (pending)."""
    return list(session.scalars(select(CallbackSubscription)))


def signing_secrets(
    row: CallbackSubscription, *, cipher: CredentialCipher, now: datetime
) -> tuple[str, ...]:
    """The secrets a callback is signed with: the current one, and the one it replaced
    while the rotation's overlap lasts (a receiver accepts either signature)."""
    stored = cipher.decrypt(row.secret_encrypted)
    until = stored.get("previous_until")
    if stored.get("previous") and until and datetime.fromisoformat(str(until)) > now:
        return (str(stored["secret"]), str(stored["previous"]))
    return (str(stored["secret"]),)


def set_secret(
    row: CallbackSubscription,
    secret: str,
    *,
    cipher: CredentialCipher,
    now: datetime,
    keep_previous: timedelta = timedelta(0),
) -> datetime | None:
    """Replace the signing secret; the old one still signs for `keep_previous` (until when)."""
    value: dict[str, str] = {"secret": secret}
    until = None
    if keep_previous > timedelta(0):
        until = now + keep_previous
        previous = str(cipher.decrypt(row.secret_encrypted)["secret"])
        value |= {"previous": previous, "previous_until": until.isoformat()}
    row.secret_encrypted = cipher.encrypt(value)
    row.updated_at = now
    return until


def delete_subscription(session: Session, row: CallbackSubscription) -> None:
    ids = select(CallbackDelivery.id).where(CallbackDelivery.subscription_id == row.id)
    session.execute(delete(CallbackAttempt).where(CallbackAttempt.delivery_id.in_(ids)))
    session.execute(delete(CallbackDelivery).where(CallbackDelivery.subscription_id == row.id))
    session.delete(row)
    session.flush()


def _status_change(tenant_id: str, since: datetime) -> list[ColumnElement[bool]]:
    return [
        TimelineEvent.tenant_id == tenant_id,
        TimelineEvent.at >= since,
        TimelineEvent.to_status.is_not(None),
        or_(
            TimelineEvent.from_status.is_(None),
            TimelineEvent.from_status != TimelineEvent.to_status,
        ),
    ]


def undelivered_changes(
    session: Session,
    subscription: CallbackSubscription,
    *,
    since: datetime,
    statuses: Collection[str],
    limit: int,
) -> list[tuple[TimelineEvent, Return]]:
    """The tenant's status changes at or after `since` (into one of `statuses`; empty: any)
    with no delivery for `subscription` yet, oldest first, at most `limit`, with their returns.
    Changes already recorded are skipped in the query, so a full batch always makes progress."""
    recorded = select(CallbackDelivery.id).where(
        CallbackDelivery.subscription_id == subscription.id,
        CallbackDelivery.event_id == TimelineEvent.id,
    )
    statement = (
        select(TimelineEvent, Return)
        .join(Return, Return.id == TimelineEvent.return_id)
        .where(*_status_change(subscription.tenant_id, since), ~recorded.exists())
        .order_by(TimelineEvent.at, TimelineEvent.id)
        .limit(limit)
    )
    if statuses:
        statement = statement.where(TimelineEvent.to_status.in_(sorted(statuses)))
    return [(event, record) for event, record in session.execute(statement).tuples()]


def newest_change_at(session: Session, tenant_id: str, *, since: datetime) -> datetime | None:
    """When the tenant's newest status change at or after `since` happened."""
    return session.scalar(
        select(func.max(TimelineEvent.at)).where(*_status_change(tenant_id, since))
    )


def add_deliveries(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert deliveries, skipping any (subscription, event) already there."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    maker = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = maker(CallbackDelivery).on_conflict_do_nothing(
        index_elements=["subscription_id", "event_id"]
    )
    session.execute(statement, rows)


def any_due(session: Session, *, now: datetime) -> bool:
    """Whether some delivery of an active subscription is due (a cheap look before claiming)."""
    found = session.scalar(
        select(CallbackDelivery.id)
        .join(CallbackSubscription, CallbackSubscription.id == CallbackDelivery.subscription_id)
        .where(
            CallbackDelivery.status == PENDING,
            CallbackDelivery.next_attempt_at <= now,
            CallbackSubscription.status == ACTIVE,
        )
        .limit(1)
    )
    return found is not None


def claim_due(
    session: Session, *, now: datetime, lease: timedelta, limit: int = 50
) -> list[tuple[CallbackDelivery, CallbackSubscription]]:
    """Due deliveries of active subscriptions, oldest first, leased for `lease`: another
    worker skips them (`SKIP LOCKED` on PostgreSQL) and they are not due again meanwhile."""
    statement = (
        select(CallbackDelivery, CallbackSubscription)
        .join(CallbackSubscription, CallbackSubscription.id == CallbackDelivery.subscription_id)
        .where(
            CallbackDelivery.status == PENDING,
            CallbackDelivery.next_attempt_at <= now,
            CallbackSubscription.status == ACTIVE,
        )
        .order_by(
            CallbackDelivery.next_attempt_at,
            CallbackDelivery.created_at,
            CallbackDelivery.event_id,  # changes recorded at one instant, in their order
        )
        .limit(limit)
        .with_for_update(skip_locked=True, of=CallbackDelivery)
    )
    claimed = [(delivery, subscription) for delivery, subscription in session.execute(statement)]
    for delivery, _ in claimed:
        delivery.next_attempt_at = now + lease
    session.flush()
    return claimed


def add_attempt(
    session: Session,
    delivery: CallbackDelivery,
    *,
    at: datetime,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
    excerpt: str | None,
) -> None:
    session.add(
        CallbackAttempt(
            delivery_id=delivery.id,
            tenant_id=delivery.tenant_id,
            at=at,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
            response_excerpt=excerpt,
        )
    )


def failures_since(session: Session, subscription_id: str, *, since: datetime) -> int:
    """Failed attempts of the subscription's deliveries at or after `since`."""
    return int(
        session.scalar(
            select(func.count(CallbackAttempt.id))
            .join(CallbackDelivery, CallbackDelivery.id == CallbackAttempt.delivery_id)
            .where(
                CallbackDelivery.subscription_id == subscription_id,
                CallbackAttempt.at >= since,
                CallbackAttempt.error.is_not(None),
            )
        )
        or 0
    )


def get_delivery(session: Session, delivery_id: str, *, tenant_id: str) -> CallbackDelivery:
    row = session.get(CallbackDelivery, delivery_id)
    if row is None or row.tenant_id != tenant_id:
        raise RecordNotFoundError(
            message="callback delivery not found", kind="delivery", id=delivery_id
        )
    return row


def list_deliveries(
    session: Session,
    tenant_id: str,
    *,
    subscription_id: str | None = None,
    return_id: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    before: CallbackDelivery | None = None,
    limit: int | None = 100,
) -> list[CallbackDelivery]:
    """The tenant's deliveries, newest first; `before` (the last one seen) gives the next
    page."""
    statement = select(CallbackDelivery).where(CallbackDelivery.tenant_id == tenant_id)
    if subscription_id:
        statement = statement.where(CallbackDelivery.subscription_id == subscription_id)
    if return_id:
        statement = statement.where(CallbackDelivery.return_id == return_id)
    if status:
        statement = statement.where(CallbackDelivery.status == status)
    if since is not None:
        statement = statement.where(CallbackDelivery.created_at >= since)
    key = (
        CallbackDelivery.created_at,
        func.coalesce(CallbackDelivery.event_id, 0),
        CallbackDelivery.id,
    )
    if before is not None:
        statement = statement.where(
            tuple_(*key) < tuple_(before.created_at, before.event_id or 0, before.id)
        )
    statement = statement.order_by(*(column.desc() for column in key))
    if limit is not None:
        statement = statement.limit(limit)
    return list(session.scalars(statement))


def attempts_of(session: Session, delivery_ids: Sequence[str]) -> dict[str, list[CallbackAttempt]]:
    out: dict[str, list[CallbackAttempt]] = {d: [] for d in delivery_ids}
    if not delivery_ids:
        return out
    rows = session.scalars(
        select(CallbackAttempt)
        .where(CallbackAttempt.delivery_id.in_(list(delivery_ids)))
        .order_by(CallbackAttempt.id)
    )
    for row in rows:
        out[row.delivery_id].append(row)
    return out


def replay_subscription(
    session: Session,
    subscription_id: str,
    *,
    status: str | None,
    since: datetime | None,
    now: datetime,
) -> int:
    """Send the subscription's deliveries (of `status`, of changes since `since`) again from
    the start of the schedule, in one statement; how many."""
    statement = update(CallbackDelivery).where(CallbackDelivery.subscription_id == subscription_id)
    if status is not None:
        statement = statement.where(CallbackDelivery.status == status)
    if since is not None:
        statement = statement.where(CallbackDelivery.created_at >= since)
    result = session.execute(
        statement.values(status=PENDING, attempts=0, next_attempt_at=now),
        execution_options={"synchronize_session": False},
    )
    return int(getattr(result, "rowcount", 0) or 0)


def replay(deliveries: Sequence[CallbackDelivery], *, now: datetime) -> int:
    """Send these deliveries again from the start of the schedule (their log is kept)."""
    for delivery in deliveries:
        delivery.status = PENDING
        delivery.attempts = 0
        delivery.next_attempt_at = now
    return len(deliveries)
