"""What a callback says: one status change of one return, as JSON."""

from __future__ import annotations

from typing import Any

from returnbridge.domain.returns import ReturnStatus
from returnbridge.store.tables import Return, TimelineEvent

EVENT_TYPES = tuple(f"return.{status.value}" for status in ReturnStatus)
"""Every callback type: `return.<status>` for each status a return can enter."""


def event_type(event: TimelineEvent) -> str:
    return f"return.{event.to_status}"


def build(event: TimelineEvent, record: Return) -> dict[str, Any]:
    """The callback body for `event` (a status change) of `record`.

    `refund_total` is in minor units of `currency` (null until a refund is planned);
    the return's fields are read when the delivery is recorded, a moment after the change.
    """
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
            "refund_total": record.refund_total,
            "currency": record.currency,
            "matched_order_id": record.matched_order_id,
            "matched_order_name": record.matched_order_name,
            "event_id": event.id,
            "at": event.at.isoformat(),
        },
    }
