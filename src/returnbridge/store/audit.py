"""The audit log: every Connectivity API and MCP call, per tenant, newest first."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from returnbridge.store.clock import Clock, utc_now
from returnbridge.store.ids import IdSource, new_id
from returnbridge.store.tables import AuditEvent

DETAIL_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Entry:
    """One call to record; `summary` holds what was asked, never a credential."""

    channel: str
    actor: str
    action: str
    outcome: str
    connection_id: str | None = None
    return_id: str | None = None
    idempotency_key: str | None = None
    status_code: int | None = None
    detail: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    duration_ms: int | None = None


def record(
    session: Session,
    tenant_id: str,
    entry: Entry,
    *,
    ids: IdSource = new_id,
    clock: Clock = utc_now,
) -> AuditEvent:
    event = AuditEvent(
        id=ids("aud"),
        tenant_id=tenant_id,
        at=clock(),
        channel=entry.channel,
        actor=entry.actor[:200],
        action=entry.action[:60],
        outcome=entry.outcome,
        connection_id=entry.connection_id,
        return_id=entry.return_id,
        idempotency_key=entry.idempotency_key,
        status_code=entry.status_code,
        detail=(entry.detail or None) and entry.detail[:DETAIL_LIMIT],
        summary=entry.summary,
        duration_ms=entry.duration_ms,
    )
    session.add(event)
    session.flush()
    return event


def attach_return(session: Session, event_id: str, return_id: str) -> None:
    """Name the return a recorded call made (known only after the call)."""
    event = session.get(AuditEvent, event_id)
    if event is not None:
        event.return_id = return_id


def list_events(
    session: Session,
    tenant_id: str,
    *,
    channel: str | None = None,
    action: str | None = None,
    before: datetime | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
    if channel:
        query = query.where(AuditEvent.channel == channel)
    if action:
        query = query.where(AuditEvent.action == action)
    if before is not None:
        query = query.where(AuditEvent.at < before)
    query = query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    return list(session.scalars(query))


def count_since(
    session: Session, tenant_id: str, *, channel: str, action: str, outcome: str, since: datetime
) -> int:
    """How many `action` calls on `channel` ended with `outcome` since `since` (caps)."""
    from sqlalchemy import func

    query = select(func.count()).where(
        AuditEvent.tenant_id == tenant_id,
        AuditEvent.channel == channel,
        AuditEvent.action == action,
        AuditEvent.outcome == outcome,
        AuditEvent.at >= since,
    )
    return int(session.scalar(query) or 0)
