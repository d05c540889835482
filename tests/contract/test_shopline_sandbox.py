"""Contract tests of the SHOPLINE sandbox over real HTTP on loopback: the Admin REST API
(v20251201) and the ``/_sandbox`` controls."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from returnbridge.cli.sandboxes import SANDBOX_PLATFORMS, build_app
from returnbridge.sandbox.shopline import BackgroundServer
from returnbridge.sandbox.shopline.rate_limit import LeakyBucket
from returnbridge.sandbox.shopline.state import DiscountAllocation, LineItem, TaxLine

HANDLE = "acme"
TOKEN = "sl-token-acme"
SECRET = "acme-app-secret"
VERSION = "v20251201"
API = f"/stores/{HANDLE}/admin/openapi/{VERSION}"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
START = 1_772_790_000.0  # 2026-03-06T09:40:00Z

TEE_ORDER: dict[str, Any] = {
    "name": "#1001",
    "email": "Ann@Example.com",
    "created_at": "2026-03-05T21:40:11+00:00",
    "discount_applications": [{"code": "SAVE5", "value": "5.00"}],
    "line_items": [
        {
            "sku": "TEE-1",
            "title": "Tee",
            "quantity": 3,
            "price": "20.00",
            "discount_allocations": [{"amount": "5.00", "discount_application_index": 0}],
            "tax_lines": [{"title": "VAT", "rate": "0.08"}],
        },
        {"sku": "MUG-1", "title": "Mug", "quantity": 2, "price": "8.00", "fulfilled": 0},
    ],
    "shipping_lines": [
        {"title": "Standard", "price": "10.00", "tax_lines": [{"rate": "0.08", "price": "0.80"}]}
    ],
}


class Clock:
    """A clock the tests move by hand (the bucket leaks with it)."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


CLOCK = Clock()


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(clock=CLOCK) as running:
        yield running


@pytest.fixture
def http(server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        client.post("/_sandbox/reset").raise_for_status()
        CLOCK.now = START
        store = client.post(
            "/_sandbox/stores",
            json={
                "handle": HANDLE,
                "access_token": TOKEN,
                "app_secret": SECRET,
                "locations": [{"name": "Warehouse"}, {"name": "Shop floor"}],
                "bucket_size": 1000,
            },
        )
        assert store.status_code == 201, store.text
        yield client


def seed(http: httpx.Client, order: dict[str, Any] | None = None) -> dict[str, Any]:
    response = http.post(f"/_sandbox/stores/{HANDLE}/orders", json=order or TEE_ORDER)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def locations(http: httpx.Client) -> list[str]:
    body = http.get(f"/_sandbox/stores/{HANDLE}").json()
    return [loc["id"] for loc in body["locations"]]


def get(http: httpx.Client, path: str, **params: Any) -> httpx.Response:
    return http.get(f"{API}/{path}", params=params, headers=AUTH)


def post(http: httpx.Client, path: str, body: Any) -> httpx.Response:
    return http.post(f"{API}/{path}", json=body, headers=AUTH)


def refund_body(order: dict[str, Any], *lines: dict[str, Any], amount: str) -> dict[str, Any]:
    (payment,) = order["transactions"]
    return {
        "order_id": order["id"],
        "note": "rb:key-1",
        "refund_line_items": list(lines),
        "transactions": [
            {"id": payment["id"], "gateway": "Paypal", "amount": amount, "kind": "refund"}
        ],
    }


def tee_line(order: dict[str, Any], quantity: int = 1, **extra: Any) -> dict[str, Any]:
    line_id = order["line_items"][0]["id"]
    return {"line_item_id": line_id, "quantity": quantity, "type": "Returned", **extra}


def refund_writes(http: httpx.Client) -> list[str | None]:
    entries = http.get("/_sandbox/journal", params={"operation": "create_refund"}).json()
    return [e["refund_id"] for e in entries]


# --- the gate: trace ids, version, auth, rate limit -------------------------------------------


def test_every_response_carries_a_unique_trace_id(http: httpx.Client) -> None:
    answers = [get(http, "orders.json"), get(http, "orders.json"), get(http, "nowhere.json")]
    answers.append(http.get("/_sandbox/journal"))
    ids = [a.headers["traceId"] for a in answers]
    assert all(ids)
    assert len(set(ids)) == len(ids)
    journal = http.get("/_sandbox/journal").json()
    assert journal[0]["trace_id"] == ids[0]


def test_an_unknown_version_is_404_in_shopline_shape(http: httpx.Client) -> None:
    response = http.get(f"/stores/{HANDLE}/admin/openapi/v20230901/orders.json", headers=AUTH)
    assert response.status_code == 404
    body = response.json()
    assert "detail" not in body
    assert body["code"] == "NOT_FOUND"
    assert "v20230901" in body["errors"]


def test_an_unknown_path_is_404_in_shopline_shape(http: httpx.Client) -> None:
    response = get(http, "no/such/thing.json")
    assert response.status_code == 404
    assert set(response.json()) == {"code", "message", "errors"}


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}]
)
def test_a_missing_or_unknown_token_is_401(http: httpx.Client, headers: dict[str, str]) -> None:
    response = http.get(f"{API}/orders.json", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHORIZED"
    assert response.json()["errors"]


def test_the_bucket_refuses_a_call_over_capacity_with_429(http: httpx.Client) -> None:
    http.post(
        "/_sandbox/stores",
        json={"handle": HANDLE, "access_token": TOKEN, "bucket_size": 40, "leak_rate": 4},
    ).raise_for_status()
    assert all(get(http, "locations.json").status_code == 200 for _ in range(40))
    refused = get(http, "locations.json")
    assert refused.status_code == 429
    assert refused.json() == {"errors": "Too many request"}
    assert refused.headers["Retry-After"] == "1"
    CLOCK.now += 0.5  # two drops leak
    assert [get(http, "locations.json").status_code for _ in range(3)] == [200, 200, 429]
    journal = http.get("/_sandbox/journal", params={"operation": "get_locations"}).json()
    assert [e["rate_limited"] for e in journal].count(True) == 2


def test_bucket_settings_are_per_store(http: httpx.Client) -> None:
    http.post(
        "/_sandbox/stores",
        json={"handle": "tiny", "access_token": "t2", "bucket_size": 2, "leak_rate": 0.5},
    ).raise_for_status()
    path = f"/stores/tiny/admin/openapi/{VERSION}/locations.json"
    tiny = {"Authorization": "Bearer t2"}
    assert [http.get(path, headers=tiny).status_code for _ in range(3)] == [200, 200, 429]
    assert http.get(path, headers=tiny).headers["Retry-After"] == "2"
    assert get(http, "locations.json").status_code == 200  # the other store is untouched


def test_the_bucket_leaks_at_its_rate() -> None:
    bucket = LeakyBucket(size=3, leak_rate=2)
    assert [bucket.take(0.0) for _ in range(4)] == [None, None, None, 1]
    assert bucket.take(0.5) is None  # one drop leaked
    assert bucket.take(0.5) == 1


# --- orders -----------------------------------------------------------------------------------


def test_an_order_reads_with_string_ids_and_money_sets(http: httpx.Client) -> None:
    seeded = seed(http)
    response = get(http, f"orders/{seeded['id']}.json")
    assert response.status_code == 200
    order = response.json()["order"]
    assert order == seeded
    assert order["id"].startswith("2105")
    assert len(order["id"]) == 26
    assert order["transactions"][0]["id"].startswith("230")
    assert order["total_price"] == "86.20"  # 55.00 + 4.40 + 16.00 + 10.00 + 0.80
    assert order["total_tax"] == "5.20"
    assert order["financial_status"] == "paid"
    assert order["fulfillment_status"] == "partial"
    tee, mug = order["line_items"]
    assert tee["tax_lines"][0]["price"] == "4.40"
    assert tee["discount_allocations"][0]["amount"] == "5.00"
    assert (tee["fulfillable_quantity"], mug["fulfillable_quantity"]) == (0, 2)
    assert tee["price_set"] == {
        "shop_money": {"amount": "20.00", "currency_code": "USD"},
        "presentment_money": {"amount": "20.00", "currency_code": "USD"},
    }
    (fulfillment,) = order["fulfillments"]
    assert [(i["id"], i["quantity"]) for i in fulfillment["line_items"]] == [(tee["id"], 3)]


def test_presentment_money_uses_the_exchange_rate(http: httpx.Client) -> None:
    order = seed(http, {**TEE_ORDER, "presentment_currency": "EUR", "exchange_rate": "0.9"})
    assert order["currency"] == "USD"
    assert order["presentment_currency"] == "EUR"
    assert order["total_price_set"]["presentment_money"] == {
        "amount": "77.58",
        "currency_code": "EUR",
    }


def test_an_unknown_order_is_404(http: httpx.Client) -> None:
    response = get(http, "orders/21050000000000000000099999.json")
    assert response.status_code == 404
    assert response.json()["errors"] == "order not found"


def test_orders_page_through_the_link_header(http: httpx.Client) -> None:
    ids = [seed(http, {**TEE_ORDER, "name": f"#{n}"})["id"] for n in range(5)]
    first = get(http, "orders.json", limit=2)
    assert [o["id"] for o in first.json()["orders"]] == ids[:2]
    assert 'rel="previous"' not in first.headers["Link"]
    next_url = first.links["next"]["url"]
    assert "page_info=" in next_url
    assert "limit=2" in next_url
    second = http.get(next_url, headers=AUTH)
    assert [o["id"] for o in second.json()["orders"]] == ids[2:4]
    third = http.get(second.links["next"]["url"], headers=AUTH)
    assert [o["id"] for o in third.json()["orders"]] == ids[4:]
    assert "next" not in third.links
    back = http.get(third.links["previous"]["url"], headers=AUTH)
    assert [o["id"] for o in back.json()["orders"]] == ids[2:4]
    assert "Link" not in get(http, "orders.json").headers


def test_page_info_takes_only_limit(http: httpx.Client) -> None:
    for n in range(3):
        seed(http, {**TEE_ORDER, "name": f"#{n}"})
    first = get(http, "orders.json", limit=1, email="ann@example.com")
    token = first.links["next"]["url"].split("page_info=")[1]
    mixed = get(http, "orders.json", page_info=token, email="ann@example.com")
    assert mixed.status_code == 400
    assert mixed.json()["errors"] == "page_info only accepts limit"
    assert get(http, "orders.json", page_info="garbage!").status_code == 400
    assert get(http, "orders.json", page_info=token, limit=2).status_code == 200


@pytest.mark.parametrize("limit", ["101", "0", "ten"])
def test_a_limit_outside_1_to_100_is_400(http: httpx.Client, limit: str) -> None:
    response = get(http, "orders.json", limit=limit)
    assert response.status_code == 400
    assert response.json()["errors"] == "limit must be between 1 and 100"


def test_order_filters(http: httpx.Client) -> None:
    first = seed(http, {**TEE_ORDER, "name": "D2034", "created_at": "2026-01-01T00:00:00+00:00"})
    second = seed(
        http,
        {**TEE_ORDER, "name": "#1002", "email": "bob@example.com", "payments": []},
    )
    cancelled = seed(
        http,
        {**TEE_ORDER, "name": "#1003", "status": "cancelled"},
    )

    def found(**params: Any) -> list[str]:
        response = get(http, "orders.json", **params)
        assert response.status_code == 200, response.text
        return [o["id"] for o in response.json()["orders"]]

    assert found() == [first["id"], second["id"]]  # open by default
    assert found(status="any") == [first["id"], second["id"], cancelled["id"]]
    assert found(status="cancelled") == [cancelled["id"]]
    assert found(name="D2034") == [first["id"]]
    assert found(email="ANN@example.COM") == [first["id"]]
    assert found(ids=f"{second['id']},{cancelled['id']}", status="any") == [
        second["id"],
        cancelled["id"],
    ]
    assert found(financial_status="pending") == [second["id"]]
    assert found(created_at_max="2026-02-01T00:00:00+00:00") == [first["id"]]
    assert found(created_at_min="2026-02-01T00:00:00+00:00") == [second["id"]]
    assert found(since_id=first["id"]) == [second["id"]]
    assert found(updated_at_min="2026-03-05T21:40:11+00:00") == [second["id"]]
    assert get(http, "orders.json", created_at_min="yesterday").status_code == 400
    assert get(http, "orders.json", ids=",".join(str(n) for n in range(101))).status_code == 400


# --- refund trial -----------------------------------------------------------------------------


def test_calculate_returned_units_prorates_discount_and_tax(http: httpx.Client) -> None:
    order = seed(http)
    response = post(
        http,
        f"orders/{order['id']}/refunds/calculate.json",
        {"refund": {"currency": "USD", "refund_line_items": [tee_line(order)]}},
    )
    assert response.status_code == 200, response.text
    refund = response.json()["refund"]
    assert refund["refund_line_items"] == [
        {
            "line_item_id": order["line_items"][0]["id"],
            "type": "Returned",
            "quantity": 1,
            "price": "20.00",
            "subtotal": "18.33",
            "total_tax": "1.47",
            "discount_total_amount": "1.67",
        }
    ]
    (suggested,) = refund["transactons"]
    assert suggested == {
        "gateway": "Paypal",
        "kind": "suggested_refund",
        "maximum_refundable": "86.20",
        "order_id": order["id"],
        "parent_id": order["transactions"][0]["id"],
        "amount": "19.80",
        "currency": "USD",
    }
    assert refund["shipping"] == {"amount": "0.00", "maximum_refundable": "10.00", "tax": "0.00"}
    assert refund["total_duties_set"]["shop_money"]["amount"] == "0.00"
    assert refund["currency"] == "USD"
    assert get(http, f"orders/{order['id']}.json").json()["order"]["refunds"] == []


def test_calculate_unshipped_draws_only_on_units_not_shipped(http: httpx.Client) -> None:
    order = seed(http)
    mug = order["line_items"][1]["id"]
    path = f"orders/{order['id']}/refunds/calculate.json"

    def trial(line_id: str, quantity: int, kind: str) -> httpx.Response:
        line = {"line_item_id": line_id, "quantity": quantity, "type": kind}
        return post(http, path, {"refund_line_items": [line]})

    assert trial(mug, 2, "Unshipped").json()["refund"]["refund_line_items"][0]["subtotal"] == (
        "16.00"
    )
    over = trial(mug, 1, "Returned")
    assert over.status_code == 422
    assert over.json()["errors"] == f"quantity exceeds refundable quantity for line_item_id {mug}"
    tee = order["line_items"][0]["id"]
    assert trial(tee, 1, "Unshipped").status_code == 422
    assert trial(tee, 3, "Returned").status_code == 200


@pytest.mark.parametrize("kind", [None, "Shipped", "returned"])
def test_calculate_requires_a_known_type(http: httpx.Client, kind: str | None) -> None:
    order = seed(http)
    line = {"line_item_id": order["line_items"][0]["id"], "quantity": 1, "type": kind}
    response = post(
        http, f"orders/{order['id']}/refunds/calculate.json", {"refund_line_items": [line]}
    )
    assert response.status_code == 422
    assert response.json()["errors"] == "type must be Unshipped or Returned"


def test_calculate_refuses_another_currency(http: httpx.Client) -> None:
    order = seed(http)
    response = post(
        http,
        f"orders/{order['id']}/refunds/calculate.json",
        {"currency": "EUR", "refund_line_items": [tee_line(order)]},
    )
    assert response.status_code == 422
    assert response.json()["errors"] == "currency must be USD"


def test_calculate_prices_shipping_with_its_tax(http: httpx.Client) -> None:
    order = seed(http)
    path = f"orders/{order['id']}/refunds/calculate.json"
    full = post(http, path, {"shipping": {"full_refund": True}}).json()["refund"]
    assert full["shipping"] == {"amount": "10.00", "maximum_refundable": "10.00", "tax": "0.80"}
    assert full["transactons"][0]["amount"] == "10.80"
    part = post(http, path, {"shipping": {"amount": "2.50"}}).json()["refund"]
    assert part["shipping"]["tax"] == "0.20"
    over = post(http, path, {"shipping": {"amount": "10.01"}})
    assert over.status_code == 422
    assert over.json()["errors"] == "shipping amount exceeds maximum refundable"


@st.composite
def _line_and_parts(draw: st.DrawFn) -> tuple[LineItem, list[int]]:
    quantity = draw(st.integers(1, 12))
    price = Decimal(draw(st.integers(1, 50_000))) / 100
    discount = Decimal(draw(st.integers(0, int(price * quantity * 100)))) / 100
    taxes = [
        TaxLine("T", Decimal(0), Decimal(draw(st.integers(0, 9_999))) / 100)
        for _ in range(draw(st.integers(0, 2)))
    ]
    line = LineItem(
        id="1",
        product_id="2",
        variant_id="3",
        sku="S",
        title="S",
        variant_title=None,
        quantity=quantity,
        price=price,
        tax_lines=taxes,
        discount_allocations=[DiscountAllocation(discount, 0)],
        fulfilled=quantity,
    )
    parts: list[int] = []
    left = quantity
    while left:
        parts.append(draw(st.integers(1, left)))
        left -= parts[-1]
    return line, parts


@given(_line_and_parts())
def test_partial_refund_shares_sum_to_the_line_and_stay_within_a_cent(
    case: tuple[LineItem, list[int]],
) -> None:
    line, parts = case
    taxed = sum((t.price for t in line.tax_lines), Decimal(0))
    discount = line.discount_allocations[0].amount
    done, paid = 0, Decimal(0)
    for units in parts:
        subtotal = line.price * units - (line.discount_of(done + units) - line.discount_of(done))
        tax = line.tax_of(done + units) - line.tax_of(done)
        exact = Fraction(line.price * units) - Fraction(discount) * units / line.quantity
        exact_tax = Fraction(taxed) * units / line.quantity
        assert abs(Fraction(subtotal) - exact) <= Fraction(1, 100)
        assert abs(Fraction(tax) - exact_tax) <= Fraction(len(line.tax_lines), 100)
        done += units
        paid += subtotal + tax
    assert paid == line.price * line.quantity - discount + taxed


# --- refund creation --------------------------------------------------------------------------


def test_a_refund_is_made_restocked_and_shown_on_the_order(http: httpx.Client) -> None:
    order = seed(http)
    warehouse, shop_floor = locations(http)
    http.post(f"/_sandbox/stores/{HANDLE}/stock", json={"sku": "TEE-1", "level": 5})
    line = tee_line(order, restock_type="return", location_id=shop_floor)
    response = post(http, "order/refund.json", refund_body(order, line, amount="19.80"))
    assert response.status_code == 200, response.text
    refund = response.json()["data"]
    assert refund["id"].startswith("26057")
    assert refund["order_id"] == order["id"]
    assert refund["note"] == "rb:key-1"
    assert refund["currency"] == "USD"
    assert refund["create_at"].isdigit()
    (item,) = refund["refund_line_items"]
    assert (item["subtotal"], item["total_tax"], item["restock_type"]) == (
        "18.33",
        "1.47",
        "return",
    )
    assert item["location_id"] == shop_floor
    (money,) = refund["transactions"]
    assert money["parent_id"] == order["transactions"][0]["id"]
    assert (money["kind"], money["amount"], money["status"]) == ("refund", "19.80", "success")
    assert refund["order_adjustments"] == []

    after = get(http, f"orders/{order['id']}.json").json()["order"]
    assert after["financial_status"] == "partially_refunded"
    assert after["total_refunded"] == "19.80"
    assert after["current_total_price"] == "66.40"
    assert after["updated_at"] != order["updated_at"]
    assert [r["id"] for r in after["refunds"]] == [refund["id"]]
    stock = http.get(f"/_sandbox/stores/{HANDLE}/stock", params={"location_id": shop_floor})
    assert stock.json() == {"TEE-1": 1}
    assert http.get(f"/_sandbox/stores/{HANDLE}/stock").json() == {"TEE-1": 5}  # warehouse
    assert warehouse != shop_floor
    assert refund_writes(http) == [refund["id"]]


def test_a_refund_without_restock_leaves_stock_alone(http: httpx.Client) -> None:
    order = seed(http)
    response = post(http, "order/refund.json", refund_body(order, tee_line(order), amount="19.80"))
    assert response.json()["data"]["refund_line_items"][0]["restock_type"] == "no_restock"
    assert http.get(f"/_sandbox/stores/{HANDLE}/stock").json() == {}


def test_unshipped_refunds_lower_the_fulfillable_quantity(http: httpx.Client) -> None:
    order = seed(http)
    mug = order["line_items"][1]["id"]
    warehouse = locations(http)[0]
    line = {
        "line_item_id": int(mug),
        "quantity": 1,
        "type": "Unshipped",
        "restock_type": "cancel",
        "location_id": warehouse,
    }
    assert post(http, "order/refund.json", refund_body(order, line, amount="8.00")).is_success
    after = get(http, f"orders/{order['id']}.json").json()["order"]
    assert after["line_items"][1]["fulfillable_quantity"] == 1
    assert http.get(f"/_sandbox/stores/{HANDLE}/stock").json() == {"MUG-1": 1}


def test_partial_refunds_add_up_to_the_line(http: httpx.Client) -> None:
    order = seed(http)
    parts = []
    for _ in range(3):
        response = post(
            http,
            f"orders/{order['id']}/refunds/calculate.json",
            {"refund_line_items": [tee_line(order)]},
        )
        item = response.json()["refund"]["refund_line_items"][0]
        parts.append((item["subtotal"], item["total_tax"]))
        body = refund_body(order, tee_line(order), amount="19.80")
        assert post(http, "order/refund.json", body).status_code == 200
    assert parts == [("18.33", "1.47"), ("18.34", "1.46"), ("18.33", "1.47")]
    assert sum(Decimal(s) + Decimal(t) for s, t in parts) == Decimal("59.40")
    again = post(
        http,
        f"orders/{order['id']}/refunds/calculate.json",
        {"refund_line_items": [tee_line(order)]},
    )
    assert again.status_code == 422


def test_refunding_everything_marks_the_order_refunded(http: httpx.Client) -> None:
    order = seed(http)
    mug = {"line_item_id": order["line_items"][1]["id"], "quantity": 2, "type": "Unshipped"}
    body = refund_body(order, tee_line(order, 3), mug, amount="86.20")
    body["shipping"] = {"full_refund": True}
    response = post(http, "order/refund.json", body)
    assert response.status_code == 200, response.text
    after = get(http, f"orders/{order['id']}.json").json()["order"]
    assert after["financial_status"] == "refunded"
    assert (
        get(http, "orders.json", financial_status="refunded").json()["orders"][0]["id"]
        == (order["id"])
    )


def test_money_differing_from_the_items_is_an_adjustment(http: httpx.Client) -> None:
    order = seed(http)
    response = post(http, "order/refund.json", refund_body(order, tee_line(order), amount="15.00"))
    (adjustment,) = response.json()["data"]["order_adjustments"]
    assert (adjustment["kind"], adjustment["amount"]) == ("refund_discrepancy", "4.80")


def test_refunds_have_no_idempotency(http: httpx.Client) -> None:
    order = seed(http)
    body = refund_body(order, tee_line(order), amount="19.80")
    first = post(http, "order/refund.json", body).json()["data"]
    second = post(http, "order/refund.json", body).json()["data"]
    assert first["id"] != second["id"]
    assert first["note"] == second["note"] == "rb:key-1"
    assert refund_writes(http) == [first["id"], second["id"]]


def test_concurrent_refunds_never_refund_a_unit_twice(
    http: httpx.Client, server: BackgroundServer
) -> None:
    order = seed(http)
    body = refund_body(order, tee_line(order, 2), amount="39.60")
    statuses: list[int] = []

    def refund() -> None:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            statuses.append(
                client.post(f"{API}/order/refund.json", json=body, headers=AUTH).status_code
            )

    threads = [threading.Thread(target=refund) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 422, 422, 422]
    refunded = http.get(f"/_sandbox/stores/{HANDLE}/orders/{order['id']}").json()["refunded"]
    assert refunded[order["line_items"][0]["id"]]["Returned"] == 2


def _invalid(order: dict[str, Any], case: str) -> dict[str, Any]:
    body = refund_body(order, tee_line(order), amount="19.80")
    payment = body["transactions"][0]
    line = body["refund_line_items"][0]
    if case == "unknown line":
        line["line_item_id"] = "1199999999999999"
    elif case == "too many units":
        line["quantity"] = 4
    elif case == "no type":
        del line["type"]
    elif case == "zero units":
        line["quantity"] = 0
    elif case == "bad restock":
        line["restock_type"] = "recycle"
    elif case == "restock nowhere":
        line["restock_type"] = "return"
    elif case == "restock unknown location":
        line.update(restock_type="return", location_id="5409999999999999999")
    elif case == "wrong currency":
        body["currency"] = "EUR"
    elif case == "wrong transaction currency":
        payment["currency"] = "EUR"
    elif case == "unknown parent":
        payment["id"] = "23059999999999999999999999"
    elif case == "wrong gateway":
        payment["gateway"] = "Stripe"
    elif case == "over maximum":
        payment["amount"] = "86.21"
    elif case == "three decimals":
        payment["amount"] = "19.801"
    elif case == "kind":
        payment["kind"] = "sale"
    elif case == "no transactions":
        body["transactions"] = []
    elif case == "empty":
        body = {"order_id": order["id"]}
    elif case == "no order id":
        del body["order_id"]
    return body


REFUSALS = {
    "unknown line": "line_item_id 1199999999999999 not found",
    "too many units": "quantity exceeds refundable quantity for line_item_id {line}",
    "no type": "type must be Unshipped or Returned",
    "zero units": "quantity must be a positive integer",
    "bad restock": "invalid restock_type",
    "restock nowhere": "location_id is required",
    "restock unknown location": "location_id 5409999999999999999 not found",
    "wrong currency": "currency must be USD",
    "wrong transaction currency": "currency must be USD",
    "unknown parent": "transaction 23059999999999999999999999 not found",
    "wrong gateway": "gateway does not match transaction {slip}",
    "over maximum": "amount exceeds maximum refundable for transaction {slip}",
    "three decimals": "invalid transaction amount",
    "kind": "transaction kind must be refund",
    "no transactions": "transactions is required",
    "empty": "refund is empty",
    "no order id": "order_id is required",
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_refund_is_validated_whole(http: httpx.Client, case: str) -> None:
    order = seed(http)
    response = post(http, "order/refund.json", _invalid(order, case))
    assert response.status_code == 422, response.text
    message = REFUSALS[case].format(
        line=order["line_items"][0]["id"], slip=order["transactions"][0]["id"]
    )
    assert response.json() == {"code": "UNPROCESSABLE", "message": message, "errors": message}
    assert get(http, f"orders/{order['id']}.json").json()["order"] == order
    assert refund_writes(http) == [None]
    (entry,) = http.get("/_sandbox/journal", params={"operation": "create_refund"}).json()
    assert entry["effect"] == "rejected"
    assert http.get(f"/_sandbox/stores/{HANDLE}/webhooks/deliveries").json() == []


def test_a_refund_of_an_unknown_order_is_404(http: httpx.Client) -> None:
    order = seed(http)
    body = refund_body(order, tee_line(order), amount="19.80")
    body["order_id"] = "21059999999999999999999999"
    response = post(http, "order/refund.json", body)
    assert response.status_code == 404
    assert response.json()["errors"] == "order not found"


def test_refunds_read_back(http: httpx.Client) -> None:
    order = seed(http)
    made = post(http, "order/refund.json", refund_body(order, tee_line(order), amount="19.80"))
    refund = made.json()["data"]
    listed = get(http, f"orders/{order['id']}/refunds.json").json()["refunds"]
    one = get(http, f"orders/{order['id']}/refunds/{refund['id']}.json").json()["refund"]
    shown = {k: v for k, v in refund.items() if k != "create_at"}
    assert listed == [shown]
    assert one == shown
    assert get(http, f"orders/{order['id']}/refunds/2605799.json").status_code == 404
    assert get(http, "orders/2105/refunds.json").status_code == 404


# --- returns ----------------------------------------------------------------------------------


def _return_body(order: dict[str, Any], quantity: int = 1, **line: Any) -> dict[str, Any]:
    return {
        "order_seq": order["id"],
        "notify_customer": False,
        "return_reason": "too big",
        "return_line_items": [
            {
                "fulfillment_id": order["fulfillments"][0]["id"],
                "line_item_id": order["line_items"][0]["id"],
                "quantity": quantity,
                "return_reason": "SIZE_TOO_LARGE",
                "return_reason_note": "one size up",
                **line,
            }
        ],
    }


def test_a_return_opens_reads_and_closes(http: httpx.Client) -> None:
    order = seed(http)
    created = post(http, "return/create.json", _return_body(order, 2))
    assert created.status_code == 200, created.text
    opened = created.json()["return"]
    assert opened["status"] == "OPEN"
    assert opened["order_id"] == order["id"]
    assert opened["id"].startswith("26058")
    (line,) = opened["return_line_items"]
    assert line["fulfillment_line_item"]["line_item"]["id"] == order["line_items"][0]["id"]
    assert (line["quantity"], line["return_reason"]) == (2, "SIZE_TOO_LARGE")

    by_id = get(http, "return.json", id=opened["id"]).json()["returns"]
    by_order = get(http, "return.json", order_id=order["id"]).json()["returns"]
    assert by_id == by_order == [opened]
    assert get(http, "return.json").status_code == 400

    closed = post(http, f"return/{opened['id']}/close.json", {"notify": False})
    assert closed.status_code == 200
    assert closed.json()["return"]["status"] == "CLOSED"
    again = post(http, f"return/{opened['id']}/close.json", {})
    assert again.status_code == 422
    assert again.json()["errors"] == "return is already closed"
    assert post(http, "return/2605899/close.json", {}).status_code == 404
    topics = [d["topic"] for d in http.get(f"/_sandbox/stores/{HANDLE}/webhooks/deliveries").json()]
    assert topics == ["return/create", "return/update"]
    effects = [e["effect"] for e in http.get("/_sandbox/journal").json()]
    assert effects.count("return_created") == 1
    assert effects.count("return_closed") == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"return_reason": "BORED"}, "invalid return_reason"),
        ({"return_reason_note": "x" * 129}, "return_reason_note must be at most 128 characters"),
        ({"quantity": 4}, "quantity exceeds returnable quantity for line_item_id {line}"),
        ({"fulfillment_id": "2205999"}, "fulfillment_id 2205999 not found"),
    ],
)
def test_a_return_is_validated(http: httpx.Client, change: dict[str, Any], message: str) -> None:
    order = seed(http)
    response = post(http, "return/create.json", _return_body(order, **change))
    assert response.status_code == 422
    assert response.json()["errors"] == message.format(line=order["line_items"][0]["id"])


def test_returned_units_count_against_later_returns(http: httpx.Client) -> None:
    order = seed(http)
    assert post(http, "return/create.json", _return_body(order, 2)).status_code == 200
    assert post(http, "return/create.json", _return_body(order, 2)).status_code == 422
    assert post(http, "return/create.json", _return_body(order, 1)).status_code == 200


def test_a_return_needs_notify_customer_and_a_known_order(http: httpx.Client) -> None:
    order = seed(http)
    body = _return_body(order)
    del body["notify_customer"]
    assert post(http, "return/create.json", body).json()["errors"] == (
        "notify_customer is required"
    )
    unknown = {**_return_body(order), "order_seq": "21059999999999999999999999"}
    assert post(http, "return/create.json", unknown).json()["errors"] == "order not found"


# --- webhooks ---------------------------------------------------------------------------------


def test_a_refund_webhook_is_signed_in_lowercase_hex(http: httpx.Client) -> None:
    order = seed(http)
    made = post(http, "order/refund.json", refund_body(order, tee_line(order), amount="19.80"))
    (delivery,) = http.get(f"/_sandbox/stores/{HANDLE}/webhooks/deliveries").json()
    body = delivery["body"].encode()
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = delivery["headers"]
    assert headers["X-Shopline-Hmac-Sha256"] == expected
    assert headers["X-Shopline-Topic"] == "refunds/create"
    assert headers["X-Shopline-Shop-Domain"] == "acme.myshopline.com"
    assert headers["X-Shopline-API-Version"] == VERSION
    assert headers["X-Shopline-Webhook-Id"]
    assert json.loads(body)["id"] == made.json()["data"]["id"]


def test_a_store_may_sign_webhooks_in_base64(http: httpx.Client) -> None:
    http.post(
        "/_sandbox/stores",
        json={
            "handle": HANDLE,
            "access_token": TOKEN,
            "app_secret": SECRET,
            "webhook_signature_encoding": "base64",
        },
    ).raise_for_status()
    order = seed(http)
    post(http, "return/create.json", _return_body(order))
    (delivery,) = http.get(f"/_sandbox/stores/{HANDLE}/webhooks/deliveries").json()
    digest = hmac.new(SECRET.encode(), delivery["body"].encode(), hashlib.sha256).digest()
    assert delivery["headers"]["X-Shopline-Hmac-Sha256"] == base64.b64encode(digest).decode()
    first_id = delivery["headers"]["X-Shopline-Webhook-Id"]
    post(http, "return/create.json", _return_body(order))
    second = http.get(f"/_sandbox/stores/{HANDLE}/webhooks/deliveries").json()[1]
    assert second["headers"]["X-Shopline-Webhook-Id"] != first_id


# --- faults and the journal -------------------------------------------------------------------


def _fault(http: httpx.Client, kind: str, **extra: Any) -> None:
    fault = {"kind": kind, "operation": "create_refund", "store": HANDLE, **extra}
    assert http.post("/_sandbox/faults", json=fault).status_code == 201


def test_timeout_after_commit_makes_the_refund_and_holds_the_answer(
    http: httpx.Client, server: BackgroundServer
) -> None:
    order = seed(http)
    _fault(http, "timeout_after_commit", delay=3)
    with (
        httpx.Client(base_url=server.url, timeout=0.3) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        impatient.post(
            f"{API}/order/refund.json",
            json=refund_body(order, tee_line(order), amount="19.80"),
            headers=AUTH,
        )
    (refund,) = get(http, f"orders/{order['id']}/refunds.json").json()["refunds"]
    assert refund_writes(http) == [refund["id"]]


@pytest.mark.parametrize(
    ("kind", "status"), [("throttled", 429), ("server_error", 500), ("unavailable", 503)]
)
def test_injected_errors_make_nothing(http: httpx.Client, kind: str, status: int) -> None:
    order = seed(http)
    _fault(http, kind)
    body = refund_body(order, tee_line(order), amount="19.80")
    failed = post(http, "order/refund.json", body)
    assert failed.status_code == status
    if status == 429:
        assert failed.json() == {"errors": "Too many request"}
        assert failed.headers["Retry-After"]
    assert get(http, f"orders/{order['id']}/refunds.json").json()["refunds"] == []
    made = post(http, "order/refund.json", body).json()["data"]
    assert refund_writes(http) == [None, made["id"]]
    entry = http.get("/_sandbox/journal", params={"operation": "create_refund"}).json()[0]
    assert entry["fault"] == kind
    assert http.get("/_sandbox/faults").json() == []


def test_the_journal_records_refusals_before_the_operation(http: httpx.Client) -> None:
    http.post(f"{API}/order/refund.json", json={}, headers={"Authorization": "Bearer nope"})
    (entry,) = http.get("/_sandbox/journal").json()
    assert (entry["operation"], entry["http_status"], entry["refund_id"]) == (
        "create_refund",
        401,
        None,
    )
    assert entry["store"] == HANDLE


# --- locations, stock and controls ------------------------------------------------------------


def test_locations_list_at_both_paths(http: httpx.Client) -> None:
    listed = get(http, "locations/list.json").json()["locations"]
    assert get(http, "locations.json").json()["locations"] == listed
    assert [(loc["name"], loc["is_default"]) for loc in listed] == [
        ("Warehouse", "true"),
        ("Shop floor", "false"),
    ]
    assert all(loc["id"].startswith("5409") and len(loc["id"]) == 19 for loc in listed)


def test_stock_is_kept_per_location(http: httpx.Client) -> None:
    warehouse, shop_floor = locations(http)
    http.post(f"/_sandbox/stores/{HANDLE}/stock", json={"sku": "A", "level": 3})
    http.post(
        f"/_sandbox/stores/{HANDLE}/stock",
        json={"sku": "A", "level": 7, "location_id": shop_floor},
    )
    read = http.get(f"/_sandbox/stores/{HANDLE}/stock", params={"location_id": warehouse})
    assert read.json() == {"A": 3}
    assert http.get(
        f"/_sandbox/stores/{HANDLE}/stock", params={"location_id": shop_floor}
    ).json() == {"A": 7}
    assert (
        http.get(f"/_sandbox/stores/{HANDLE}/stock", params={"location_id": "1"}).status_code == 404
    )


def test_the_control_order_view_counts_refunded_units(http: httpx.Client) -> None:
    order = seed(http)
    post(http, "order/refund.json", refund_body(order, tee_line(order, 2), amount="39.60"))
    post(http, "return/create.json", _return_body(order))
    view = http.get(f"/_sandbox/stores/{HANDLE}/orders/{order['id']}").json()
    assert view["refunded"][order["line_items"][0]["id"]] == {"Unshipped": 0, "Returned": 2}
    assert len(view["returns"]) == 1
    assert http.get(f"/_sandbox/stores/{HANDLE}/orders/1").status_code == 404


def test_seeds_are_checked(http: httpx.Client) -> None:
    too_much = {**TEE_ORDER, "payments": [{"amount": "100.00"}]}
    response = http.post(f"/_sandbox/stores/{HANDLE}/orders", json=too_much)
    assert response.status_code == 422
    assert "exceed the order total" in response.json()["detail"]
    clash = http.post("/_sandbox/stores", json={"handle": "other", "access_token": TOKEN})
    assert clash.status_code == 409


def test_reset_forgets_stores(http: httpx.Client) -> None:
    assert http.post("/_sandbox/reset").status_code == 204
    assert get(http, "orders.json").status_code == 404


def test_the_cli_can_serve_shopline() -> None:
    assert "shopline" in SANDBOX_PLATFORMS
    app = build_app("shopline")
    assert app.title == "returnbridge SHOPLINE sandbox"
