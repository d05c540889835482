"""The platform's own calculation against our plan, on every platform that calculates.

Disagreements are seeded the way they happen with real merchants. Shopify: the connection's
rounding setting (`HALF_EVEN`) differs from Shopify's (half up), and half of a shipping line
whose tax is 0.25 carries 0.125 of tax: we plan 0.12, Shopify calculates 0.13. BigCommerce and
SHOPLINE: one of three units whose line tax is 1.00 carries 0.34 in our plan (the first units
take the leftover minor unit, refund-math "Splitting a line over its units") and 0.33 in the
platform's calculation (pro rata, half up). With no tolerance the return waits in
`needs_review` with both breakdowns on its timeline; with a tolerance of one minor unit it goes
on. Real parts: the API on loopback, DBOS on SQLite, sandboxes over HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
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

ORDER_ID = 7101


def _seed_shopify(control: httpx.Client) -> tuple[str, dict[str, str]]:
    """Two units of 10.00 with 0.63 tax each; shipping 10.00 with 0.25 tax."""
    seed_sandbox(str(control.base_url))
    control.post(
        f"/_sandbox/shops/{scenarios.SHOP_DOMAIN}/orders",
        json={
            "id": ORDER_ID,
            "name": f"#{ORDER_ID}",
            "email": "half@example.com",
            "line_items": [
                {
                    "sku": "HALF-1",
                    "title": "Half-cent towel",
                    "quantity": 2,
                    "price": "10.00",
                    "tax_lines": [{"title": "Tax", "rate": "0.0625", "price": "1.26"}],
                }
            ],
            "shipping_lines": [
                {
                    "title": "Standard",
                    "price": "10.00",
                    "tax_lines": [{"title": "Tax", "rate": "0.025", "price": "0.25"}],
                }
            ],
        },
    ).raise_for_status()
    return f"gid://shopify/Order/{ORDER_ID}", {"access_token": scenarios.ACCESS_TOKEN}


def _seed_bigcommerce(control: httpx.Client) -> tuple[str, dict[str, str]]:
    """Three units of 10.00 with 1.00 tax on the line."""
    store = platforms.BIGCOMMERCE
    store.seed(control)
    control.post(
        f"/_sandbox/stores/{platforms.BC_STORE}/orders",
        json={
            "id": ORDER_ID,
            "customer_id": 71,
            "email": "third@example.com",
            "payment_provider_id": "braintree",
            "products": [
                {
                    "product_id": 710,
                    "variant_id": 7100,
                    "sku": "HALF-1",
                    "name": "Third-cent towel",
                    "quantity": 3,
                    "price_ex_tax": "10.00",
                    "price_inc_tax": "10.33",
                    "total_tax": "1.00",
                }
            ],
        },
    ).raise_for_status()
    return str(ORDER_ID), store.credentials


SHOPLINE_HANDLE = "halfcent"
SHOPLINE_ORDER = "21050000000000000000007101"


def _seed_shopline(control: httpx.Client) -> tuple[str, dict[str, str]]:
    """Three units of 10.00 with 1.00 tax on the line, shipped."""
    token = "shopline-cross-check-token"
    control.post(
        "/_sandbox/stores", json={"handle": SHOPLINE_HANDLE, "access_token": token}
    ).raise_for_status()
    control.post(
        f"/_sandbox/stores/{SHOPLINE_HANDLE}/orders",
        json={
            "id": SHOPLINE_ORDER,
            "email": "third@example.com",
            "line_items": [
                {
                    "sku": "HALF-1",
                    "title": "Third-cent towel",
                    "quantity": 3,
                    "price": "10.00",
                    "tax_lines": [{"title": "Tax", "rate": "0.0333", "price": "1.00"}],
                }
            ],
        },
    ).raise_for_status()
    return SHOPLINE_ORDER, {"access_token": token}


@dataclass(frozen=True)
class Calculating:
    """A platform that calculates refunds: how to seed the order there, the settings of its
    connection (`disagreeing` makes our plan differ), the return and the difference found."""

    platform: str
    seed: Callable[[httpx.Client], tuple[str, dict[str, str]]]
    settings: dict[str, Any]
    disagreeing: dict[str, Any]
    refund: dict[str, Any]
    difference: str
    """The one difference expected, `{line}` standing for the line's platform id."""
    ours: int
    theirs: int
    base_path: str = ""


CALCULATING = {
    "shopify": Calculating(
        "shopify",
        _seed_shopify,
        {"restock_location_id": scenarios.RESTOCK_LOCATION},
        {"rounding": "HALF_EVEN"},
        {"shipping": {"mode": "amount", "amount": "5.00"}},
        "shipping tax: ours 12 platform 13",
        ours=1_000 + 63 + 500 + 12,
        theirs=1_000 + 63 + 500 + 13,
    ),
    "bigcommerce": Calculating(
        "bigcommerce",
        _seed_bigcommerce,
        dict(platforms.BIGCOMMERCE.settings),
        {},
        {},
        "line {line}: tax ours 34 platform 33",
        ours=1_000 + 34,
        theirs=1_000 + 33,
        base_path=platforms.BIGCOMMERCE.base_path,
    ),
    "shopline": Calculating(
        "shopline",
        _seed_shopline,
        {},
        {},
        {},
        "line {line}: tax ours 34 platform 33",
        ours=1_000 + 34,
        theirs=1_000 + 33,
        base_path=f"/stores/{SHOPLINE_HANDLE}",
    ),
}


@dataclass
class Seeded:
    gateway: Gateway
    case: Calculating
    order_id: str
    credentials: dict[str, str]

    def settle(self, external_id: str, **settings: Any) -> dict[str, Any]:
        """One unit of the seeded order returned by a merchant with `settings`."""
        event = {
            "external_id": external_id,
            "order": {"platform_order_id": self.order_id},
            "lines": [{"sku": "HALF-1", "quantity": 1}],
            "restock": False,
            "refund": self.case.refund,
        }
        with self.gateway.merchant(
            self.credentials, base_path=self.case.base_path, **self.case.settings, **settings
        ) as api:
            return settle(api, event)


@pytest.fixture(params=sorted(CALCULATING))
def seeded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Seeded]:
    case = CALCULATING[request.param]
    with running_gateway(case.platform, tmp_path) as running:
        with running.control() as control:
            order_id, credentials = case.seed(control)
        yield Seeded(running, case, order_id, credentials)


def test_a_seeded_disagreement_waits_for_review_with_both_breakdowns(seeded: Seeded) -> None:
    case = seeded.case
    body = seeded.settle(f"XC-{case.platform}-1", **case.disagreeing)
    assert body["status"] == "needs_review", body
    (parked,) = [e for e in body["timeline"] if e["event"] == "platform_disagrees"]
    data = parked["data"]
    line_id = data["plan"]["lines"][0]["line_id"]
    assert data["differences"] == [case.difference.format(line=line_id)]
    assert data["tolerance"] == 0
    assert (data["plan"]["total"], data["platform"]["total"]) == (case.ours, case.theirs)
    assert [line["line_id"] for line in data["platform"]["lines"]] == [line_id]
    assert "differs from our plan" in body["review"]["reason"]


def test_a_difference_within_the_tolerance_goes_on(seeded: Seeded) -> None:
    case = seeded.case
    body = seeded.settle(f"XC-{case.platform}-2", **case.disagreeing, cross_check_tolerance=1)
    assert body["status"] == "completed", body
    assert "platform_disagrees" not in [e["event"] for e in body["timeline"]]
    minor = round(Decimal(body["refund_total"]["amount"]) * 100)
    assert minor in {case.ours, case.theirs}
