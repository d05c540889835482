"""After the write, the refund the platform recorded is checked against the plan's money.

The steps run one by one on a real database and the Shopify sandbox (no DBOS), so the test
can change the stored plan between planning and refunding: the platform then records the
refund as it computes it, one cent away from what the plan said.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from returnbridge.domain.lifecycle import can_transition
from returnbridge.domain.returns import CanonicalReturn, ReturnStatus
from returnbridge.engine import admission, completion, order_matching, refunding, restocking
from returnbridge.engine.refund_commands import refund_key
from returnbridge.engine.runtime import Runtime, close_runtime, open_runtime
from returnbridge.store import refunds as refund_store
from returnbridge.store import returns as return_store
from support.gateway import Sandbox, connect_tenant, gateway_settings, simple_order


@pytest.fixture
def runtime(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """A runtime on each backend (SQLite file and PostgreSQL), DBOS not launched."""
    opened = open_runtime(gateway_settings(db_url, tmp_path))
    yield opened
    close_runtime()


def stored_return(runtime: Runtime, sandbox: Sandbox, order_id: int) -> tuple[str, str]:
    """A tenant connected to the sandbox shop and one approved return of the order."""
    event = CanonicalReturn.model_validate(
        {
            "external_id": f"TCK-{order_id}",
            "order": {"platform_order_id": f"gid://shopify/Order/{order_id}"},
            "lines": [{"sku": "MUG-WHT", "quantity": 1}],
            "refund": {"shipping": {"mode": "none"}},
        }
    )
    with runtime.sessions.begin() as session:
        tenant, _key, connection_id = connect_tenant(session, runtime.cipher, sandbox)
        stored = return_store.ingest_return(
            session,
            tenant.id,
            connection_id=connection_id,
            channel="api",
            source="api",
            external_id=event.external_id,
            revision=1,
            idempotency_key=event.external_id,
            payload=event.model_dump(mode="json"),
            order_ref=event.order.model_dump(mode="json", exclude_none=True),
        )
    return tenant.id, stored.record.id


def test_a_refund_recorded_other_than_planned_waits_for_a_human_and_retry_accepts_it(
    runtime: Runtime, sandbox: Sandbox
) -> None:
    sandbox.seed_order(simple_order(2101))
    tenant_id, return_id = stored_return(runtime, sandbox, 2101)
    assert admission.admit(runtime, tenant_id, return_id).admitted
    order_matching.match_order(runtime, tenant_id, return_id)
    planned = refunding.plan_return(runtime, tenant_id, return_id, 1)
    assert planned.status is ReturnStatus.PLANNED
    assert planned.total is not None
    # The plan says one cent more than the platform will compute from the same lines.
    with runtime.sessions.begin() as session:
        row = refund_store.refund_by_key(
            session, tenant_id, idempotency_key=refund_key(return_id, 1)
        )
        assert row is not None
        plan = dict(row.plan)
        plan["command"] = {**plan["command"]}
        plan["command"]["money"] = {**plan["command"]["money"], "total": planned.total + 1}
        row.plan = plan

    parked = refunding.execute_refund(runtime, tenant_id, return_id, 1)

    assert (parked.status, parked.rests) == (ReturnStatus.NEEDS_REVIEW, True)
    assert len(sandbox.refunds_created()) == 1  # the money moved, once
    with runtime.reads() as session:
        events = return_store.timeline(session, return_id, tenant_id=tenant_id)
        [made] = refund_store.refunds_for_return(session, return_id, tenant_id=tenant_id)
    last = events[-1]
    assert (last.event, last.from_status, last.to_status) == (
        "refund_differs_from_plan",
        "refunded",
        "needs_review",
    )
    assert f"total: planned {planned.total + 1}, platform recorded {planned.total}" in (
        last.reason or ""
    )
    assert last.data["plan"]["total"] == planned.total + 1
    assert last.data["platform"]["total"] == planned.total
    assert made.status == refund_store.SUCCEEDED

    # An operator retries (what `POST /retry` records); every step runs again.
    with runtime.sessions.begin() as session:
        return_store.record_transition(
            session,
            return_id,
            tenant_id=tenant_id,
            to_status=ReturnStatus.RECEIVED,
            event="retry_requested",
            actor="test",
            allowed=can_transition,
        )
    assert admission.admit(runtime, tenant_id, return_id).admitted
    order_matching.match_order(runtime, tenant_id, return_id)
    again = refunding.plan_return(runtime, tenant_id, return_id, 1)
    assert (again.status, again.platform_refund_id) == (
        ReturnStatus.PLANNED,
        made.platform_refund_id,
    )
    refunded = refunding.execute_refund(runtime, tenant_id, return_id, 1)
    assert refunded.status is ReturnStatus.RESTOCKED  # recorded with the restock inside it
    restocking.restock(runtime, tenant_id, return_id, after=refunded.status)
    skipped = [
        (ReturnStatus.SYNCED, completion.NO_RETURNS_SYSTEM),
        (ReturnStatus.NOTIFIED, completion.NO_NOTIFICATIONS),
    ]
    done = completion.complete(runtime, tenant_id, return_id, skipped=skipped)
    assert done.status is ReturnStatus.COMPLETED
    assert len(sandbox.refunds_created()) == 1  # accepted as recorded, never paid again
