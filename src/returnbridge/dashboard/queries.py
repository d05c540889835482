"""What the dashboard reads, always for one tenant: returns filtered and searched, the charts'
figures, a return's refund rows, and each connection's history as the database keeps it."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from returnbridge.store.tables import Connection, Refund, Return, SourceDelivery, TimelineEvent

PAGE = 50


@dataclass(frozen=True, slots=True)
class ReturnFilter:
    status: str | None = None
    platform: str | None = None
    text: str | None = None
    """Part of the return id, the external id, the matched order's name or the order
    reference the vendor sent (number, email, ...)."""


def _contains(text: str) -> str:
    """A LIKE pattern for `text` anywhere, its own `%`, `_` and `\\` taken literally."""
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def find_returns(
    session: Session, tenant_id: str, wanted: ReturnFilter, *, limit: int = PAGE, skip: int = 0
) -> list[tuple[Return, str]]:
    """The tenant's returns, newest first, with their connection's platform; `skip` the
    newest ones (the pages before)."""
    query = (
        select(Return, Connection.platform)
        .join(Connection, Connection.id == Return.connection_id)
        .where(Return.tenant_id == tenant_id)
    )
    if wanted.status:
        query = query.where(Return.status == wanted.status)
    if wanted.platform:
        query = query.where(Connection.platform == wanted.platform)
    if wanted.text:
        pattern = _contains(wanted.text)
        query = query.where(
            or_(
                func.lower(Return.external_id).like(pattern, escape="\\"),
                func.lower(Return.matched_order_name).like(pattern, escape="\\"),
                func.lower(Return.id).like(pattern, escape="\\"),
                func.lower(cast(Return.order_ref, String)).like(pattern, escape="\\"),
            )
        )
    query = query.order_by(Return.created_at.desc(), Return.id.desc()).offset(skip).limit(limit)
    return [(row[0], row[1]) for row in session.execute(query)]


def statuses_of(session: Session, tenant_id: str, ids: list[str]) -> dict[str, str]:
    """The current status of some of the tenant's returns (the live refresh)."""
    if not ids:
        return {}
    query = select(Return.id, Return.status).where(
        Return.tenant_id == tenant_id, Return.id.in_(ids)
    )
    return {row[0]: row[1] for row in session.execute(query)}


def refunds_of(session: Session, tenant_id: str, return_id: str) -> list[Refund]:
    query = select(Refund).where(Refund.tenant_id == tenant_id, Refund.return_id == return_id)
    return list(session.scalars(query.order_by(Refund.created_at)))


@dataclass(frozen=True, slots=True)
class Figures:
    """What the charts draw."""

    days: list[str]
    per_day: dict[str, dict[str, int]]
    """day -> status -> returns created that day (by their status now)."""
    refunded: dict[str, dict[str, int]]
    """currency -> day -> minor units refunded (succeeded refunds made that day)."""
    to_refund: Counter[str]
    """duration bucket -> returns whose refund came that long after they were received."""


DURATION_BUCKETS = ("< 1 min", "1–5 min", "5–60 min", "1–24 h", "> 1 day")


def _bucket(seconds: float) -> str:
    if seconds < 60:
        return DURATION_BUCKETS[0]
    if seconds < 300:
        return DURATION_BUCKETS[1]
    if seconds < 3600:
        return DURATION_BUCKETS[2]
    if seconds < 86400:
        return DURATION_BUCKETS[3]
    return DURATION_BUCKETS[4]


def figures(session: Session, tenant_id: str, *, now: datetime, days: int = 14) -> Figures:
    start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    day_names = [(start + timedelta(days=n)).date().isoformat() for n in range(days)]
    per_day: dict[str, dict[str, int]] = {d: defaultdict(int) for d in day_names}
    rows = session.execute(
        select(Return.created_at, Return.status).where(
            Return.tenant_id == tenant_id, Return.created_at >= start
        )
    )
    for created_at, status in rows:
        day = created_at.date().isoformat()
        if day in per_day:
            per_day[day][status] += 1
    refunded: dict[str, dict[str, int]] = {}
    made = session.execute(
        select(Refund.currency, Refund.amount, Refund.updated_at).where(
            Refund.tenant_id == tenant_id,
            Refund.status == "succeeded",
            Refund.updated_at >= start,
        )
    )
    for currency, amount, at in made:
        daily = refunded.setdefault(currency, dict.fromkeys(day_names, 0))
        day = at.date().isoformat()
        if day in daily:
            daily[day] += int(amount)
    first_refund = (
        select(TimelineEvent.return_id, func.min(TimelineEvent.at).label("at"))
        .where(TimelineEvent.tenant_id == tenant_id, TimelineEvent.to_status == "refunded")
        .group_by(TimelineEvent.return_id)
        .subquery()
    )
    pairs = session.execute(
        select(Return.created_at, first_refund.c.at).join(
            first_refund, first_refund.c.return_id == Return.id
        )
    )
    to_refund: Counter[str] = Counter()
    for received, refunded_at in pairs:
        to_refund[_bucket((refunded_at - received).total_seconds())] += 1
    return Figures(
        days=day_names,
        per_day={d: dict(v) for d, v in per_day.items()},
        refunded=refunded,
        to_refund=to_refund,
    )


@dataclass(frozen=True, slots=True)
class ConnectionHistory:
    """A connection's health as the database remembers it (it outlives the process, unlike
    the connector's own state): its returns, its last refund, its last failed return."""

    returns: int = 0
    last_return_at: datetime | None = None
    last_refund_at: datetime | None = None
    last_refund: str | None = None
    """The platform's id of the last refund made through the connection."""
    last_failure_at: datetime | None = None
    last_failure: str | None = None
    """Why the last of its returns failed (the timeline's sentence)."""


def connection_history(session: Session, tenant_id: str) -> dict[str, ConnectionHistory]:
    """connection id -> its history, for the tenant's connections that have any."""
    found: dict[str, ConnectionHistory] = {}
    counted = session.execute(
        select(Return.connection_id, func.count(), func.max(Return.created_at))
        .where(Return.tenant_id == tenant_id)
        .group_by(Return.connection_id)
    )
    for connection_id, count, last_at in counted:
        found[connection_id] = ConnectionHistory(returns=int(count), last_return_at=last_at)
    refunds = session.execute(
        select(Refund.connection_id, Refund.platform_refund_id, Refund.updated_at)
        .where(Refund.tenant_id == tenant_id, Refund.status == "succeeded")
        .order_by(Refund.updated_at.desc())
        .limit(500)
    )
    for connection_id, refund_id, at in refunds:
        known = found.get(connection_id, ConnectionHistory())
        if known.last_refund_at is None:  # the newest comes first
            found[connection_id] = replace(known, last_refund_at=at, last_refund=refund_id)
    failures = session.execute(
        select(Return.connection_id, TimelineEvent.at, TimelineEvent.reason)
        .join(Return, Return.id == TimelineEvent.return_id)
        .where(
            TimelineEvent.tenant_id == tenant_id,
            Return.tenant_id == tenant_id,
            TimelineEvent.to_status == "failed",
        )
        .order_by(TimelineEvent.at.desc())
        .limit(500)
    )
    for connection_id, at, reason in failures:
        known = found.get(connection_id, ConnectionHistory())
        if known.last_failure_at is None:
            found[connection_id] = replace(known, last_failure_at=at, last_failure=reason)
    return found


@dataclass(frozen=True, slots=True)
class Deliveries:
    """A push source's signed deliveries still on record (they are forgotten after a while)."""

    count: int
    last_at: datetime | None


def push_deliveries(session: Session, tenant_id: str) -> dict[str, Deliveries]:
    """source id -> its deliveries, for the tenant's push sources that received any."""
    rows = session.execute(
        select(SourceDelivery.source_id, func.count(), func.max(SourceDelivery.received_at))
        .where(SourceDelivery.tenant_id == tenant_id)
        .group_by(SourceDelivery.source_id)
    )
    return {source_id: Deliveries(int(n), last_at) for source_id, n, last_at in rows}
