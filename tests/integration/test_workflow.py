"""The return workflow end to end on SQLite and PostgreSQL, against the Shopify sandbox.

Each test runs a real gateway (API on loopback, DBOS worker, real database) and asserts on
what the sandbox journal and state say happened on the "platform".
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from dbos import DBOS

from returnbridge.store.connections import update_connection
from support.gateway import Gateway, Sandbox, simple_order
from support.processes import wait_until

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def gateway(db_gateway: Gateway) -> Gateway:
    """Every workflow test runs on SQLite and on PostgreSQL."""
    return db_gateway


def full_return(order_id: int, external_id: str = "TCK-1", **extra: Any) -> dict[str, Any]:
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


def test_return_event_is_refunded_and_restocked_once(gateway: Gateway, sandbox: Sandbox) -> None:
    sandbox.seed_order(simple_order(2001))
    response = gateway.post_return(full_return(2001))
    assert response.status_code == 202, response.text
    body = gateway.wait_for(response.json()["return"]["id"])

    assert body["status"] == "completed"
    # 3 x 12.00 - 5.00 discount + 1.55 tax + 5.99 shipping + 0.30 shipping tax
    assert body["refund_total"] == {"amount": "38.84", "currency": "USD", "minor": 3884}
    statuses = [e["to_status"] for e in body["timeline"] if e["from_status"] != e["to_status"]]
    assert statuses == [
        "received", "matched", "planned", "refunded",
        "restocked", "synced", "notified", "completed",
    ]  # fmt: skip
    created = sandbox.refunds_created()
    assert len(created) == 1
    order = sandbox.order(2001)
    assert order["financial_status"] == "REFUNDED"
    assert sandbox.inventory()["MUG-WHT"]["2"] == 3
    assert body["refunds"][0]["status"] == "succeeded"


def _calls(sandbox: Sandbox) -> list[str | None]:
    return [e["operation_name"] for e in sandbox.journal()]


def test_a_return_naming_its_order_costs_three_platform_calls(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    # One order read with its refunds, the platform's own calculation, the write (issue 7).
    sandbox.seed_order(simple_order(2011))
    body = gateway.wait_for(gateway.post_return(full_return(2011, "TCK-11")).json()["return"]["id"])
    assert body["status"] == "completed"
    assert _calls(sandbox) == ["Order", "SuggestedRefund", "RefundCreate"]
    assert body["matched_order_name"] == "#2011"


def test_without_the_cross_check_a_return_costs_two_platform_calls(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    with gateway.runtime.sessions.begin() as session:
        update_connection(
            session,
            gateway.connection_id,
            tenant_id=gateway.tenant_id,
            settings={"restock_location_id": "gid://shopify/Location/2", "cross_check": False},
        )
    sandbox.seed_order(simple_order(2012))
    body = gateway.wait_for(gateway.post_return(full_return(2012, "TCK-12")).json()["return"]["id"])
    assert body["status"] == "completed"
    assert body["refund_total"]["minor"] == 3884
    assert _calls(sandbox) == ["Order", "RefundCreate"]


def test_same_event_three_times_one_after_another_is_one_workflow_and_one_refund(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    sandbox.seed_order(simple_order(2002))
    answers = [gateway.post_return(full_return(2002, "TCK-2")) for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 202]
    ids = {a.json()["return"]["id"] for a in answers}
    assert len(ids) == 1
    assert [a.json()["duplicate"] for a in answers] == [False, True, True]
    body = gateway.wait_for(ids.pop())
    assert body["status"] == "completed"
    assert len(DBOS.list_workflows(workflow_ids=[body["workflow_id"]])) == 1
    assert len(DBOS.list_workflows(name="process_return")) == 1
    assert len(sandbox.refunds_created()) == 1


def test_same_event_three_times_concurrently_is_one_workflow_and_one_refund(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    sandbox.seed_order(simple_order(2003))
    barrier = threading.Barrier(3)
    answers: list[Any] = []

    def deliver() -> None:
        barrier.wait()
        answers.append(gateway.post_return(full_return(2003, "TCK-3"), key="delivery-3"))

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [202, 202, 202]
    ids = {a.json()["return"]["id"] for a in answers}
    assert len(ids) == 1
    assert sorted(a.json()["duplicate"] for a in answers) == [False, True, True]
    body = gateway.wait_for(ids.pop())
    assert body["status"] == "completed"
    assert len(DBOS.list_workflows(name="process_return")) == 1
    assert len(sandbox.refunds_created()) == 1


def test_order_found_by_number_and_partial_return_prorates_discount(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    sandbox.seed_order(simple_order(2004))
    event = {
        "external_id": "EML-4",
        "channel": "email",
        "order": {"order_number": "#2004", "customer_email": "JANE@example.com"},
        "lines": [{"sku": "MUG-WHT", "quantity": 1, "condition": "damaged"}],
    }
    body = gateway.wait_for(gateway.post_return(event).json()["return"]["id"])
    assert body["status"] == "completed"
    assert body["matched_order_name"] == "#2004"
    # discount 500 over 3 units -> 167/167/166; tax 155 -> 52/52/51: 1200 - 167 + 52
    assert body["refund_total"]["minor"] == 1085
    refund = sandbox.refunds_created()
    assert len(refund) == 1


def test_two_candidate_orders_go_to_review_with_candidates(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    sandbox.seed_order(simple_order(2005, email="alex@example.com"))
    sandbox.seed_order(simple_order(2006, email="alex@example.com"))
    event = {
        "external_id": "TEL-5",
        "channel": "phone",
        "order": {"customer_email": "alex@example.com"},
        "lines": [{"sku": "MUG-WHT", "quantity": 1}],
    }
    body = gateway.wait_for(gateway.post_return(event).json()["return"]["id"])
    assert body["status"] == "needs_review"
    assert sorted(c["name"] for c in body["candidates"]) == ["#2005", "#2006"]
    assert body["timeline"][-1]["event"] == "order_ambiguous"
    assert sandbox.refunds_created() == []


def test_unknown_order_goes_to_review(gateway: Gateway, sandbox: Sandbox) -> None:
    event = full_return(2999, "TCK-6")
    body = gateway.wait_for(gateway.post_return(event).json()["return"]["id"])
    assert body["status"] == "needs_review"
    assert body["timeline"][-1]["event"] == "order_not_found"


def injected_faults(entries: list[dict[str, Any]]) -> list[tuple[str | None, int, str | None]]:
    """(fault, HTTP status, effect) of each journal entry, oldest first."""
    return [(e["fault"], e["http_status"], e["effect"]) for e in entries]


def test_platform_errors_and_ambiguous_timeouts_still_refund_once(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    sandbox.seed_order(simple_order(2007))
    sandbox.fault("http_503", count=2, operation="refundCreate")
    sandbox.fault("throttled", count=1, operation="refundCreate")
    sandbox.fault("timeout_after_commit", count=1, operation="refundCreate", delay=8)
    body = gateway.wait_for(gateway.post_return(full_return(2007, "TCK-7")).json()["return"]["id"])
    assert body["status"] == "completed", body["timeline"]

    calls = sandbox.journal("refundCreate")
    # Every injected fault landed on a refundCreate call, in the order it was queued; the write
    # that committed but whose answer never arrived is the only one that moved money, and the
    # step that retried after it found that refund instead of writing again.
    assert injected_faults(calls) == [
        ("http_503", 503, None),
        ("http_503", 503, None),
        ("throttled", 200, None),
        ("timeout_after_commit", 200, "refund_created"),
    ]
    assert [e["throttled"] for e in calls] == [False, False, True, False]
    # One idempotency key, fixed at planning time, on every attempt: the one the gateway
    # recorded for the refund, and the one the platform stored the refund under.
    sent_keys = {e["variables"]["idempotencyKey"] for e in calls}
    assert sent_keys == {body["refunds"][0]["idempotency_key"]}
    assert calls[-1]["idempotency_key"] == body["refunds"][0]["idempotency_key"]

    created = sandbox.refunds_created()
    assert len(created) == 1
    assert [r["status"] for r in body["refunds"]] == ["succeeded"]
    assert body["refunds"][0]["platform_refund_id"] == created[0]["refund_id"]
    assert sandbox.order(2007)["financial_status"] == "REFUNDED"
    assert sandbox.pending_faults() == []
    # Only the first attempt sent the planned command blind; after an unknown outcome the
    # step looked for its key first, and found the refund the lost answer had made.
    calls = _calls(sandbox)
    assert calls[:2] == ["Order", "SuggestedRefund"]
    assert calls[-2:] == ["RefundCreate", "OrderRefunds"]
    # 503, 503, then THROTTLED (waited out inside the call) and the lost answer: three later
    # step attempts, each starting with one look
    assert calls.count("OrderRefunds") == 3


def test_goods_only_return_restocks_without_money(gateway: Gateway, sandbox: Sandbox) -> None:
    sandbox.seed_order(simple_order(2008))
    event = full_return(2008, "WEB-8", refund={"issue": False})
    body = gateway.wait_for(gateway.post_return(event).json()["return"]["id"])
    assert body["status"] == "completed"
    assert body["refund_total"]["minor"] == 0
    assert sandbox.inventory()["MUG-WHT"]["2"] == 3
    assert sandbox.order(2008)["financial_status"] == "PAID"


def test_request_beyond_what_remains_goes_to_review(gateway: Gateway, sandbox: Sandbox) -> None:
    sandbox.seed_order(simple_order(2009))
    first = gateway.post_return(
        full_return(2009, "TCK-9a", lines=[{"sku": "MUG-WHT", "quantity": 2}])
    )
    assert gateway.wait_for(first.json()["return"]["id"])["status"] == "completed"
    second = gateway.post_return(
        full_return(2009, "TCK-9b", lines=[{"sku": "MUG-WHT", "quantity": 2}])
    )
    body = gateway.wait_for(second.json()["return"]["id"])
    assert body["status"] == "needs_review"
    assert body["timeline"][-1]["data"]["code"] == "UNRESOLVED_LINE"
    assert len(sandbox.refunds_created()) == 1


def test_withdrawn_return_is_cancelled_before_money_moves(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    sandbox.seed_order(simple_order(2010))
    event = full_return(2010, "TCK-10", status="cancelled")
    body = gateway.wait_for(gateway.post_return(event).json()["return"]["id"])
    assert body["status"] == "cancelled"
    assert body["timeline"][-1]["actor"] == "vendor"
    assert sandbox.refunds_created() == []


def test_requested_return_waits_for_approval_then_completes(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    sandbox.seed_order(simple_order(2011))
    first = gateway.post_return(full_return(2011, "TCK-11", status="requested"))
    body = gateway.wait_for(first.json()["return"]["id"])
    assert body["status"] == "needs_review"
    assert body["timeline"][-1]["event"] == "awaiting_approval"
    approved = gateway.post_return(full_return(2011, "TCK-11", status="approved", revision=2))
    assert approved.json()["return"]["id"] == body["id"]
    final = gateway.wait_for_status(body["id"], "completed")
    assert final["revision"] == 2
    assert len(sandbox.refunds_created()) == 1


def test_operator_retry_after_the_order_appears_completes_with_one_refund(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    first = gateway.post_return(full_return(2012, "TCK-12"))
    return_id = first.json()["return"]["id"]
    assert gateway.wait_for(return_id)["status"] == "needs_review"
    sandbox.seed_order(simple_order(2012))

    retried = gateway.api.post(f"/v1/returns/{return_id}/retry", json={"reason": "order synced"})
    assert retried.status_code == 202, retried.text
    body = gateway.wait_for_status(return_id, "completed")
    retry_event = next(e for e in body["timeline"] if e["event"] == "retry_requested")
    assert retry_event["actor"].startswith("tenant:")
    assert retry_event["reason"] == "order synced"
    assert body["workflow_id"].endswith("-retry-1")
    assert len(sandbox.refunds_created()) == 1


def test_retry_after_an_unrecorded_refund_finds_it_instead_of_paying_again(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    sandbox.seed_order(simple_order(2013))
    # The platform writes the refund but its answer never arrives, and then every order read
    # fails: the workflow gives up as failed, not knowing the money already moved.
    sandbox.fault("timeout_after_commit", count=1, operation="refundCreate", delay=8)
    return_id = gateway.post_return(full_return(2013, "TCK-13")).json()["return"]["id"]
    wait_until(sandbox.refunds_created, timeout=30, what="the refund to be written")
    sandbox.fault("http_503", count=1000, operation="order")
    parked = gateway.wait_for(return_id, timeout=120)
    assert parked["status"] == "failed"
    assert parked["timeline"][-1]["event"] == "retries_exhausted"
    sandbox.http.delete("/_sandbox/faults").raise_for_status()

    assert gateway.api.post(f"/v1/returns/{return_id}/retry").status_code == 202
    body = gateway.wait_for_status(return_id, "completed")
    assert len(sandbox.refunds_created()) == 1
    assert body["refunds"][0]["status"] == "succeeded"
    assert body["refunds"][0]["platform_refund_id"] == sandbox.refunds_created()[0]["refund_id"]


def test_only_parked_returns_can_be_retried(gateway: Gateway, sandbox: Sandbox) -> None:
    sandbox.seed_order(simple_order(2014))
    return_id = gateway.post_return(full_return(2014, "TCK-14")).json()["return"]["id"]
    assert gateway.wait_for(return_id)["status"] == "completed"
    refused = gateway.api.post(f"/v1/returns/{return_id}/retry")
    assert refused.status_code == 409
    assert refused.json()["code"] == "NOT_RETRYABLE"
    assert gateway.api.post("/v1/returns/ret_unknown/retry").status_code == 404


def test_returns_of_one_order_named_three_ways_at_once_refund_exactly_what_was_paid(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    """Three returns of one order land in three queue partitions (by id, by number, by
    e-mail) and run side by side; each refund must still be planned on the order as the
    refunds before it left it, so the three add up to what the customer paid, to the cent."""
    sandbox.seed_order(
        simple_order(
            2031,
            email="sam@example.com",
            line_items=[
                {
                    "sku": "MUG-WHT",
                    "title": "White mug",
                    "quantity": 3,
                    "price": "10.00",
                    "discount_allocations": [{"amount": "1.00", "code": "ONE"}],
                }
            ],
            shipping_lines=[],
        )
    )
    references = [
        {"platform_order_id": "gid://shopify/Order/2031"},
        {"order_number": "#2031"},
        {"customer_email": "sam@example.com"},
    ]
    barrier = threading.Barrier(len(references))
    ids: list[str] = []

    def deliver(n: int, reference: dict[str, str]) -> None:
        event = {
            "external_id": f"SAME-{n}",
            "channel": "ticket",
            "order": reference,
            "lines": [{"sku": "MUG-WHT", "quantity": 1}],
        }
        barrier.wait()
        answer = gateway.post_return(event)
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["return"]["id"])

    threads = [threading.Thread(target=deliver, args=item) for item in enumerate(references)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bodies = [gateway.wait_for(return_id) for return_id in ids]
    story = [[(e["event"], e["reason"], e["data"]) for e in b["timeline"]] for b in bodies]
    assert [b["status"] for b in bodies] == ["completed"] * 3, story
    created = sandbox.refunds_created()
    assert len(created) == 3
    # 3 x 10.00 less the 1.00 discount: 29.00 in all, however the units' shares fell
    assert sum(b["refund_total"]["minor"] for b in bodies) == 2900, story
    order = sandbox.order(2031)
    assert order["financial_status"] == "REFUNDED"


def test_a_refund_the_platform_refused_is_sent_under_a_key_of_its_own_after_the_fix(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    """Shopify answers a key's first answer again for 24 h, refusals included: once the cause
    is fixed (here: the restock location did not stock the item), the operator's retry must
    not send the refused key again, or it would be refused again without being looked at."""
    order = simple_order(2041)
    order["line_items"][0]["stocked_at"] = [1]  # the connection restocks to location 2
    sandbox.seed_order(order)
    return_id = gateway.post_return(full_return(2041, "TCK-41")).json()["return"]["id"]
    parked = gateway.wait_for(return_id)
    assert parked["status"] == "needs_review", parked["timeline"]
    assert sandbox.refunds_created() == []

    sandbox.http.post(
        f"/_sandbox/shops/{sandbox.domain}/inventory",
        json={"sku": "MUG-WHT", "location_id": 2, "available": 4},
    ).raise_for_status()
    assert gateway.api.post(f"/v1/returns/{return_id}/retry").status_code == 202
    body = gateway.wait_for_status(return_id, "completed")

    sends = sandbox.journal("refundCreate")
    keys = [e["idempotency_key"] for e in sends]
    assert [e["effect"] for e in sends] == ["rejected", "refund_created"]
    assert keys[1] == f"{keys[0]}.1"
    (made,) = sandbox.refunds_created()
    assert body["refunds"][0]["platform_refund_id"] == made["refund_id"]
    assert sandbox.inventory()["MUG-WHT"]["2"] == 4 + 3
