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


def test_worker_killed_after_refund_began_completes_with_one_refund(
    db_url: str, tmp_path: Path, sandbox: Sandbox
) -> None:
    key, api_key = seed_database(db_url, sandbox)
    sandbox.seed_order(simple_order(3001))
    # The platform commits the refund, then answers only after 60 s: we kill before that.
    sandbox.fault("timeout_after_commit", count=1, operation="refundCreate", delay=60)

    env = process_env(db_url, tmp_path, secret_key=key, RETURNBRIDGE_HTTP_TIMEOUT="90")
    gateway = ServerProcess("up", port=free_port(), env=env, log=tmp_path / "gateway.log")
    gateway.start()
    try:
        api = httpx.Client(
            base_url=gateway.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=10
        )
        event = {
            "external_id": "TCK-CRASH",
            "channel": "ticket",
            "order": {"platform_order_id": "gid://shopify/Order/3001"},
            "lines": [{"sku": "MUG-WHT", "quantity": 3}],
            "refund": {"shipping": {"mode": "full"}},
        }
        accepted = api.post("/v1/returns", json=event)
        assert accepted.status_code == 202, accepted.text
        return_id = accepted.json()["return"]["id"]

        wait_until(sandbox.refunds_created, timeout=60, what="the refund to be written")
        assert api.get(f"/v1/returns/{return_id}").json()["status"] == "planned"
        gateway.kill()

        gateway = ServerProcess("up", port=free_port(), env=env, log=tmp_path / "gateway.log")
        gateway.start()
        api = httpx.Client(
            base_url=gateway.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=10
        )

        def settled() -> dict[str, Any] | None:
            body: dict[str, Any] = api.get(f"/v1/returns/{return_id}").json()
            return body if body["status"] in {"completed", "needs_review", "failed"} else None

        body = wait_until(settled, timeout=90, what="the return to settle after restart")
        assert body["status"] == "completed", body["timeline"]
        assert len(sandbox.refunds_created()) == 1
        assert sandbox.order(3001)["financial_status"] == "REFUNDED"
        assert [r["status"] for r in body["refunds"]] == ["succeeded"]
        assert body["refunds"][0]["platform_refund_id"] == sandbox.refunds_created()[0]["refund_id"]
    finally:
        gateway.stop()


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
