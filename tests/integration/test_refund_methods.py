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

import pytest

from returnbridge.cli import demo_platforms as platforms
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
