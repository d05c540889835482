"""Store credit and duties through the whole workflow, against the platforms' sandboxes.

`refund.method: store_credit` must reach the platform as its store-credit refund (BigCommerce:
the quote's store-credit refund method; Shopify: `refundMethods.storeCreditRefund`), and
`refund.duties` must refund the returned lines' import duties (Shopify `refundDuties`).
Real parts: the API on loopback, DBOS on SQLite, the sandboxes over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from returnbridge.cli import demo_platforms as platforms
from returnbridge.cli import demo_scenarios as scenarios
from returnbridge.cli.demo import seed_sandbox
from support.one_platform import Gateway, running_gateway, settle

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def bigcommerce(tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway("bigcommerce", tmp_path) as running:
        with running.control() as control:
            platforms.BIGCOMMERCE.seed(control)
        yield running


def _bigcommerce_refunds(running: Gateway, order_id: int) -> list[dict[str, Any]]:
    """The order's refunds as BigCommerce's API lists them."""
    store = platforms.BIGCOMMERCE
    with running.control() as api:
        answer = api.get(
            f"/stores/{platforms.BC_STORE}/v3/orders/{order_id}/payment_actions/refunds",
            headers={"X-Auth-Token": store.credentials["access_token"]},
        )
    answer.raise_for_status()
    refunds: list[dict[str, Any]] = answer.json()["data"]
    return refunds


def test_a_store_credit_return_on_bigcommerce_pays_with_store_credit(
    bigcommerce: Gateway,
) -> None:
    store = platforms.BIGCOMMERCE
    event = {
        "external_id": "SC-BC-1",
        "order": {"platform_order_id": "3001"},
        "lines": [{"sku": "TEE-GRN", "quantity": 1}],
        "refund": {"method": "store_credit"},
    }
    with bigcommerce.merchant(store.credentials, **store.settings) as api:
        body = settle(api, event)
    assert body["status"] == "completed", body["timeline"]
    total = body["refund_total"]
    assert (total["amount"], total["currency"]) == (platforms.SAME_ORDER_REFUND, "USD")
    (made,) = _bigcommerce_refunds(bigcommerce, 3001)
    assert [p["provider_id"] for p in made["payments"]] == ["storecredit"]
    assert sum(Decimal(str(p["amount"])) for p in made["payments"]) == Decimal(
        platforms.SAME_ORDER_REFUND
    )


DUTIED_ORDER = 7201


@pytest.fixture
def shopify(tmp_path: Path) -> Iterator[Gateway]:
    """The demo shop plus one order of two imported lamps (12.00 duty on the line)."""
    with running_gateway("shopify", tmp_path) as running:
        seed_sandbox(running.sandbox_url)
        with running.control() as control:
            control.post(
                f"/_sandbox/shops/{scenarios.SHOP_DOMAIN}/orders",
                json={
                    "id": DUTIED_ORDER,
                    "name": f"#{DUTIED_ORDER}",
                    "email": "ines@example.com",
                    "line_items": [
                        {
                            "sku": "LAMP-1",
                            "title": "Imported lamp",
                            "quantity": 2,
                            "price": "40.00",
                            "tax_lines": [{"title": "VAT", "rate": "0.1", "price": "8.00"}],
                            "duties": [{"price": "12.00", "harmonized_system_code": "940520"}],
                        }
                    ],
                },
            ).raise_for_status()
        yield running


def _shopify_merchant(running: Gateway) -> httpx.Client:
    return running.merchant(
        {"access_token": scenarios.ACCESS_TOKEN}, restock_location_id=scenarios.RESTOCK_LOCATION
    )


def _lamp_return(external_id: str, **refund: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "order": {"platform_order_id": f"gid://shopify/Order/{DUTIED_ORDER}"},
        "lines": [{"sku": "LAMP-1", "quantity": 1}],
        "refund": refund,
    }


def _shopify_refunds(running: Gateway) -> list[dict[str, Any]]:
    with running.control() as control:
        order = control.get(f"/_sandbox/shops/{scenarios.SHOP_DOMAIN}/orders/{DUTIED_ORDER}").json()
    refunds: list[dict[str, Any]] = order["refunds"]
    return refunds


def test_a_duties_refund_on_shopify_gives_back_the_returned_units_share(
    shopify: Gateway,
) -> None:
    with _shopify_merchant(shopify) as api:
        body = settle(api, _lamp_return("DU-1", duties="proportional"))
    assert body["status"] == "completed", body["timeline"]
    # one lamp: 40.00 + 4.00 VAT + half of the 12.00 duty
    total = body["refund_total"]
    assert (total["amount"], total["currency"]) == ("50.00", "USD")
    planned = next(e for e in body["timeline"] if e["event"] == "refund_planned")
    assert planned["data"]["total"] == 5_000
    (refund,) = _shopify_refunds(shopify)
    assert [d["amount"]["presentment"] for d in refund["duties"]] == ["6.00"]


def test_without_duties_asked_the_same_return_keeps_them(shopify: Gateway) -> None:
    with _shopify_merchant(shopify) as api:
        body = settle(api, _lamp_return("DU-2"))
    assert body["status"] == "completed", body["timeline"]
    assert body["refund_total"]["amount"] == "44.00"
    (refund,) = _shopify_refunds(shopify)
    assert refund["duties"] == []


def test_a_store_credit_return_on_shopify_credits_the_customer(shopify: Gateway) -> None:
    with _shopify_merchant(shopify) as api:
        body = settle(api, _lamp_return("SC-1", method="store_credit"))
    assert body["status"] == "completed", body["timeline"]
    assert body["refund_total"]["amount"] == "44.00"
    with shopify.control() as control:
        credit = control.get(
            f"/_sandbox/shops/{scenarios.SHOP_DOMAIN}/store_credit",
            params={"email": "ines@example.com"},
        ).json()
    assert credit["ines@example.com"]["USD"]["balance"] == "44.00"
    with shopify.control() as control:
        order = control.get(f"/_sandbox/shops/{scenarios.SHOP_DOMAIN}/orders/{DUTIED_ORDER}")
    (refund,) = order.json()["refunds"]
    paid_back = [t for t in order.json()["transactions"] if t["id"] in refund["transaction_ids"]]
    assert [(t["kind"], t["gateway"]) for t in paid_back] == [("REFUND", "shopify_store_credit")]
