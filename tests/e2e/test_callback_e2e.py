"""Vendor callbacks end to end: the gateway (API on loopback, DBOS worker, its callback thread)
runs a return through the Shopify sandbox, and a vendor endpoint on loopback receives one
signed callback per status change, in order, each verified by the reference verifier and the
`standardwebhooks` package."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from standardwebhooks.webhooks import Webhook

from returnbridge.cli import demo_scenarios as scenarios
from support.one_platform import Gateway, running_gateway, settle
from support.receiver import ReceivingServer

pytestmark = pytest.mark.timeout(120)

ORDER = 7301
VERIFIER = Path(__file__).resolve().parents[2] / "docs" / "examples" / "verify_callback.py"


def _reference_verifier() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_callback", VERIFIER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def shopify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    monkeypatch.setenv("RETURNBRIDGE_CALLBACKS_ALLOW_PRIVATE_ADDRESSES", "true")
    monkeypatch.setenv("RETURNBRIDGE_CALLBACK_TICK_SECONDS", "0.1")
    with running_gateway("shopify", tmp_path) as running:
        with running.control() as control:
            control.post(
                "/_sandbox/shops",
                json={"domain": scenarios.SHOP_DOMAIN, "access_token": scenarios.ACCESS_TOKEN},
            )
            control.post(
                f"/_sandbox/shops/{scenarios.SHOP_DOMAIN}/orders",
                json={
                    "id": ORDER,
                    "name": f"#{ORDER}",
                    "email": "noor@example.com",
                    "line_items": [
                        {"sku": "MUG-1", "title": "Mug", "quantity": 1, "price": "12.00"}
                    ],
                },
            ).raise_for_status()
        yield running


def test_the_vendor_receives_one_verified_callback_per_status_change_in_order(
    shopify: Gateway,
) -> None:
    verifier = _reference_verifier()
    with (
        ReceivingServer() as vendor,
        shopify.merchant({"access_token": scenarios.ACCESS_TOKEN}) as api,
    ):
        subscribed = api.post("/v1/callbacks/subscriptions", json={"url": vendor.url})
        assert subscribed.status_code == 201, subscribed.text
        secret = subscribed.json()["secret"]
        body = settle(
            api,
            {
                "external_id": "CB-E2E-1",
                "order": {"platform_order_id": f"gid://shopify/Order/{ORDER}"},
                "lines": [{"sku": "MUG-1", "quantity": 1}],
            },
        )
        assert body["status"] == "completed", body["timeline"]
        changes = [
            (e["from_status"], e["to_status"])
            for e in body["timeline"]
            if e["to_status"] is not None and e["from_status"] != e["to_status"]
        ]
        deadline = time.monotonic() + 30
        while True:  # every callback sent and its answer recorded
            log = api.get("/v1/callbacks/deliveries", params={"return_id": body["id"]}).json()
            statuses = [d["status"] for d in log["items"]]
            if len(statuses) == len(changes) and set(statuses) == {"delivered"}:
                break
            assert time.monotonic() < deadline, f"callbacks still {statuses}"
            time.sleep(0.05)

    received = vendor.receiver.received()
    assert len(received) == len(changes)
    oracle = Webhook(secret)
    payloads = []
    for request in received:
        payload = verifier.verify(secret, request.headers, request.body)
        assert oracle.verify(request.body, request.headers) == payload
        payloads.append(payload)
    assert [(p["data"]["previous_status"], p["data"]["status"]) for p in payloads] == changes
    assert payloads[0]["type"] == "return.received"
    assert payloads[-1]["type"] == "return.completed"
    assert payloads[-1]["data"]["refund_total"] == body["refund_total"]["minor"]
    assert {p["data"]["external_id"] for p in payloads} == {"CB-E2E-1"}
    assert [r.headers["webhook-id"] for r in received] == [
        d["webhook_id"] for d in reversed(log["items"])
    ]
    assert {(d["status"], d["attempts"]) for d in log["items"]} == {("delivered", 1)}
