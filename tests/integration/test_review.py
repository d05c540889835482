"""Resolving the review queue on SQLite and PostgreSQL: one refund, whoever decides.

The API and worker run in the test process against the Shopify sandbox (support.gateway).
"""

from __future__ import annotations

import pytest

from support.gateway import Gateway, Sandbox, simple_order

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def gateway(db_gateway: Gateway) -> Gateway:
    return db_gateway


def test_resolving_an_ambiguous_order_completes_the_return_with_one_refund(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    sandbox.seed_order(simple_order(4001, email="kim@example.com"))
    sandbox.seed_order(simple_order(4002, email="kim@example.com"))
    event = {
        "external_id": "DM-1",
        "channel": "social",
        "order": {"customer_email": "kim@example.com"},
        "lines": [{"sku": "MUG-WHT", "quantity": 2}],
    }
    parked = gateway.wait_for(gateway.post_return(event).json()["return"]["id"])
    assert parked["status"] == "needs_review"
    assert sorted((c["name"], c["score"]) for c in parked["candidates"]) == [
        ("#4001", 70),
        ("#4002", 70),
    ]

    chosen = gateway.api.post(
        f"/v1/returns/{parked['id']}/resolve", json={"order": "gid://shopify/Order/4001"}
    )
    assert chosen.status_code == 202, chosen.text
    done = gateway.wait_for_status(parked["id"], "completed")

    assert len(sandbox.refunds_created()) == 1
    assert sandbox.order(4002)["financial_status"] != "REFUNDED"
    assert [r["order_id"] for r in done["refunds"]] == ["gid://shopify/Order/4001"]
    moves = [
        (e["event"], e["to_status"]) for e in done["timeline"] if e["from_status"] != e["to_status"]
    ]
    assert [status for _, status in moves] == [
        "received", "needs_review", "matched", "planned",
        "refunded", "restocked", "synced", "notified", "completed",
    ]  # fmt: skip
    assert [event for event, _ in moves[1:3]] == ["order_ambiguous", "order_resolved"]
