"""The review queue end to end: scored matching parks a return, a human decides, it resumes.

A real gateway (API on loopback, DBOS worker, SQLite) against the Shopify sandbox; the
sandbox's journal says how many refunds reached the "platform".
"""

from __future__ import annotations

from typing import Any

import pytest

from returnbridge.store.connections import update_connection
from support.gateway import Gateway, Sandbox, simple_order

pytestmark = pytest.mark.timeout(180)

SAM = "sam@example.com"


def _by_email(external_id: str, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "external_id": external_id,
        "channel": "email",
        "requested_at": "2026-02-01T09:00:00Z",
        "order": {"customer_email": SAM},
        "lines": [{"sku": "MUG-WHT", "quantity": 1}],
    }
    event.update(extra)
    return event


def _settings(gateway: Gateway, **settings: Any) -> None:
    with gateway.runtime.sessions.begin() as session:
        update_connection(
            session,
            gateway.connection_id,
            tenant_id=gateway.tenant_id,
            settings={"restock_location_id": "gid://shopify/Location/2", **settings},
        )


def _two_orders_of_sam(sandbox: Sandbox) -> None:
    sandbox.seed_order(simple_order(3001, email=SAM, created_at="2026-01-10T10:00:00Z"))
    sandbox.seed_order(simple_order(3002, email=SAM, created_at="2026-01-20T10:00:00Z"))
    # Same customer, but two years before the request: outside the date window, not searched.
    sandbox.seed_order(simple_order(3000, email=SAM, created_at="2024-01-05T10:00:00Z"))


def _parked(gateway: Gateway, event: dict[str, Any]) -> dict[str, Any]:
    body = gateway.wait_for(gateway.post_return(event).json()["return"]["id"])
    assert body["status"] == "needs_review", body["timeline"][-1]
    return body


def test_an_ambiguous_order_waits_with_scored_candidates_and_resolving_it_refunds_once(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    _two_orders_of_sam(sandbox)
    parked = _parked(gateway, _by_email("MAIL-1"))

    assert parked["timeline"][-1]["event"] == "order_ambiguous"
    scored = {c["name"]: c for c in parked["candidates"]}
    assert set(scored) == {"#3001", "#3002"}
    for candidate in scored.values():
        assert candidate["score"] == 70
        assert f"+40 customer email is {SAM}" in candidate["reasons"]
        assert "+30 1 of 1 returned SKUs are on the order" in candidate["reasons"]
    queue = gateway.api.get("/v1/returns", params={"status": "needs_review"}).json()["items"]
    assert [r["id"] for r in queue] == [parked["id"]]
    assert queue[0]["review"]["event"] == "order_ambiguous"
    assert "within the tie margin 10" in queue[0]["review"]["reason"]
    assert queue[0]["review"]["actions"] == ["resolve", "retry", "cancel"]
    assert sandbox.refunds_created() == []

    response = gateway.api.post(f"/v1/returns/{parked['id']}/resolve", json={"order": "#3002"})
    assert response.status_code == 202, response.text
    done = gateway.wait_for_status(parked["id"], "completed")

    assert done["matched_order_id"] == "gid://shopify/Order/3002"
    assert len(sandbox.refunds_created()) == 1
    assert [r["order_id"] for r in done["refunds"]] == ["gid://shopify/Order/3002"]
    resolved = next(e for e in done["timeline"] if e["event"] == "order_resolved")
    assert resolved["actor"] == f"tenant:{gateway.tenant_id}"
    assert resolved["data"]["order_id"] == "gid://shopify/Order/3002"
    assert resolved["data"]["score"] == 70
    assert done["review"] is None


def test_a_resolved_return_is_not_in_review_any_more(gateway: Gateway, sandbox: Sandbox) -> None:
    _two_orders_of_sam(sandbox)
    parked = _parked(gateway, _by_email("MAIL-2"))
    first = gateway.api.post(f"/v1/returns/{parked['id']}/resolve", json={"order": "#3001"})
    assert first.status_code == 202
    gateway.wait_for_status(parked["id"], "completed")

    again = gateway.api.post(f"/v1/returns/{parked['id']}/resolve", json={"order": "#3002"})
    assert again.status_code == 409
    assert again.json()["code"] == "NOT_IN_REVIEW"
    assert len(sandbox.refunds_created()) == 1


def test_an_order_that_is_no_candidate_must_exist_on_the_platform(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    _two_orders_of_sam(sandbox)
    parked = _parked(gateway, _by_email("MAIL-3"))

    unknown = gateway.api.post(
        f"/v1/returns/{parked['id']}/resolve", json={"order": "gid://shopify/Order/9999"}
    )
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "UNKNOWN_ORDER"
    assert unknown.json()["field"] == "order"

    # Order #3000 was outside the date window, so no candidate, but the platform confirms it.
    outside = gateway.api.post(f"/v1/returns/{parked['id']}/resolve", json={"order": "#3000"})
    assert outside.status_code == 202, outside.text
    done = gateway.wait_for_status(parked["id"], "completed")
    assert done["matched_order_id"] == "gid://shopify/Order/3000"
    assert len(sandbox.refunds_created()) == 1


def test_a_platform_that_is_down_while_resolving_is_a_503_in_our_words(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    _two_orders_of_sam(sandbox)
    parked = _parked(gateway, _by_email("MAIL-4"))
    sandbox.fault("http_503", count=50, operation="orders")
    sandbox.fault("http_503", count=50, operation="order")
    down = gateway.api.post(f"/v1/returns/{parked['id']}/resolve", json={"order": "#3000"})
    sandbox.http.delete("/_sandbox/faults").raise_for_status()
    assert down.status_code == 503, down.text
    assert down.json()["detail"] == (
        "the platform could not confirm the order just now; try again shortly"
    )
    assert gateway.api.get(f"/v1/returns/{parked['id']}").json()["status"] == "needs_review"


def test_a_requested_return_waits_for_approval_and_approving_it_refunds_once(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    sandbox.seed_order(simple_order(3201))
    event = {
        "external_id": "TCK-APPROVE",
        "status": "requested",
        "order": {"platform_order_id": "gid://shopify/Order/3201"},
        "lines": [{"sku": "MUG-WHT", "quantity": 1}],
    }
    parked = _parked(gateway, event)
    assert parked["review"]["event"] == "awaiting_approval"
    assert parked["review"]["actions"] == ["approve", "cancel"]

    approved = gateway.api.post(
        f"/v1/returns/{parked['id']}/approve", json={"reason": "photo checked"}
    )
    assert approved.status_code == 202, approved.text
    done = gateway.wait_for_status(parked["id"], "completed")
    assert len(sandbox.refunds_created()) == 1
    event_row = next(e for e in done["timeline"] if e["event"] == "approved")
    assert event_row["actor"] == f"tenant:{gateway.tenant_id}"
    assert event_row["reason"] == "photo checked"
    assert event_row["data"]["revision"] == 1


def test_only_a_return_awaiting_approval_can_be_approved(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    _two_orders_of_sam(sandbox)
    parked = _parked(gateway, _by_email("MAIL-4"))
    refused = gateway.api.post(f"/v1/returns/{parked['id']}/approve")
    assert refused.status_code == 409
    assert refused.json()["code"] == "NOT_AWAITING_APPROVAL"


def test_cancelling_a_return_in_review_ends_it_without_money(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    _two_orders_of_sam(sandbox)
    parked = _parked(gateway, _by_email("MAIL-5"))

    cancelled = gateway.api.post(
        f"/v1/returns/{parked['id']}/cancel", json={"reason": "customer kept it"}
    )
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["status"] == "cancelled"
    last = body["timeline"][-1]
    assert (last["event"], last["actor"], last["reason"]) == (
        "cancelled",
        f"tenant:{gateway.tenant_id}",
        "customer kept it",
    )
    again = gateway.api.post(f"/v1/returns/{parked['id']}/cancel")
    assert again.status_code == 409
    assert again.json()["code"] == "NOT_IN_REVIEW"
    assert sandbox.refunds_created() == []


def test_review_actions_on_an_unknown_return_answer_404(gateway: Gateway) -> None:
    response = gateway.api.post("/v1/returns/ret_nope/resolve", json={"order": "#1"})
    assert response.status_code == 404
    assert response.json()["code"] == "RETURN_NOT_FOUND"


def test_an_order_number_without_the_store_prefix_is_found_in_one_search(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    _settings(gateway, order_name_prefix="EU-")
    sandbox.seed_order(simple_order(3101, name="EU-3101"))
    event = {
        "external_id": "CHAT-1",
        "order": {"order_number": "3101"},
        "lines": [{"sku": "MUG-WHT", "quantity": 1}],
    }
    body = gateway.wait_for(gateway.post_return(event).json()["return"]["id"])
    assert body["status"] == "completed", body["timeline"][-1]
    assert body["matched_order_name"] == "EU-3101"
    calls = [e["operation_name"] for e in sandbox.journal()]
    assert calls == ["OrdersSearch", "Order", "SuggestedRefund", "RefundCreate"]


def test_a_single_candidate_below_the_threshold_waits_for_a_human(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    _settings(gateway, match_threshold=80)
    sandbox.seed_order(simple_order(3301, email=SAM, created_at="2026-01-10T10:00:00Z"))
    parked = _parked(gateway, _by_email("MAIL-6"))
    assert parked["review"]["event"] == "order_ambiguous"
    assert "the only candidate scores 70, below the threshold 80" in parked["review"]["reason"]
    assert [c["score"] for c in parked["candidates"]] == [70]


def test_a_phone_and_postal_code_tell_two_orders_of_one_customer_apart(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    sandbox.seed_order(simple_order(3401, email=SAM, phone="+1 555 010 0199"))
    sandbox.seed_order(
        simple_order(3402, email=SAM, phone="+1 555 010 0200", shipping_address={"zip": "94110"})
    )
    event = _by_email("MAIL-7")
    event["order"] |= {"customer_phone": "(555) 010-0199", "postal_code": "94 110"}
    body = gateway.wait_for(gateway.post_return(event).json()["return"]["id"])

    assert body["status"] == "completed", body["timeline"][-1]
    assert body["matched_order_name"] == "#3401"
    scores = {c["name"]: (c["score"], c["reasons"]) for c in body["candidates"]}
    assert scores["#3401"][0] == 100
    assert "+30 phone +1 555 010 0199 agrees" in scores["#3401"][1]
    assert scores["#3402"][0] == 40 + 30 - 20 + 15
    assert len(sandbox.refunds_created()) == 1


def test_correcting_the_items_stores_a_new_revision_and_refunds_once(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    sandbox.seed_order(simple_order(3501))
    event = {
        "external_id": "TCK-LINES",
        "order": {"platform_order_id": "gid://shopify/Order/3501"},
        "lines": [{"sku": "MUG-BLK", "quantity": 1}],
    }
    parked = _parked(gateway, event)
    assert parked["review"]["actions"] == ["resolve", "retry", "cancel"]

    corrected = gateway.api.post(
        f"/v1/returns/{parked['id']}/resolve",
        json={"lines": [{"sku": "MUG-WHT", "quantity": 2}], "reason": "wrong colour typed"},
    )
    assert corrected.status_code == 202, corrected.text
    done = gateway.wait_for_status(parked["id"], "completed")

    assert done["revision"] == 2
    assert [(line["sku"], line["quantity"]) for line in done["return_request"]["lines"]] == [
        ("MUG-WHT", 2)
    ]
    assert len(sandbox.refunds_created()) == 1
    event_row = next(e for e in done["timeline"] if e["event"] == "lines_corrected")
    assert event_row["actor"] == f"tenant:{gateway.tenant_id}"
    assert event_row["data"]["revision"] == 2


def test_a_resolve_without_order_or_lines_is_refused(gateway: Gateway) -> None:
    response = gateway.api.post("/v1/returns/ret_x/resolve", json={"reason": "?"})
    assert response.status_code == 422
    assert response.json()["code"] == "VALIDATION_ERROR"


def test_a_bad_matching_setting_parks_the_return_naming_the_setting(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    _settings(gateway, match_threshold="high")
    sandbox.seed_order(simple_order(3601, email=SAM))
    parked = _parked(gateway, _by_email("MAIL-8"))
    last = parked["timeline"][-1]
    assert last["event"] == "match_needs_review"
    assert (last["data"]["code"], last["data"]["field"]) == ("INVALID_SETTING", "match_threshold")
    assert sandbox.journal() == []
