"""No return is left behind: a workflow that ends before its return rests is driven again.

Issue 5, item 2: a workflow can end in DBOS (errored outside its steps, cancelled) while its
return is still unfinished. The sweeper, a redelivery of the same event and the operator's
retry each give such a return a new workflow; one that keeps stalling is parked in `failed`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dbos import DBOS
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from support.gateway import Gateway, Sandbox, gateway_settings, simple_order
from support.processes import wait_until

SWEEPER_OFF = {"stuck_after": 3600.0}


def a_return(order_id: int, external_id: str) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "channel": "ticket",
        "order": {"platform_order_id": f"gid://shopify/Order/{order_id}"},
        "lines": [{"sku": "MUG-WHT", "quantity": 1}],
    }


def workflow_status(workflow_id: str) -> str | None:
    status = DBOS.get_workflow_status(workflow_id)
    return None if status is None else status.status


@pytest.fixture
def start_gateway(tmp_path: Path, sandbox: Sandbox) -> Iterator[Any]:
    started: list[Gateway] = []

    def start(db_url: str, **overrides: Any) -> Gateway:
        gateway = Gateway(gateway_settings(db_url, tmp_path, **overrides), sandbox)
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.close()


def cancelled_while_queued(gateway: Gateway, sandbox: Sandbox, order_id: int) -> dict[str, Any]:
    """A return whose queued workflow was cancelled in DBOS before it ran: stuck `received`.

    With one workflow per store at a time, a first return held by a slow platform call keeps
    the second one queued long enough to cancel it (the cancel follows within milliseconds, so
    a second is ample; every stalled return waits it out).
    """
    sandbox.seed_order(simple_order(order_id))
    sandbox.seed_order(simple_order(order_id + 1))
    sandbox.fault("latency", delay=1.0)
    first = gateway.post_return(a_return(order_id, f"SLOW-{order_id}")).json()["return"]
    stuck = gateway.post_return(a_return(order_id + 1, f"STUCK-{order_id}")).json()["return"]
    assert workflow_status(stuck["workflow_id"]) == "ENQUEUED"
    DBOS.cancel_workflow(stuck["workflow_id"])
    assert gateway.wait_for(first["id"])["status"] == "completed"
    body: dict[str, Any] = gateway.api.get(f"/v1/returns/{stuck['id']}").json()
    assert body["status"] == "received"
    assert workflow_status(stuck["workflow_id"]) == "CANCELLED"
    return body


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_workflow_failing_outside_its_steps_is_redriven_by_the_sweeper(
    db_url: str, start_gateway: Any, sandbox: Sandbox
) -> None:
    """The step fails on the database, then so does parking it: DBOS records an ERROR."""
    gateway = start_gateway(db_url, stuck_after=1.0, sweep_interval=0.2)
    sandbox.seed_order(simple_order(6001))
    sandbox.fault("latency", delay=2.0)  # holds the match step's order read
    accepted = gateway.post_return(a_return(6001, "ERR-1")).json()["return"]
    wait_until(lambda: not sandbox.pending_faults(), timeout=20, what="the order read to start")

    admin = create_engine(db_url, poolclass=NullPool)
    try:
        with admin.begin() as connection:
            connection.execute(text("ALTER TABLE returns RENAME TO returns_away"))
        wait_until(
            lambda: workflow_status(accepted["workflow_id"]) == "ERROR",
            timeout=30,
            what="the workflow to error outside its steps",
        )
        with admin.begin() as connection:
            connection.execute(text("ALTER TABLE returns_away RENAME TO returns"))
    finally:
        admin.dispose()

    body = gateway.wait_for(accepted["id"], timeout=60)
    assert body["status"] == "completed"
    redriven = [e for e in body["timeline"] if e["event"] == "workflow_redriven"]
    assert len(redriven) == 1
    assert redriven[0]["data"]["previous_workflow_id"] == accepted["workflow_id"]
    assert body["workflow_id"] == redriven[0]["data"]["workflow_id"] != accepted["workflow_id"]
    assert len(sandbox.refunds_created()) == 1


def test_redelivery_of_a_return_whose_workflow_ended_drives_it_again(
    db_url: str, start_gateway: Any, sandbox: Sandbox
) -> None:
    gateway = start_gateway(db_url, **SWEEPER_OFF)
    stuck = cancelled_while_queued(gateway, sandbox, 6100)

    again = gateway.post_return(a_return(6101, "STUCK-6100"))
    assert again.status_code == 202, again.text
    assert again.json()["duplicate"] is True
    body = gateway.wait_for(stuck["id"])
    assert body["status"] == "completed"
    redriven = [e for e in body["timeline"] if e["event"] == "workflow_redriven"]
    assert [e["reason"] for e in redriven] == ["delivered again while it was not moving"]
    assert len(sandbox.refunds_created()) == 2  # one per return, none twice


def test_operator_retry_drives_a_return_whose_workflow_ended(
    db_url: str, start_gateway: Any, sandbox: Sandbox
) -> None:
    gateway = start_gateway(db_url, **SWEEPER_OFF)
    stuck = cancelled_while_queued(gateway, sandbox, 6200)

    retried = gateway.api.post(f"/v1/returns/{stuck['id']}/retry")
    assert retried.status_code == 202, retried.text
    assert gateway.wait_for(stuck["id"])["status"] == "completed"


def test_a_return_that_keeps_stalling_is_parked_in_failed(
    db_url: str, start_gateway: Any, sandbox: Sandbox
) -> None:
    gateway = start_gateway(db_url, max_redrives=0, **SWEEPER_OFF)
    stuck = cancelled_while_queued(gateway, sandbox, 6300)

    assert gateway.post_return(a_return(6301, "STUCK-6300")).json()["duplicate"] is True
    body = gateway.wait_for(stuck["id"], timeout=30)
    assert body["status"] == "failed"
    last = body["timeline"][-1]
    assert last["event"] == "stalled"
    assert last["data"]["code"] == "STALLED"
    assert "an operator can retry it" in last["reason"]
    # The operator's retry starts it over; it is not counted against the stall limit.
    assert gateway.api.post(f"/v1/returns/{stuck['id']}/retry").status_code == 202
    assert gateway.wait_for_status(stuck["id"], "completed")["status"] == "completed"


def test_the_timeline_says_why_in_our_words_not_the_exception(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    """Issue 5, item 6: no exception names, HTTP lines or platform bodies on the timeline."""
    sandbox.seed_order(simple_order(6400))
    sandbox.fault("http_503", count=1000)
    return_id = gateway.post_return(a_return(6400, "DOWN-1")).json()["return"]["id"]
    body = gateway.wait_for(return_id, timeout=120)
    assert body["status"] == "failed"
    last = body["timeline"][-1]
    assert last["event"] == "retries_exhausted"
    assert last["reason"] == "the platform did not answer after several attempts"
    assert last["data"] == {"code": "PLATFORM_UNAVAILABLE"}
    # every word of the timeline, its timestamps aside (".503986Z" is not an HTTP status)
    everything = str([{k: v for k, v in e.items() if k != "at"} for e in body["timeline"]])
    for internal in ("Error", "HTTP", "503", "POST", "graphql", "Traceback", "sandbox"):
        assert internal not in everything
