"""Poll sources through the API with a running worker: the DBOS tick and run-now drive syncs.

A whole gateway (API on loopback, DBOS worker, SQLite or PostgreSQL) polls the vendor sandbox.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dbos import DBOS

from returnbridge.cli.servers import BackgroundServer
from returnbridge.cli.sources_cmd import poll_example
from returnbridge.sandbox.vendor import create_app as create_vendor
from support.gateway import Gateway, Sandbox, gateway_settings
from support.processes import wait_until

pytestmark = pytest.mark.timeout(240)

MAPPING = (
    Path(__file__).resolve().parents[2] / "src/returnbridge/sandbox/vendor/mapping.yaml"
).read_text()
RARELY = "0 0 1 1 *"


@pytest.fixture
def vendor() -> Iterator[httpx.Client]:
    server = BackgroundServer(create_vendor()).start()
    client = httpx.Client(base_url=server.url, timeout=10)
    client.post("/_control/auth", json={"kind": "bearer", "token": "vendor-token-1"})
    yield client
    client.close()
    server.stop()


def _source(vendor: httpx.Client, name: str, schedule: str = RARELY) -> dict[str, Any]:
    return {
        "name": name,
        "config": {
            "url": f"{str(vendor.base_url).rstrip('/')}/pages/returns",
            "auth": "bearer",
            "schedule": schedule,
            "page_size": 4,
        },
        "secrets": {"token": "vendor-token-1"},
        "mapping": MAPPING,
    }


def _state(gateway: Gateway, source_id: str) -> dict[str, Any]:
    body: dict[str, Any] = gateway.api.get(f"/v1/sources/{source_id}").json()
    return body


def test_a_poll_source_is_created_synced_paused_run_now_and_resumed(
    db_gateway: Gateway, vendor: httpx.Client
) -> None:
    api = db_gateway.api
    vendor.post("/_control/seed", params={"count": 5})

    created = api.post("/v1/sources", json=_source(vendor, "helpdesk"))

    assert created.status_code == 201, created.text
    assert "vendor-token-1" not in created.text
    source = created.json()
    assert (source["kind"], source["status"], source["has_mapping"]) == ("poll", "active", True)
    # due at once: the scheduled tick starts its first sync
    wait_until(
        lambda: _state(db_gateway, source["id"])["totals"]["new"] == 5,
        timeout=60,
        what="first sync",
    )
    state = _state(db_gateway, source["id"])
    assert state["last_run"]["outcome"] == "succeeded"
    assert state["last_success_at"] is not None
    assert state["cursor"] is not None

    paused = api.post(f"/v1/sources/{source['id']}/pause")
    assert paused.json()["status"] == "paused"
    vendor.post("/_control/seed", params={"count": 3})
    run = api.post(f"/v1/sources/{source['id']}/run")
    assert run.status_code == 202, run.text
    wait_until(
        lambda: _state(db_gateway, source["id"])["totals"]["new"] == 8,
        timeout=60,
        what="run-now sync",
    )
    assert _state(db_gateway, source["id"])["status"] == "paused"
    handle = DBOS.retrieve_workflow(run.json()["workflow_id"])
    assert handle.get_result()["outcome"] == "succeeded"

    resumed = api.post(f"/v1/sources/{source['id']}/resume")
    assert resumed.json()["status"] == "active"
    listed = api.get("/v1/sources").json()["sources"]
    assert [s["id"] for s in listed] == [source["id"]]
    assert "vendor-token-1" not in api.get("/v1/sources").text


@pytest.fixture
def quick_tick_gateway(tmp_path: Path, sandbox: Sandbox) -> Iterator[Gateway]:
    """A gateway whose worker looks for due sources every 2 s (default 15 s)."""
    settings = gateway_settings(f"sqlite:///{tmp_path / 'rb.db'}", tmp_path, poll_tick_seconds=2)
    running = Gateway(settings, sandbox)
    yield running
    running.close()


def test_a_scheduled_source_syncs_again_on_its_own(
    quick_tick_gateway: Gateway, vendor: httpx.Client
) -> None:
    gateway = quick_tick_gateway
    vendor.post("/_control/seed", params={"count": 2})
    source = gateway.api.post(
        "/v1/sources", json=_source(vendor, "every-second", "* * * * * *")
    ).json()
    wait_until(
        lambda: _state(gateway, source["id"])["totals"]["new"] == 2, timeout=60, what="a first sync"
    )
    vendor.post("/_control/seed", params={"count": 1})
    wait_until(
        lambda: _state(gateway, source["id"])["totals"]["new"] == 3,
        timeout=60,
        what="a scheduled sync",
    )
    assert len(DBOS.list_workflows(name="poll_source")) >= 2


def test_bad_sources_are_refused_with_the_field_named(
    gateway: Gateway, vendor: httpx.Client
) -> None:
    api = gateway.api
    bad_url = _source(vendor, "x") | {"config": {"url": "ftp://nope"}}
    no_secret = _source(vendor, "y") | {"secrets": {}}
    bad_cron = _source(vendor, "z", "every tuesday")
    bad_mapping = _source(vendor, "w") | {"mapping": "fields: {nope: x}"}

    answers = [api.post("/v1/sources", json=body) for body in (bad_url, no_secret, bad_cron)]
    mapping_answer = api.post("/v1/sources", json=bad_mapping)
    api.post("/v1/sources", json=_source(vendor, "taken"))
    taken = api.post("/v1/sources", json=_source(vendor, "taken"))

    assert [a.status_code for a in answers] == [422, 422, 422]
    assert [a.json()["field"] for a in answers] == ["url", "secrets", "schedule"]
    assert (mapping_answer.status_code, mapping_answer.json()["code"]) == (422, "MAPPING_INVALID")
    assert (taken.status_code, taken.json()["code"]) == (409, "SOURCE_NAME_TAKEN")
    assert api.get("/v1/sources/src_unknown").status_code == 404
    assert api.post("/v1/sources/src_unknown/run").status_code == 404


def test_the_demo_poll_example_turns_a_vendor_record_into_a_return(gateway: Gateway) -> None:
    demo = poll_example(
        gateway.api,
        records=[{"order_number": "#2001", "items": [{"sku": "MUG-WHT", "qty": 1}]}],
    )
    try:
        assert demo.source["last_run"]["outcome"] == "succeeded"
        assert demo.source["totals"]["new"] == 1
        returns = gateway.api.get("/v1/returns").json()
        assert [r["external_id"] for r in returns["items"]] == ["RMA-1001"]
        assert demo.token not in gateway.api.get("/v1/sources").text
    finally:
        demo.stop()
