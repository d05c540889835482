"""The Connectivity API against every platform's sandbox: discovery, every action of every
platform with its output checked against the published JSON Schema, writes that run once per
`Idempotency-Key` (also when replayed concurrently), tenant-owned connections and the audit log.

Real parts: the API on loopback, SQLite or PostgreSQL, each platform's sandbox over HTTP.
"""

from __future__ import annotations

import concurrent.futures
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from returnbridge.api.app import create_app
from returnbridge.cli import demo_platforms as platforms
from returnbridge.cli import demo_scenarios as scenarios
from returnbridge.cli.demo import seed_gateway, seed_merchant, seed_sandbox
from returnbridge.cli.sandboxes import build_app
from returnbridge.cli.servers import BackgroundServer
from returnbridge.engine.runtime import close_runtime, open_runtime
from support.gateway import gateway_settings

pytestmark = pytest.mark.timeout(240)

STORES = {store.platform: store for store in platforms.OTHER_STORES}
PLATFORMS = platforms.DEMO_PLATFORMS
WRITE_EFFECTS_IGNORED = {None, ""}


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[dict[str, BackgroundServer]]:
    servers = {p: BackgroundServer(build_app(p)).start() for p in PLATFORMS}
    yield servers
    for server in servers.values():
        server.stop()


@dataclass
class World:
    gateway: str
    apis: dict[str, httpx.Client]
    sandboxes: dict[str, BackgroundServer]

    def connection(self, platform: str) -> str:
        (only,) = self.apis[platform].get("/v1/connections").json()
        return str(only["id"])

    def act(
        self, platform: str, action: str, payload: dict[str, Any], key: str | None = None
    ) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key else {}
        return self.apis[platform].post(
            f"/v1/connections/{self.connection(platform)}/actions/{action}",
            json=payload,
            headers=headers,
        )

    def effects(self, platform: str) -> list[str]:
        journal = httpx.get(f"{self.sandboxes[platform].url}/_sandbox/journal", timeout=10).json()
        return [str(e["effect"]) for e in journal if e.get("effect") not in WRITE_EFFECTS_IGNORED]


@pytest.fixture
def world(db_url: str, tmp_path: Path, sandboxes: dict[str, BackgroundServer]) -> Iterator[World]:
    for server in sandboxes.values():
        httpx.post(f"{server.url}/_sandbox/reset", timeout=10).raise_for_status()
    seed_sandbox(sandboxes["shopify"].url)
    for platform, store in STORES.items():
        with httpx.Client(base_url=sandboxes[platform].url, timeout=10) as control:
            store.seed(control)
    settings = gateway_settings(db_url, tmp_path)
    runtime = open_runtime(settings)
    server = BackgroundServer(create_app(runtime)).start()
    keys = {"shopify": seed_gateway(runtime, sandboxes["shopify"].url)[1]}
    for platform, store in STORES.items():
        keys[platform] = seed_merchant(runtime, store, sandboxes[platform].url)[1]
    apis = {
        p: httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {k}"}, timeout=30)
        for p, k in keys.items()
    }
    yield World(server.url, apis, sandboxes)
    for api in apis.values():
        api.close()
    server.stop()
    close_runtime()


def _sample(platform: str) -> dict[str, Any]:
    samples = scenarios.samples() if platform == "shopify" else STORES[platform].samples()
    (sample,) = [s for s in samples if s.label.startswith("same order")]
    return sample.event


def _schemas(world: World, platform: str) -> dict[str, dict[str, Any]]:
    catalog = world.apis[platform].get("/v1/connectors").json()
    (entry,) = [c for c in catalog if c["platform"] == platform]
    return {a["name"]: a for a in entry["actions"]}


def _checked(response: httpx.Response, schema: dict[str, Any], status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    jsonschema.validate(body, schema["output_schema"])
    return body


def test_discovery_lists_every_platform_with_schemas(world: World) -> None:
    catalog = world.apis["shopify"].get("/v1/connectors").json()
    by_platform = {c["platform"]: c for c in catalog}
    assert set(by_platform) == {*PLATFORMS, "loop"}
    assert by_platform["loop"]["kind"] == "returns_system"
    assert by_platform["loop"]["actions"] == []
    for platform in PLATFORMS:
        entry = by_platform[platform]
        assert entry["kind"] == "store"
        names = [a["name"] for a in entry["actions"]]
        reads_and_refunds = [
            "get_order",
            "find_orders",
            "list_locations",
            "preview_refund",
            "create_refund",
            "list_refunds",
        ]
        # SHOPLINE restocks only inside a refund that moves money.
        assert names == reads_and_refunds + ([] if platform == "shopline" else ["restock"])
        jsonschema.Draft202012Validator.check_schema(entry["credentials_schema"])
        for action in entry["actions"]:
            jsonschema.Draft202012Validator.check_schema(action["input_schema"])
            jsonschema.Draft202012Validator.check_schema(action["output_schema"])
            assert action["idempotency_key"] == ("required" if action["write"] else "not_used")
    shopify = by_platform["shopify"]["credentials_schema"]
    assert shopify["required"] == ["access_token"]
    assert shopify["properties"]["access_token"]["writeOnly"] is True
    assert (
        world.apis["shopify"].get("/v1/connectors", headers={"Authorization": ""}).status_code
        == 401
    )


@pytest.mark.parametrize("platform", PLATFORMS)
def test_every_action_runs_against_the_sandbox_and_writes_run_once(
    world: World, platform: str
) -> None:
    schemas = _schemas(world, platform)
    event = _sample(platform)
    sku = event["lines"][0]["sku"]

    locations = _checked(world.act(platform, "list_locations", {}), schemas["list_locations"], 200)
    assert locations["locations"]

    reference = event["order"]
    if "platform_order_id" in reference:
        order_id = str(reference["platform_order_id"])
    else:
        found = _checked(
            world.act(platform, "find_orders", {"name": reference["order_number"]}),
            schemas["find_orders"],
            200,
        )
        assert len(found["orders"]) == 1, found
        order_id = found["orders"][0]["id"]
    order = _checked(
        world.act(platform, "get_order", {"order_id": order_id}), schemas["get_order"], 200
    )
    assert order["id"] == order_id
    line = next(ln for ln in order["line_items"] if ln["sku"] == sku)

    refund_input = {"order_id": order_id, "lines": [{"sku": sku, "quantity": 1}]}
    preview = _checked(
        world.act(platform, "preview_refund", refund_input), schemas["preview_refund"], 200
    )
    assert preview["plan"]["total"] == 1980  # 19.80 USD, the same on every platform
    if preview["platform_preview"] == "offered":
        assert preview["agrees"] is True, preview["differences"]
        assert preview["platform"]["total"] == 1980
    else:
        assert preview["platform"] is None
        assert preview["agrees"] is None
    before = world.effects(platform)
    assert before == world.effects(platform)  # previews and reads change nothing

    missing = world.act(platform, "create_refund", refund_input)
    assert missing.status_code == 428
    assert missing.json()["code"] == "IDEMPOTENCY_KEY_REQUIRED"

    key = f"refund-{uuid.uuid4()}"
    first = _checked(
        world.act(platform, "create_refund", refund_input, key), schemas["create_refund"], 201
    )
    assert first["total"] == 1980
    after_first = world.effects(platform)
    assert len(after_first) > len(before)
    again = world.act(platform, "create_refund", refund_input, key)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first
    assert world.effects(platform) == after_first  # the replay touched nothing
    reused = world.act(platform, "create_refund", {**refund_input, "note": "other"}, key)
    assert reused.status_code == 422
    assert reused.json()["code"] == "IDEMPOTENCY_KEY_REUSED"

    refunds = _checked(
        world.act(platform, "list_refunds", {"order_id": order_id}), schemas["list_refunds"], 200
    )
    assert [r["id"] for r in refunds["refunds"]].count(first["id"]) == 1

    if "restock" not in schemas:
        _check_health(world, platform)
        refused = world.act(platform, "restock", {"order_id": order_id, "lines": []}, "k")
        assert (refused.status_code, refused.json()["code"]) == (404, "ACTION_NOT_FOUND")
        return
    restock_key = f"restock-{uuid.uuid4()}"
    restock_input = {"order_id": order_id, "lines": [{"line_id": line["id"], "quantity": 1}]}
    restocked = _checked(
        world.act(platform, "restock", restock_input, restock_key), schemas["restock"], 201
    )
    assert restocked["lines"] == [{"line_id": line["id"], "quantity": 1}]
    after_restock = world.effects(platform)
    assert len(after_restock) > len(after_first)
    replay = world.act(platform, "restock", restock_input, restock_key)
    assert (replay.status_code, replay.json()) == (201, restocked)
    assert world.effects(platform) == after_restock

    _check_health(world, platform)
    audit = world.apis[platform].get("/v1/audit", params={"limit": 50}).json()
    outcomes = [(e["action"], e["outcome"], e["status_code"]) for e in reversed(audit)]
    assert ("create_refund", "error", 428) in outcomes
    assert outcomes.count(("create_refund", "ok", 201)) == 1
    assert outcomes.count(("create_refund", "replayed", 201)) == 1
    assert ("restock", "replayed", 201) in outcomes
    assert all(e["channel"] == "api" and e["actor"] == "api-key" for e in audit)
    assert {e["connection_id"] for e in audit} == {world.connection(platform)}


def _check_health(world: World, platform: str) -> None:
    """The connection's calls above are counted, with the limiter's headroom."""
    health = (
        world.apis[platform].get(f"/v1/connections/{world.connection(platform)}").json()["health"]
    )
    assert health["calls"] >= 5
    assert 200 <= health["last_status"] < 300
    assert health["last_call_at"] is not None
    if platform != "woocommerce":  # WooCommerce publishes no rate limit
        assert health["headroom"], health


def test_concurrent_writes_with_one_key_refund_once(world: World) -> None:
    platform = "woocommerce"  # no platform idempotency: only our claim keeps it to one
    event = _sample(platform)
    found = world.act(platform, "find_orders", {"name": event["order"]["order_number"]}).json()
    payload = {"order_id": found["orders"][0]["id"], "lines": [{"sku": "TEE-GRN", "quantity": 1}]}
    before = world.effects(platform)
    key = f"burst-{uuid.uuid4()}"
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(
            pool.map(lambda _: world.act(platform, "create_refund", payload, key), range(16))
        )
    statuses = sorted({a.status_code for a in answers})
    assert set(statuses) <= {201, 409}, [a.text for a in answers]
    made = {a.json()["id"] for a in answers if a.status_code == 201}
    assert len(made) == 1
    assert len(world.effects(platform)) == len(before) + 1
    busy = [a for a in answers if a.status_code == 409]
    assert all(
        a.json()["code"] == "IDEMPOTENCY_KEY_IN_USE" and a.headers["Retry-After"] for a in busy
    )


def test_actions_and_connections_are_the_tenants_own(world: World) -> None:
    theirs = world.connection("woocommerce")
    answer = world.apis["shopify"].post(f"/v1/connections/{theirs}/actions/list_locations", json={})
    assert answer.status_code == 404
    assert answer.json()["code"] == "CONNECTION_NOT_FOUND"
    assert world.apis["shopify"].get(f"/v1/connections/{theirs}").status_code == 404
    assert world.apis["shopify"].delete(f"/v1/connections/{theirs}").status_code == 404
    unknown = world.act("shopify", "teleport", {})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "ACTION_NOT_FOUND")
    bad = world.act("shopify", "get_order", {"order_id": ""})
    assert (bad.status_code, bad.json()["code"]) == (422, "INVALID_INPUT")
    nowhere = world.act("shopify", "get_order", {"order_id": "gid://shopify/Order/999999"})
    assert nowhere.status_code == 404


def test_a_tenant_creates_verifies_rotates_and_deletes_its_connections(world: World) -> None:
    api = world.apis["bigcommerce"]
    store = STORES["bigcommerce"]
    base = world.sandboxes["bigcommerce"].url + store.base_path
    good = dict(store.credentials)
    wrong = {**good, "access_token": "not-the-token"}
    body = {"platform": "bigcommerce", "name": "second", "base_url": base, "credentials": wrong}

    refused = api.post("/v1/connections", json=body)
    assert refused.status_code == 502, refused.text
    assert refused.json()["code"] == "PLATFORM_AUTH"
    assert "not-the-token" not in refused.text
    assert [c["name"] for c in api.get("/v1/connections").json()] == ["bigcommerce"]

    made = api.post("/v1/connections", json={**body, "credentials": good})
    assert made.status_code == 201, made.text
    new_id = made.json()["id"]
    assert "credentials" not in made.json()
    assert api.post(f"/v1/connections/{new_id}/verify").json()["ok"] is True
    clash = api.post("/v1/connections", json={**body, "credentials": good})
    assert clash.status_code == 409

    rotated = api.put(f"/v1/connections/{new_id}/credentials", json={"credentials": wrong})
    assert rotated.status_code == 502  # tried first: the working credentials stay
    assert api.post(f"/v1/connections/{new_id}/verify").json()["ok"] is True
    stored_wrong = api.put(
        f"/v1/connections/{new_id}/credentials", json={"credentials": wrong, "verify": False}
    )
    assert stored_wrong.status_code == 200
    failing = api.post(f"/v1/connections/{new_id}/verify")
    assert (failing.status_code, failing.json()["code"]) == (502, "PLATFORM_AUTH")
    assert (
        api.put(f"/v1/connections/{new_id}/credentials", json={"credentials": good}).status_code
        == 200
    )
    assert api.post(f"/v1/connections/{new_id}/verify").json()["ok"] is True

    naming = {**body, "name": "third", "credentials": good, "settings": {"returns_system": new_id}}
    third = api.post("/v1/connections", params={"verify": "false"}, json=naming).json()["id"]
    in_use = api.delete(f"/v1/connections/{new_id}")
    assert (in_use.status_code, in_use.json()["code"]) == (409, "CONNECTION_IN_USE")
    assert third in in_use.json()["detail"]
    assert api.delete(f"/v1/connections/{third}").status_code == 204
    assert api.delete(f"/v1/connections/{new_id}").status_code == 204
    assert api.get(f"/v1/connections/{new_id}").status_code == 404
    log = [
        (e["action"], e["outcome"], e["status_code"]) for e in reversed(api.get("/v1/audit").json())
    ]
    assert log == [
        ("create_connection", "error", 502),
        ("create_connection", "ok", 201),
        ("verify_connection", "ok", 200),
        ("rotate_credentials", "error", 502),
        ("verify_connection", "ok", 200),
        ("rotate_credentials", "ok", 200),
        ("verify_connection", "error", 502),
        ("rotate_credentials", "ok", 200),
        ("verify_connection", "ok", 200),
        ("create_connection", "ok", 201),
        ("delete_connection", "ok", 204),
        ("delete_connection", "ok", 204),
    ]


def test_a_stock_adjustment_whose_answer_was_lost_is_never_sent_twice(world: World) -> None:
    """BigCommerce's inventory adjustments carry no key: when the answer is lost the outcome
    is unknown, and the key answers so from then on instead of adjusting again."""
    platform = "bigcommerce"
    order = world.act(platform, "get_order", {"order_id": "3001"}).json()
    body = {"order_id": "3001", "lines": [{"line_id": order["line_items"][0]["id"], "quantity": 1}]}
    control = world.sandboxes[platform].url + "/_sandbox"
    adjustments = f"{control}/stores/{platforms.BC_STORE}/adjustments"
    httpx.post(
        f"{control}/faults",
        json={
            "kind": "timeout_after_commit",
            "count": 1,
            "operation": "post-relative-adjustment",
            "delay": 7.0,  # longer than the gateway's 5 s HTTP timeout
        },
        timeout=10,
    ).raise_for_status()
    key = f"restock-{uuid.uuid4()}"
    lost = world.act(platform, "restock", body, key)
    assert (lost.status_code, lost.json()["code"]) == (409, "OUTCOME_UNKNOWN"), lost.text
    assert "check the stock" in lost.json()["detail"]
    assert len(httpx.get(adjustments, timeout=10).json()) == 1  # applied once, answer lost
    again = world.act(platform, "restock", body, key)
    assert (again.status_code, again.json()["code"]) == (409, "OUTCOME_UNKNOWN")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(httpx.get(adjustments, timeout=10).json()) == 1
    fresh = world.act(platform, "restock", body, f"restock-{uuid.uuid4()}")
    assert fresh.status_code == 201, fresh.text
    assert len(httpx.get(adjustments, timeout=10).json()) == 2


def test_wrong_woocommerce_keys_are_refused_although_locations_need_no_call(world: World) -> None:
    """WooCommerce's one stock location is known without a call; the check still reaches the
    site (an order search) with the keys."""
    store = STORES["woocommerce"]
    body = {
        "platform": "woocommerce",
        "name": "second",
        "base_url": world.sandboxes["woocommerce"].url + store.base_path,
        "credentials": {**store.credentials, "consumer_secret": "cs_not_the_secret"},
    }
    refused = world.apis["woocommerce"].post("/v1/connections", json=body)
    assert refused.status_code == 502, refused.text
    assert refused.json()["code"] == "PLATFORM_AUTH"
    good = world.apis["woocommerce"].post(
        "/v1/connections", json={**body, "credentials": store.credentials}
    )
    assert good.status_code == 201, good.text
