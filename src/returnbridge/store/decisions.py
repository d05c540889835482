"""Why returns wait for a human, and what humans decided: read from the timeline.

A decision (an order chosen, an approval, a cancellation) is a timeline event with its actor,
so the timeline stays the one record of who did what; nothing else is stored beside it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from returnbridge.store.tables import TimelineEvent

NEEDS_REVIEW = "needs_review"
APPROVED = "approved"
"""A human approved a `requested` return in review, for one revision (`engine/review.py`)."""


def parked_events(
    session: Session, tenant_id: str, return_ids: Sequence[str]
) -> dict[str, TimelineEvent]:
    """For each return, the last event that moved it into `needs_review` (one query)."""
    if not return_ids:
        return {}
    latest = (
        select(func.max(TimelineEvent.id))
        .where(
            TimelineEvent.tenant_id == tenant_id,
            TimelineEvent.return_id.in_(list(return_ids)),
            TimelineEvent.to_status == NEEDS_REVIEW,
            TimelineEvent.from_status != NEEDS_REVIEW,
        )
        .group_by(TimelineEvent.return_id)
    )
    rows = session.scalars(select(TimelineEvent).where(TimelineEvent.id.in_(latest)))
    return {event.return_id: event for event in rows}


def count_events(session: Session, tenant_id: str, return_id: str, events: Collection[str]) -> int:
    """How many of these events the return's timeline holds."""
    return int(
        session.scalar(
            select(func.count(TimelineEvent.id)).where(
                TimelineEvent.tenant_id == tenant_id,
                TimelineEvent.return_id == return_id,
                TimelineEvent.event.in_(list(events)),
            )
        )
        or 0
    )


def approval_of(
    session: Session, tenant_id: str, return_id: str, *, revision: int
) -> TimelineEvent | None:
    """The human approval recorded for this revision of the return, if any."""
    rows = session.scalars(
        select(TimelineEvent)
        .where(
            TimelineEvent.tenant_id == tenant_id,
            TimelineEvent.return_id == return_id,
            TimelineEvent.event == APPROVED,
        )
        .order_by(TimelineEvent.id.desc())
    )
    return next((e for e in rows if (e.data or {}).get("revision") == revision), None)
