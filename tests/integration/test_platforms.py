"""One gateway, four platforms: the same return through Shopify, WooCommerce, BigCommerce and
SHOPLINE.

Real parts only: the API on loopback, DBOS workflows on SQLite or PostgreSQL, and each
platform's sandbox served over HTTP. The order is the same on every platform (three 20.00
shirts, a 5.00 order coupon, 8 % tax on the discounted price, taxed shipping); returning one
shirt must refund the same 19.80 everywhere.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from returnbridge.api.app import create_app
from returnbridge.cli import demo_platforms as platforms
from returnbridge.cli import demo_scenarios as scenarios
from returnbridge.cli.demo import seed_gateway, seed_merchant, seed_sandbox
from returnbridge.cli.sandboxes import build_app
from returnbridge.cli.servers import BackgroundServer
from returnbridge.engine.launch import launch_dbos, shutdown_dbos
from returnbridge.engine.runtime import close_runtime, open_runtime
from support.gateway import RESTING, gateway_settings

pytestmark = pytest.mark.timeout(240)

STORES = {store.platform: store for store in platforms.OTHER_STORES}
PLATFORMS = platforms.DEMO_PLATFORMS


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[dict[str, BackgroundServer]]:
    servers = {p: BackgroundServer(build_app(p)).start() for p in PLATFORMS}
    yield servers
    for server in servers.values():
        server.stop()


@dataclass
class Merchants:
    """A gateway with one tenant per platform, each with its API client."""

    apis: dict[str, httpx.Client]
    sandboxes: dict[str, BackgroundServer]

    def post(self, platform: str, event: dict[str, Any]) -> str:
        response = self.apis[platform].post("/v1/returns", json=event)
        assert response.status_code == 202, response.text
        return str(response.json()["return"]["id"])

    def wait(self, platform: str, return_id: str, timeout: float = 90.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            body: dict[str, Any] = self.apis[platform].get(f"/v1/returns/{return_id}").json()
            if body["status"] in RESTING:
                return body
            assert time.monotonic() < deadline, f"{platform} return still {body['status']}"
            time.sleep(0.05)

    def control(self, platform: str) -> httpx.Client:
        return httpx.Client(base_url=self.sandboxes[platform].url, timeout=10)

    def journal(self, platform: str) -> list[dict[str, Any]]:
        with self.control(platform) as control:
            entries: list[dict[str, Any]] = control.get("/_sandbox/journal").json()
        return entries


@pytest.fixture
def merchants(
    db_url: str, tmp_path: Path, sandboxes: dict[str, BackgroundServer]
) -> Iterator[Merchants]:
    for server in sandboxes.values():
        httpx.post(f"{server.url}/_sandbox/reset", timeout=10).raise_for_status()
    seed_sandbox(sandboxes["shopify"].url)
    for platform, store in STORES.items():
        with httpx.Client(base_url=sandboxes[platform].url, timeout=10) as control:
            store.seed(control)
    settings = gateway_settings(db_url, tmp_path, http_timeout=3.0)
    runtime = open_runtime(settings)
    launch_dbos(settings, work=True)
    server = BackgroundServer(create_app(runtime)).start()
    keys = {"shopify": seed_gateway(runtime, sandboxes["shopify"].url)[1]}
    for platform, store in STORES.items():
        keys[platform] = seed_merchant(runtime, store, sandboxes[platform].url)[1]
    apis = {
        platform: httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        for platform, key in keys.items()
    }
    yield Merchants(apis, sandboxes)
    for api in apis.values():
        api.close()
    server.stop()
    shutdown_dbos()
    close_runtime()


def _same_order_return(platform: str) -> dict[str, Any]:
    """The sample that returns one shirt of the same order, on `platform`."""
    samples = scenarios.samples() if platform == "shopify" else STORES[platform].samples()
    (sample,) = [s for s in samples if s.label == f"same order, {_label(platform)}"]
    return sample.event


def _label(platform: str) -> str:
    return {
        "shopify": "Shopify",
        "woocommerce": "WooCommerce",
        "bigcommerce": "BigCommerce",
        "shopline": "SHOPLINE",
    }[platform]


def _events(body: dict[str, Any]) -> list[str]:
    return [event["event"] for event in body["timeline"]]


def test_one_partial_return_with_discount_and_tax_refunds_the_same_on_every_platform(
    merchants: Merchants,
) -> None:
    ids = {p: merchants.post(p, _same_order_return(p)) for p in PLATFORMS}
    bodies = {p: merchants.wait(p, ids[p]) for p in PLATFORMS}
    assert {p: b["status"] for p, b in bodies.items()} == dict.fromkeys(PLATFORMS, "completed")
    totals = {p: b["refund_total"] for p, b in bodies.items()}
    assert set(totals) == set(PLATFORMS)
    for total in totals.values():
        assert (total["amount"], total["currency"]) == (platforms.SAME_ORDER_REFUND, "USD")
    # WooCommerce: the refund sent names each line's refund_total and refund_tax, and they
    # add up exactly to its amount.
    (woo,) = [e for e in merchants.journal("woocommerce") if e.get("effect") == "refund_created"]
    body = woo["body"]
    lines = sum(
        Decimal(str(item.get("refund_total") or 0))
        + sum(Decimal(str(tax["refund_total"])) for tax in item.get("refund_tax") or ())
        for item in body["line_items"]
    )
    assert lines == Decimal(body["amount"]) == Decimal(platforms.SAME_ORDER_REFUND)
    # BigCommerce refunds do not restock: the gateway adjusted the stock on its own.
    assert "restocked" in _events(bodies["bigcommerce"])
    with merchants.control("bigcommerce") as control:
        levels = control.get(
            f"/_sandbox/stores/{platforms.BC_STORE}/stock",
            params={"location_id": platforms.BC_LOCATION},
        ).json()
    assert levels["TEE-GRN"] == 11  # 10 seeded + the returned shirt
    with merchants.control("woocommerce") as control:
        stock = control.get("/_sandbox/stores/corner-shop/stock").json()
    assert json.dumps(stock)  # the returned shirt went back into WooCommerce's stock
    tee = str(platforms.WOO_PRODUCTS["TEE-GRN"])
    assert stock[tee] == 11
    # SHOPLINE restocks inside the refund: the shirt was typed Returned (it had shipped) and
    # went back to the connection's location; the refund's note carries the gateway's key.
    with merchants.control("shopline") as control:
        shop = f"/_sandbox/stores/{platforms.SL_STORE}"
        levels = control.get(f"{shop}/stock", params={"location_id": platforms.SL_LOCATION})
        state = control.get(f"{shop}/orders/{platforms.SL_ORDER_IDS['#4001']}").json()
    assert levels.json()["TEE-GRN"] == 11
    (refunded,) = state["refunded"].values()
    assert refunded["Returned"] == 1
    assert not refunded.get("Unshipped")
    (refund,) = state["order"]["refunds"]
    assert refund["note"].startswith("returnbridge rb-")


@pytest.mark.parametrize("platform", ["woocommerce", "bigcommerce", "shopline"])
def test_a_refund_whose_answer_was_lost_is_found_by_its_key_not_paid_twice(
    merchants: Merchants, platform: str
) -> None:
    """The platform made the refund, but the answer never arrived (timeout after commit):
    none of these platforms has an idempotency key, so the gateway finds its refund by the
    key it wrote into it, and the return completes with one refund."""
    operation = {
        "woocommerce": "refunds.create",
        "bigcommerce": "createOrderRefund",
        "shopline": "create_refund",
    }[platform]
    with merchants.control(platform) as control:
        control.post(
            "/_sandbox/faults",
            json={
                "kind": "timeout_after_commit",
                "count": 1,
                "operation": operation,
                "delay": 4.0,  # longer than the gateway's 3 s HTTP timeout
            },
        ).raise_for_status()
    return_id = merchants.post(platform, _same_order_return(platform))
    body = merchants.wait(platform, return_id)
    assert body["status"] == "completed", body["timeline"]
    assert body["refund_total"]["amount"] == platforms.SAME_ORDER_REFUND
    made = platforms.refund_keys(merchants.journal(platform))
    assert list(made.values()) == [1], made
    faults = [e for e in merchants.journal(platform) if e.get("fault") == "timeout_after_commit"]
    assert len(faults) == 1


def _bc_sample(label: str) -> dict[str, Any]:
    (sample,) = [s for s in STORES["bigcommerce"].samples() if s.label == label]
    return sample.event


def _bc_stock(merchants: Merchants, sku: str) -> int:
    with merchants.control("bigcommerce") as control:
        levels = control.get(
            f"/_sandbox/stores/{platforms.BC_STORE}/stock",
            params={"location_id": platforms.BC_LOCATION},
        ).json()
    return int(levels.get(sku, 0))


def _bc_fault(merchants: Merchants, kind: str, **options: Any) -> None:
    with merchants.control("bigcommerce") as control:
        control.post(
            "/_sandbox/faults",
            json={"kind": kind, "count": 1, "operation": "post-relative-adjustment", **options},
        ).raise_for_status()


def test_goods_only_return_on_bigcommerce_restocks_without_a_refund(
    merchants: Merchants,
) -> None:
    before = _bc_stock(merchants, "TENT-2P")
    # refused before anything was applied, the window said to reset in 0.2 s: tried again
    _bc_fault(merchants, "http_429", delay=0.2)
    return_id = merchants.post("bigcommerce", _bc_sample("exchange, restocked"))
    body = merchants.wait("bigcommerce", return_id)
    assert body["status"] == "completed", body["timeline"]
    events = _events(body)
    assert events.index("restock_sent") < events.index("restocked")
    assert "restock_uncertain" not in events
    refused = [e for e in merchants.journal("bigcommerce") if e.get("fault") == "http_429"]
    assert [e["operation"] for e in refused] == ["post-relative-adjustment"]
    restocked = next(e for e in body["timeline"] if e["event"] == "restocked")
    assert restocked["data"]["units"] == 1
    assert _bc_stock(merchants, "TENT-2P") == before + 1
    assert platforms.refund_keys(merchants.journal("bigcommerce")) == {}  # no refund at all


def test_a_stock_adjustment_whose_answer_was_lost_waits_for_a_person(
    merchants: Merchants,
) -> None:
    """Inventory adjustments have no idempotency key: when the answer to one is lost, the
    gateway cannot know whether it was applied, so it asks a person instead of adjusting the
    stock a second time."""
    before = _bc_stock(merchants, "TENT-2P")
    _bc_fault(merchants, "timeout_after_commit", delay=4.0)
    return_id = merchants.post("bigcommerce", _bc_sample("exchange, restocked"))
    body = merchants.wait("bigcommerce", return_id)
    assert body["status"] == "needs_review", body["timeline"]
    assert body["timeline"][-1]["event"] == "restock_uncertain"
    assert "check the stock" in body["timeline"][-1]["reason"]
    assert _bc_stock(merchants, "TENT-2P") == before + 1  # applied once, never twice


def test_a_shopline_return_of_shipped_and_unshipped_units_types_and_restocks_each(
    merchants: Merchants,
) -> None:
    """Two lamps, one shipped: SHOPLINE gets one unit typed Returned (restocked as a return)
    and one typed Unshipped (restocked as a cancellation), both at the connection's location,
    and refunds both."""
    order_id = "21050000000000000000004004"
    shop = f"/_sandbox/stores/{platforms.SL_STORE}"
    with merchants.control("shopline") as control:
        control.post(
            f"{shop}/orders",
            json={
                "id": order_id,
                "name": "#4004",
                "email": "kim@example.com",
                "line_items": [
                    {
                        "sku": "LAMP-S",
                        "title": "Desk lamp",
                        "quantity": 2,
                        "price": "35.00",
                        "fulfilled": 1,
                        "tax_lines": [{"title": "VAT", "rate": "0.08"}],
                    }
                ],
            },
        ).raise_for_status()
    event = {
        "external_id": "SL-4004",
        "channel": "web",
        "reason": "ordered two by mistake",
        "order": {"order_number": "#4004"},
        "lines": [{"sku": "LAMP-S", "quantity": 2}],
    }
    body = merchants.wait("shopline", merchants.post("shopline", event))
    assert body["status"] == "completed", body["timeline"]
    assert body["refund_total"]["amount"] == "75.60"  # 2 x (35.00 + 2.80 tax)
    with merchants.control("shopline") as control:
        state = control.get(f"{shop}/orders/{order_id}").json()
        levels = control.get(f"{shop}/stock", params={"location_id": platforms.SL_LOCATION})
    ((_, refunded),) = state["refunded"].items()
    assert refunded == {"Returned": 1, "Unshipped": 1}
    (refund,) = state["order"]["refunds"]
    assert sorted(
        (x["type"], x["restock_type"], x["location_id"]) for x in refund["refund_line_items"]
    ) == [
        ("Returned", "return", platforms.SL_LOCATION),
        ("Unshipped", "cancel", platforms.SL_LOCATION),
    ]
    assert levels.json()["LAMP-S"] == 2
