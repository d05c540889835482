"""What a callback says: one status change of one return, as JSON."""

from __future__ import annotations

from typing import Any

from returnbridge.store.tables import Return, TimelineEvent

EVENT_TYPES = tuple(
    f"return.{status}"
    for status in (
        "received",
        "matched",
        "planned",
        "refunded",
        "restocked",
        "synced",
        "notified",
        "completed",
        "needs_review",
        "failed",
        "cancelled",
    )
)


def event_type(event: TimelineEvent) -> str:
    return f"return.{event.to_status}"


def build(event: TimelineEvent, record: Return) -> dict[str, Any]:
    """The callback body for `event` (a status change) of `record`."""
    refund = None
    if record.refund_total is not None and record.currency:
        refund = {"minor": record.refund_total, "currency": record.currency}
    return {
        "type": event_type(event),
        "timestamp": event.at.isoformat(),
        "data": {
            "return_id": record.id,
            "external_id": record.external_id,
            "revision": record.revision,
            "status": event.to_status,
            "previous_status": event.from_status,
            "event": event.event,
            "reason": event.reason,
            "actor": event.actor,
            "refund_total": refund,
            "matched_order_id": record.matched_order_id,
            "matched_order_name": record.matched_order_name,
            "event_id": event.id,
        },
    }
