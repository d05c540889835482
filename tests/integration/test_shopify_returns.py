"""Shopify returns through the workflow, on SQLite and PostgreSQL, against the Shopify sandbox.

With the connection setting `shopify_returns`, returned goods become a Shopify Return:
returnCreate (OPEN), then returnProcess restocking them at the chosen location with the refund
as its financial transfer. Money-only refunds and connections without the setting keep
refundCreate.
"""

from __future__ import annotations

from typing import Any

import pytest

from returnbridge.store.connections import update_connection
from support.gateway import Gateway, Sandbox, simple_order
from support.processes import wait_until

pytestmark = pytest.mark.timeout(180)

LOCATION = "gid://shopify/Location/2"


@pytest.fixture
def gateway(db_gateway: Gateway) -> Gateway:
    """Every test runs on SQLite and on PostgreSQL."""
    return db_gateway


def _settings(gateway: Gateway, **settings: Any) -> None:
    with gateway.runtime.sessions.begin() as session:
        update_connection(
            session,
            gateway.connection_id,
            tenant_id=gateway.tenant_id,
            settings={"restock_location_id": LOCATION, **settings},
        )


def _event(order_id: int, external_id: str, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "external_id": external_id,
        "channel": "ticket",
        "reason": "changed mind",
        "order": {"platform_order_id": f"gid://shopify/Order/{order_id}"},
        "lines": [{"sku": "MUG-WHT", "quantity": 3}],
        "refund": {"shipping": {"mode": "full"}},
    }
    event.update(extra)
    return event


def _calls(sandbox: Sandbox) -> list[str | None]:
    return [e["operation_name"] for e in sandbox.journal()]


def _events(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [e["data"] for e in body["timeline"] if e["event"] == name]


def test_goods_go_back_through_a_shopify_return_restocked_and_refunded_once(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    _settings(gateway, shopify_returns=True)
    sandbox.seed_order(simple_order(3001))
    body = gateway.wait_for(gateway.post_return(_event(3001, "RET-1")).json()["return"]["id"])

    assert body["status"] == "completed", body["timeline"]
    # the same money as refundCreate would have moved: 3 mugs, their tax, shipping and its tax
    assert body["refund_total"]["minor"] == 3884
    assert [e["effect"] for e in sandbox.journal("returnCreate")] == ["return_created"]
    assert [e["effect"] for e in sandbox.journal("returnProcess")] == ["return_processed"]
    assert sandbox.journal("refundCreate") == []
    assert sandbox.inventory()["MUG-WHT"]["2"] == 3
    order = sandbox.order(3001)
    assert len(order["refunds"]) == 1
    assert order["financial_status"] == "REFUNDED"

    opened = _events(body, "platform_return_opened")
    processed = _events(body, "platform_return_processed")
    assert len(opened) == 1
    assert opened[0]["status"] == "OPEN"
    assert opened[0]["platform_return_id"].startswith("gid://shopify/Return/")
    assert processed == [
        {
            "platform_return_id": opened[0]["platform_return_id"],
            "status": "CLOSED",
            "platform_refund_id": body["refunds"][0]["platform_refund_id"],
        }
    ]
    assert [r["status"] for r in body["refunds"]] == ["succeeded"]
    statuses = [e["to_status"] for e in body["timeline"] if e["from_status"] != e["to_status"]]
    assert statuses == [
        "received", "matched", "planned", "refunded",
        "restocked", "synced", "notified", "completed",
    ]  # fmt: skip


def test_a_lost_answer_to_return_process_moves_money_once_when_the_step_retries(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    _settings(gateway, shopify_returns=True)
    sandbox.seed_order(simple_order(3002))
    # returnProcess commits, then its answer is held past the client's timeout
    sandbox.fault("timeout_after_commit", operation="returnProcess", delay=8)
    return_id = gateway.post_return(_event(3002, "RET-2")).json()["return"]["id"]
    wait_until(lambda: sandbox.journal("returnProcess"), timeout=60, what="returnProcess committed")
    # ... and the connector's own look at the return fails too, so the step gives up and
    # DBOS runs it again: it finds the refund by its key instead of processing again
    sandbox.fault("http_503", operation="return")
    body = gateway.wait_for(return_id)

    assert body["status"] == "completed", body["timeline"]
    assert [e["effect"] for e in sandbox.journal("returnProcess")] == ["return_processed"]
    assert [e["fault"] for e in sandbox.journal("return") if e["fault"]] == ["http_503"]
    # the retried step looked for its return (and refund) by the key before planning again
    assert _calls(sandbox)[-2:] == ["OrderReturns", "Return"]
    order = sandbox.order(3002)
    assert len(order["refunds"]) == 1
    assert order["financial_status"] == "REFUNDED"
    assert sandbox.inventory()["MUG-WHT"]["2"] == 3
    assert [r["status"] for r in body["refunds"]] == ["succeeded"]
    refund_gid = f"gid://shopify/Refund/{order['refunds'][0]['id']}"
    assert body["refunds"][0]["platform_refund_id"] == refund_gid
    assert len(_events(body, "platform_return_opened")) == 1
    processed = _events(body, "platform_return_processed")
    assert [(p["status"], p["platform_refund_id"]) for p in processed] == [("CLOSED", refund_gid)]
    assert sandbox.pending_faults() == []


def test_goods_only_return_is_processed_without_money(gateway: Gateway, sandbox: Sandbox) -> None:
    _settings(gateway, shopify_returns=True)
    sandbox.seed_order(simple_order(3003))
    event = _event(3003, "RET-3", refund={"issue": False})
    body = gateway.wait_for(gateway.post_return(event).json()["return"]["id"])

    assert body["status"] == "completed", body["timeline"]
    assert body["refund_total"]["minor"] == 0
    assert sandbox.inventory()["MUG-WHT"]["2"] == 3
    order = sandbox.order(3003)
    assert order["refunds"] == []
    assert order["financial_status"] == "PAID"
    processed = _events(body, "platform_return_processed")
    assert [(p["status"], p["platform_refund_id"]) for p in processed] == [("CLOSED", None)]


def test_a_money_only_refund_keeps_refund_create(gateway: Gateway, sandbox: Sandbox) -> None:
    _settings(gateway, shopify_returns=True)
    sandbox.seed_order(simple_order(3004))
    event = _event(3004, "RET-4", lines=[])
    body = gateway.wait_for(gateway.post_return(event).json()["return"]["id"])

    assert body["status"] == "completed", body["timeline"]
    assert body["refund_total"]["minor"] == 599 + 30
    assert len(sandbox.refunds_created()) == 1
    assert sandbox.journal("returnCreate") == []
    assert _events(body, "platform_return_opened") == []


def test_without_the_setting_nothing_changes(gateway: Gateway, sandbox: Sandbox) -> None:
    _settings(gateway)
    sandbox.seed_order(simple_order(3005))
    body = gateway.wait_for(gateway.post_return(_event(3005, "RET-5")).json()["return"]["id"])

    assert body["status"] == "completed"
    assert body["refund_total"]["minor"] == 3884
    assert _calls(sandbox) == ["Order", "SuggestedRefund", "RefundCreate"]
    assert sandbox.inventory()["MUG-WHT"]["2"] == 3
    assert _events(body, "platform_return_opened") == []


def test_on_receipt_the_return_is_opened_at_approval_and_processed_when_the_goods_arrive(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    """`process_returns_on: receipt`: approval opens the Shopify return and nothing else (no
    money, no stock); the revision saying the goods were received processes that same
    return, once."""
    _settings(gateway, shopify_returns=True, process_returns_on="receipt")
    sandbox.seed_order(simple_order(3011))
    return_id = gateway.post_return(_event(3011, "RET-11")).json()["return"]["id"]
    waiting = gateway.wait_for(return_id)

    assert waiting["status"] == "needs_review", waiting["timeline"]
    assert waiting["review"]["event"] == "awaiting_goods"
    (opened,) = _events(waiting, "platform_return_opened")
    assert opened["status"] == "OPEN"
    assert _events(waiting, "awaiting_goods") == [
        {"platform_return_id": opened["platform_return_id"]}
    ]
    assert sandbox.journal("returnProcess") == []
    assert sandbox.refunds_created() == []
    assert sandbox.inventory().get("MUG-WHT", {}).get("2", 0) == 0

    received = gateway.post_return(_event(3011, "RET-11", revision=2, status="received"))
    assert received.status_code == 202, received.text
    body = gateway.wait_for_status(return_id, "completed")

    assert [e["effect"] for e in sandbox.journal("returnCreate")] == ["return_created"]
    assert [e["effect"] for e in sandbox.journal("returnProcess")] == ["return_processed"]
    assert sandbox.journal("refundCreate") == []
    assert sandbox.inventory()["MUG-WHT"]["2"] == 3
    assert len(sandbox.order(3011)["refunds"]) == 1
    assert body["refund_total"]["minor"] == 3884
    (processed,) = _events(body, "platform_return_processed")
    assert processed["platform_return_id"] == opened["platform_return_id"]
    assert processed["status"] == "CLOSED"
