"""What a callback says about one status change (built from the timeline row and the return)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from returnbridge.domain.returns import ReturnStatus
from returnbridge.notify.callbacks.payload import EVENT_TYPES, build, event_type
from returnbridge.store.tables import Return, TimelineEvent

AT = datetime(2026, 11, 28, 20, 59, 7, tzinfo=UTC)


def _event(**values: object) -> TimelineEvent:
    fields: dict[str, object] = {
        "id": 42,
        "return_id": "ret_1",
        "tenant_id": "ten_1",
        "at": AT,
        "from_status": "restocked",
        "to_status": "refunded",
        "event": "refund_created",
        "actor": "engine",
        "reason": None,
        "data": {},
    }
    return TimelineEvent(**(fields | values))


def _return(**values: object) -> Return:
    fields: dict[str, object] = {
        "id": "ret_1",
        "tenant_id": "ten_1",
        "external_id": "TCK-1",
        "revision": 2,
        "status": "refunded",
        "matched_order_id": "gid://shopify/Order/2001",
        "matched_order_name": "#2001",
        "refund_total": 3884,
        "currency": "USD",
    }
    return Return(**(fields | values))


def test_every_status_a_return_can_enter_is_a_callback_type() -> None:
    assert tuple(f"return.{s.value}" for s in ReturnStatus) == EVENT_TYPES
    assert "return.needs_review" in EVENT_TYPES


def test_a_refund_is_reported_in_minor_units_beside_its_currency() -> None:
    body = build(_event(), _return())
    assert body == {
        "type": "return.refunded",
        "timestamp": "2026-11-28T20:59:07+00:00",
        "data": {
            "return_id": "ret_1",
            "external_id": "TCK-1",
            "revision": 2,
            "status": "refunded",
            "previous_status": "restocked",
            "event": "refund_created",
            "reason": None,
            "actor": "engine",
            "refund_total": 3884,
            "currency": "USD",
            "matched_order_id": "gid://shopify/Order/2001",
            "matched_order_name": "#2001",
            "event_id": 42,
            "at": "2026-11-28T20:59:07+00:00",
        },
    }
    assert json.loads(json.dumps(body)) == body


def test_a_return_that_parks_before_any_refund_says_why_and_has_no_total() -> None:
    event = _event(
        to_status="needs_review",
        from_status="received",
        event="order_ambiguous",
        reason="two orders match",
    )
    body = build(event, _return(refund_total=None, matched_order_id=None))
    assert event_type(event) == body["type"] == "return.needs_review"
    data = body["data"]
    assert (data["reason"], data["refund_total"], data["matched_order_id"]) == (
        "two orders match",
        None,
        None,
    )
