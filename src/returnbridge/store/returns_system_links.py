"""A return's counterpart in the tenant's returns system (Loop Returns): one row per return.

The sync step creates the row before it asks the returns system for anything, so a retry
knows what was already done; webhooks and the poll find the row by the external id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from returnbridge.store.tables import ReturnsSystemLink

SETTLED_STATES = frozenset({"closed", "cancelled", "expired"})
"""States after which the returns system will not change the return by itself."""


def get_link(session: Session, return_id: str, *, tenant_id: str) -> ReturnsSystemLink | None:
    link = session.get(ReturnsSystemLink, return_id)
    return link if link is not None and link.tenant_id == tenant_id else None


def start_link(
    session: Session, *, tenant_id: str, return_id: str, connection_id: str, now: datetime
) -> ReturnsSystemLink:
    """The return's link, created (state ``opening``) when it has none yet."""
    link = get_link(session, return_id, tenant_id=tenant_id)
    if link is None:
        link = ReturnsSystemLink(
            return_id=return_id,
            tenant_id=tenant_id,
            connection_id=connection_id,
            external_id=None,
            state="opening",
            action=None,
            settled=False,
            details={},
            created_at=now,
            updated_at=now,
        )
        session.add(link)
        session.flush()
    return link


def by_external_id(
    session: Session, connection_id: str, external_id: str
) -> ReturnsSystemLink | None:
    return session.scalar(
        select(ReturnsSystemLink).where(
            ReturnsSystemLink.connection_id == connection_id,
            ReturnsSystemLink.external_id == external_id,
        )
    )


def update_link(
    link: ReturnsSystemLink,
    *,
    now: datetime,
    state: str | None = None,
    external_id: str | None = None,
    action: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Record what the returns system said or what we asked of it."""
    if external_id is not None:
        link.external_id = external_id
    if state is not None:
        link.state = state
        link.settled = state in SETTLED_STATES
    if action is not None:
        link.action = action
    if details is not None:
        link.details = {**(link.details or {}), **details}
    link.updated_at = now


def unsettled(session: Session, connection_id: str, *, limit: int = 500) -> list[ReturnsSystemLink]:
    """Links of `connection_id` whose return the returns system has not settled yet."""
    return list(
        session.scalars(
            select(ReturnsSystemLink)
            .where(
                ReturnsSystemLink.connection_id == connection_id,
                ReturnsSystemLink.settled.is_(False),
                ReturnsSystemLink.external_id.is_not(None),
            )
            .order_by(ReturnsSystemLink.updated_at)
            .limit(limit)
        )
    )


def connections_with_unsettled(session: Session) -> list[str]:
    """Returns-system connections that have returns still open there (the poll's work list)."""
    return list(
        session.scalars(
            select(ReturnsSystemLink.connection_id)
            .where(
                ReturnsSystemLink.settled.is_(False),
                ReturnsSystemLink.external_id.is_not(None),
            )
            .distinct()
        )
    )
