"""A worker killed with SIGKILL mid-refund is restarted and completes the return, refunding once.

Real processes: `returnbridge up` (API + worker) runs as a child process on the test's database
(SQLite file or PostgreSQL); the Shopify sandbox runs in this process. The sandbox commits the
refund and then holds its answer, so the kill lands after the refund step began and after the
platform wrote the refund, the most dangerous moment for a double refund. A second test covers
the other crash window: a return committed but never queued.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from returnbridge.cli.servers import free_port
from returnbridge.domain.returns import CanonicalReturn
from returnbridge.store.connections import list_connections
from returnbridge.store.database import create_engine_for, session_factory
from returnbridge.store.returns import ingest_return
from returnbridge.store.tenants import tenant_by_api_key
from support.gateway import Sandbox, simple_order
from support.processes import ServerProcess, process_env, seed_database, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def api_client(gateway: ServerProcess, api_key: str) -> httpx.Client:
    return httpx.Client(
        base_url=gateway.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=10
    )


def kill_mid_refund_and_restart(
    db_url: str, tmp_path: Path, sandbox: Sandbox, event: dict[str, Any]
) -> dict[str, Any]:
    """Post `event` to `returnbridge up`, SIGKILL it once the platform committed the refund but
    before its answer arrived, start a new `up` and wait for the return to settle; its body."""
    key, api_key = seed_database(db_url, sandbox)
    # The platform commits the refund, then answers only after 60 s: we kill before that.
    sandbox.fault("timeout_after_commit", count=1, operation="refundCreate", delay=60)
    # One process at a time (the killed one is gone before the next starts), so nothing can
    # presume a live worker dead: on PostgreSQL the new one takes over after a second.
    env = process_env(
        db_url,
        tmp_path,
        secret_key=key,
        RETURNBRIDGE_HTTP_TIMEOUT="90",
        RETURNBRIDGE_EXECUTOR_DEAD_AFTER="1",
    )
    gateway = ServerProcess("up", port=free_port(), env=env, log=tmp_path / "gateway.log")
    gateway.start()
    try:
        with api_client(gateway, api_key) as api:
            accepted = api.post("/v1/returns", json=event)
            assert accepted.status_code == 202, accepted.text
            return_id = accepted.json()["return"]["id"]
            wait_until(sandbox.refunds_created, timeout=60, what="the refund to be written")
            assert api.get(f"/v1/returns/{return_id}").json()["status"] == "planned"
        gateway.kill()
        assert sandbox.pending_faults() == []

        gateway = ServerProcess("up", port=free_port(), env=env, log=tmp_path / "gateway.log")
        gateway.start()
        with api_client(gateway, api_key) as api:

            def settled() -> dict[str, Any] | None:
                body: dict[str, Any] = api.get(f"/v1/returns/{return_id}").json()
                return body if body["status"] in {"completed", "needs_review", "failed"} else None

            body: dict[str, Any] = wait_until(
                settled, timeout=90, what="the return to settle after restart"
            )
    finally:
        gateway.stop()
    assert body["status"] == "completed", body["timeline"]
    return body


def assert_one_refund_call(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    """Exactly one refundCreate reached the platform (the restarted worker found the refund
    instead of writing again, even as an idempotent replay) and the return records it."""
    calls = sandbox.journal("refundCreate")
    assert [(c["fault"], c["effect"]) for c in calls] == [
        ("timeout_after_commit", "refund_created")
    ]
    assert [r["status"] for r in body["refunds"]] == ["succeeded"]
    assert body["refunds"][0]["platform_refund_id"] == calls[0]["refund_id"]
    assert calls[0]["idempotency_key"] == body["refunds"][0]["idempotency_key"]
    return calls[0]


def test_worker_killed_after_refund_began_completes_with_one_refund(
    db_url: str, tmp_path: Path, sandbox: Sandbox
) -> None:
    sandbox.seed_order(simple_order(3001))
    event = {
        "external_id": "TCK-CRASH",
        "channel": "ticket",
        "order": {"platform_order_id": "gid://shopify/Order/3001"},
        "lines": [{"sku": "MUG-WHT", "quantity": 3}],
        "refund": {"shipping": {"mode": "full"}},
    }
    body = kill_mid_refund_and_restart(db_url, tmp_path, sandbox, event)

    assert_one_refund_call(sandbox, body)
    assert body["refund_total"]["minor"] == 3884
    order = sandbox.order(3001)
    assert order["financial_status"] == "REFUNDED"
    assert order["net_payment"]["shop"] == "0.00"
    assert sandbox.inventory()["MUG-WHT"]["2"] == 3


def test_worker_killed_during_a_partial_refund_refunds_only_that_part_once(
    db_url: str, tmp_path: Path, sandbox: Sandbox
) -> None:
    # Mugs as in simple_order (38.84 with shipping) plus two tees at 20.00 + 1.00 tax each.
    tees = {
        "sku": "TEE-BLK",
        "title": "Black tee",
        "quantity": 2,
        "price": "20.00",
        "tax_lines": [{"title": "State tax", "rate": "0.05", "price": "2.00"}],
    }
    order = simple_order(3003)
    order["line_items"].append(tees)
    sandbox.seed_order(order)
    assert sandbox.order(3003)["total_price"]["shop"] == "80.84"
    event = {
        "external_id": "TCK-CRASH-PARTIAL",
        "channel": "ticket",
        "order": {"platform_order_id": "gid://shopify/Order/3003"},
        "lines": [{"sku": "MUG-WHT", "quantity": 1}],
    }
    body = kill_mid_refund_and_restart(db_url, tmp_path, sandbox, event)

    assert_one_refund_call(sandbox, body)
    # one mug: 12.00 - 1.67 (its share of the 5.00 discount) + 0.52 (its share of 1.55 tax)
    assert body["refund_total"] == {"amount": "10.85", "currency": "USD", "minor": 1085}
    assert body["refunds"][0]["amount"]["minor"] == 1085
    after = sandbox.order(3003)
    assert after["financial_status"] == "PARTIALLY_REFUNDED"
    assert after["refunded"]["shop"] == "10.85"
    assert after["net_payment"]["shop"] == "69.99"
    [refund] = after["refunds"]
    mugs, tee_line = after["line_items"]
    assert [
        (r["line_item_id"], r["quantity"], r["restock_type"], r["location_id"])
        for r in refund["lines"]
    ] == [(mugs["id"], 1, "RETURN", 2)]
    assert refund["shipping"] == []
    assert (mugs["refunded_quantity"], mugs["refundable_quantity"]) == (1, 2)
    assert (tee_line["refunded_quantity"], tee_line["refundable_quantity"]) == (0, 2)
    assert sandbox.inventory() == {"MUG-WHT": {"2": 1}}


def test_return_stored_but_never_queued_is_picked_up_when_a_worker_starts(
    db_url: str, tmp_path: Path, sandbox: Sandbox
) -> None:
    key, api_key = seed_database(db_url, sandbox)
    sandbox.seed_order(simple_order(3002))
    # An API process that died between committing the return and enqueueing its workflow
    # leaves exactly this behind: a stored, `received` return and no workflow.
    canonical = CanonicalReturn.model_validate(
        {
            "external_id": "LOST-1",
            "order": {"platform_order_id": "gid://shopify/Order/3002"},
            "lines": [{"sku": "MUG-WHT", "quantity": 1}],
        }
    )
    engine = create_engine_for(db_url)
    with session_factory(engine).begin() as session:
        tenant = tenant_by_api_key(session, api_key)
        assert tenant is not None
        stored = ingest_return(
            session,
            tenant.id,
            connection_id=list_connections(session, tenant.id)[0].id,
            channel=canonical.channel.value,
            source="api",
            external_id=canonical.external_id,
            revision=canonical.revision,
            idempotency_key="LOST-1:r1",
            payload=canonical.model_dump(mode="json"),
        )
    engine.dispose()

    env = process_env(db_url, tmp_path, secret_key=key)
    gateway = ServerProcess("up", port=free_port(), env=env, log=tmp_path / "gateway.log")
    gateway.start()
    try:
        api = httpx.Client(
            base_url=gateway.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=10
        )

        def completed() -> bool:
            body = api.get(f"/v1/returns/{stored.record.id}").json()
            return bool(body["status"] == "completed")

        wait_until(completed, timeout=90, what="the stored return to complete")
        assert len(sandbox.refunds_created()) == 1
    finally:
        gateway.stop()
