"""Contract tests of the BigCommerce sandbox: Orders v2, v3 payment actions and the controls."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

import returnbridge.sandbox.bigcommerce as bigcommerce_sandbox
from returnbridge.sandbox.bigcommerce import BackgroundServer
from returnbridge.sandbox.bigcommerce.money import AmountError, parse_cents, share, v2_money
from returnbridge.sandbox.bigcommerce.state import AppliedDiscount, OrderProduct

SPEC = Path(bigcommerce_sandbox.__file__).parent / "spec/orders.v3.yml"
STORE = "abc123"
TOKEN = "bc-token-abc"
V2 = f"/stores/{STORE}/v2"
V3 = f"/stores/{STORE}/v3"
RATE_HEADERS = (
    "X-Rate-Limit-Time-Window-Ms",
    "X-Rate-Limit-Time-Reset-Ms",
    "X-Rate-Limit-Requests-Quota",
    "X-Rate-Limit-Requests-Left",
)
ORDER_SEED: dict[str, Any] = {
    "id": 501,
    "customer_id": 7,
    "email": "ann@example.com",
    "status_id": 10,
    "payment_method": "Credit Card",
    "payment_provider_id": "braintree",
    "products": [
        {
            "product_id": 77,
            "name": "Chambray Towel",
            "sku": "TOWEL-1",
            "quantity": 2,
            "price_ex_tax": "50.00",
            "price_inc_tax": "55.00",
        },
        {
            "product_id": 78,
            "name": "Mug",
            "sku": "MUG-1",
            "quantity": 1,
            "price_ex_tax": "10.00",
        },
    ],
    "shipping": {"cost_ex_tax": "10.00", "cost_inc_tax": "12.00"},
}


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer() as running:
        yield running


@pytest.fixture
def client(server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"X-Auth-Token": TOKEN}, timeout=10) as http:
        assert http.post("/_sandbox/reset").status_code == 204
        store = {"store_hash": STORE, "access_token": TOKEN, "rate_quota": 1000}
        assert http.post("/_sandbox/stores", json=store).status_code == 201
        yield http


@pytest.fixture
def order(client: httpx.Client) -> dict[str, Any]:
    created = client.post(f"/_sandbox/stores/{STORE}/orders", json=ORDER_SEED)
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def _towel(order: dict[str, Any]) -> dict[str, Any]:
    towel: dict[str, Any] = order["products"][0]
    return towel


def _quote(client: httpx.Client, items: list[dict[str, Any]]) -> dict[str, Any]:
    answer = client.post(f"{V3}/orders/501/payment_actions/refund_quotes", json={"items": items})
    assert answer.status_code == 201, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


def _payments(method: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: o[k] for k in ("provider_id", "amount", "offline")} for o in method]


def _schema(name: str) -> dict[str, Any]:
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    schema: dict[str, Any] = spec["components"]["schemas"][name]
    return schema


def test_requests_without_the_store_token_are_refused(server: BackgroundServer) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as anonymous:
        anonymous.post("/_sandbox/reset")
        anonymous.post("/_sandbox/stores", json={"store_hash": STORE, "access_token": TOKEN})
        missing = anonymous.get(f"{V2}/orders")
        wrong = anonymous.get(f"{V2}/orders", headers={"X-Auth-Token": "nope"})
    assert missing.status_code == 401
    assert wrong.status_code == 401
    assert missing.json() == [{"status": 401, "message": "Unauthorized"}]


def test_order_products_and_addresses_read_in_v2_shapes(
    client: httpx.Client, order: dict[str, Any]
) -> None:
    read = client.get(f"{V2}/orders/501")
    assert read.status_code == 200
    body = read.json()
    assert body["id"] == 501
    assert body["status_id"] == 10
    assert body["status"] == "Completed"
    assert body["total_inc_tax"] == "132.0000"  # 2 x 55 + 10 + 12 shipping
    assert body["total_ex_tax"] == "120.0000"
    products = client.get(f"{V2}/orders/501/products").json()
    assert [p["sku"] for p in products] == ["TOWEL-1", "MUG-1"]
    assert products[0]["id"] == _towel(order)["id"]
    assert products[0]["price_inc_tax"] == "55.0000"
    assert products[0]["quantity_refunded"] == 0
    addresses = client.get(f"{V2}/orders/501/shipping_addresses").json()
    assert addresses[0]["id"] == products[0]["order_address_id"]
    assert addresses[0]["cost_inc_tax"] == "12.0000"
    by_email = client.get(f"{V2}/orders", params={"email": "ANN@example.com"}).json()
    assert [o["id"] for o in by_email] == [501]


def test_empty_v2_collection_answers_204_and_unknown_order_a_v2_error(
    client: httpx.Client, order: dict[str, Any]
) -> None:
    empty = client.get(f"{V2}/orders", params={"email": "nobody@example.com"})
    assert empty.status_code == 204
    assert empty.content == b""
    assert client.get(f"{V2}/orders", params={"min_id": 502}).status_code == 204
    missing = client.get(f"{V2}/orders/999")
    assert missing.status_code == 404
    assert missing.json()[0]["status"] == 404


def test_quote_then_refund_with_the_quoted_payment_is_created_and_listed(
    client: httpx.Client, order: dict[str, Any]
) -> None:
    towel = _towel(order)
    address_id = towel["order_address_id"]
    items = [
        {"item_type": "PRODUCT", "item_id": towel["id"], "quantity": 1, "reason": "too small"},
        {"item_type": "SHIPPING", "item_id": address_id, "amount": 6},
    ]
    quote = _quote(client, items)
    assert quote["total_refund_amount"] == 61.0
    assert quote["total_refund_tax_amount"] == 6.0  # 5 on the towel, 1 on half the shipping
    providers = [[o["provider_id"] for o in m] for m in quote["refund_methods"]]
    assert providers == [["braintree"], ["storecredit"], ["custom"]]
    created = client.post(
        f"{V3}/orders/501/payment_actions/refunds",
        json={"items": items, "payments": _payments(quote["refund_methods"][0])},
    )
    assert created.status_code == 201, created.text
    refund = created.json()["data"]
    assert refund["order_id"] == 501
    assert refund["total_amount"] == 61.0
    assert refund["total_tax"] == 6.0
    assert refund["reason"] == "too small"
    assert refund["payments"][0]["provider_id"] == "braintree"
    assert refund["payments"][0]["amount"] == 61.0
    listed = client.get(f"{V3}/orders/501/payment_actions/refunds").json()["data"]
    assert [r["id"] for r in listed] == [refund["id"]]
    one = client.get(f"{V3}/orders/payment_actions/refunds/{refund['id']}")
    assert one.json()["data"]["total_amount"] == 61.0
    read = client.get(f"{V2}/orders/501").json()
    assert read["status_id"] == 14
    assert read["status"] == "Partially Refunded"
    products = client.get(f"{V2}/orders/501/products").json()
    assert products[0]["quantity_refunded"] == 1
    assert products[0]["refund_amount"] == "55.0000"


def test_refunding_everything_moves_the_order_to_refunded_and_does_not_restock(
    client: httpx.Client, order: dict[str, Any]
) -> None:
    client.post(f"/_sandbox/stores/{STORE}/stock", json={"sku": "TOWEL-1", "level": 4})
    items = [
        {"item_type": "PRODUCT", "item_id": p["id"], "quantity": p["quantity"]}
        for p in order["products"]
    ] + [{"item_type": "SHIPPING", "item_id": _towel(order)["order_address_id"], "amount": 12}]
    quote = _quote(client, items)
    assert quote["total_refund_amount"] == 132.0
    created = client.post(
        f"{V3}/orders/501/payment_actions/refunds",
        json={"items": items, "payments": _payments(quote["refund_methods"][2])},
    )
    assert created.status_code == 201, created.text
    assert created.json()["data"]["payments"][0]["offline"] is True
    assert client.get(f"{V2}/orders/501").json()["status_id"] == 4
    assert client.get(f"/_sandbox/stores/{STORE}/stock").json() == {"TOWEL-1": 4}


def test_payment_not_matching_the_quote_is_refused_with_a_v3_422(
    client: httpx.Client, order: dict[str, Any]
) -> None:
    items = [{"item_type": "PRODUCT", "item_id": _towel(order)["id"], "quantity": 1}]
    wrong_amount = [{"provider_id": "braintree", "amount": 50.0, "offline": False}]
    refused = client.post(
        f"{V3}/orders/501/payment_actions/refunds", json={"items": items, "payments": wrong_amount}
    )
    assert refused.status_code == 422
    (body,) = refused.json()["data"]  # createOrderRefund wraps its 422 in data, as the spec
    assert body["status"] == 422
    assert set(body) >= {"status", "title", "type", "errors"}
    assert "payments" in body["errors"]
    unknown_provider = [{"provider_id": "paypal", "amount": 55.0, "offline": False}]
    also_refused = client.post(
        f"{V3}/orders/501/payment_actions/refunds",
        json={"items": items, "payments": unknown_provider},
    )
    assert also_refused.status_code == 422
    assert client.get(f"{V3}/orders/501/payment_actions/refunds").json()["data"] == []


def test_over_refund_is_refused_and_a_repeated_post_refunds_twice(
    client: httpx.Client, order: dict[str, Any]
) -> None:
    towel_id = _towel(order)["id"]
    too_many = [{"item_type": "PRODUCT", "item_id": towel_id, "quantity": 3}]
    refused = client.post(
        f"{V3}/orders/501/payment_actions/refund_quotes", json={"items": too_many}
    )
    assert refused.status_code == 422
    assert "items[0].quantity" in refused.json()["errors"]
    one = [{"item_type": "PRODUCT", "item_id": towel_id, "quantity": 1}]
    body = {"items": one, "payments": _payments(_quote(client, one)["refund_methods"][0])}
    first = client.post(f"{V3}/orders/501/payment_actions/refunds", json=body)
    second = client.post(f"{V3}/orders/501/payment_actions/refunds", json=body)
    assert first.status_code == 201
    assert second.status_code == 201  # no idempotency: a second refund
    assert first.json()["data"]["id"] != second.json()["data"]["id"]
    third = client.post(f"{V3}/orders/501/payment_actions/refunds", json=body)
    assert third.status_code == 422  # both towels are refunded already
    shipping_over = [
        {"item_type": "SHIPPING", "item_id": _towel(order)["order_address_id"], "amount": 12.01}
    ]
    over = client.post(
        f"{V3}/orders/501/payment_actions/refund_quotes", json={"items": shipping_over}
    )
    assert over.status_code == 422


def test_rate_limit_headers_count_down_and_the_quota_ends_in_429(
    client: httpx.Client,
) -> None:
    client.post(
        "/_sandbox/stores", json={"store_hash": "tiny", "access_token": "t", "rate_quota": 3}
    )
    headers = {"X-Auth-Token": "t"}
    answers = [client.get("/stores/tiny/v2/orders", headers=headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [204, 204, 204, 429]
    for answer in answers:
        assert all(name in answer.headers for name in RATE_HEADERS)
        assert answer.headers["X-Rate-Limit-Requests-Quota"] == "3"
        assert answer.headers["X-Rate-Limit-Time-Window-Ms"] == "30000"
    assert [a.headers["X-Rate-Limit-Requests-Left"] for a in answers] == ["2", "1", "0", "0"]
    assert int(answers[3].headers["X-Retry-After"]) >= 1
    assert int(answers[3].headers["X-Rate-Limit-Time-Reset-Ms"]) > 0
    limited = client.get("/_sandbox/journal", params={"store": "tiny"}).json()
    assert [e["rate_limited"] for e in limited] == [False, False, False, True]
    # another store has its own window
    assert client.get(f"{V2}/orders").status_code == 204


def test_injected_503_hits_the_next_call_of_the_operation_only(
    client: httpx.Client, order: dict[str, Any]
) -> None:
    fault = {"kind": "http_503", "operation": "getOrder", "count": 1}
    assert client.post("/_sandbox/faults", json=fault).status_code == 201
    assert client.get(f"{V2}/orders/501/products").status_code == 200
    failed = client.get(f"{V2}/orders/501")
    assert failed.status_code == 503
    assert failed.json()[0]["status"] == 503
    assert client.get(f"{V2}/orders/501").status_code == 200
    assert client.get("/_sandbox/faults").json() == []


def test_timeout_after_commit_times_the_client_out_but_the_refund_exists(
    server: BackgroundServer, client: httpx.Client, order: dict[str, Any]
) -> None:
    items = [{"item_type": "PRODUCT", "item_id": _towel(order)["id"], "quantity": 1}]
    body = {"items": items, "payments": _payments(_quote(client, items)["refund_methods"][0])}
    fault = {"kind": "timeout_after_commit", "operation": "createOrderRefund", "delay": 1.5}
    client.post("/_sandbox/faults", json=fault)
    with pytest.raises(httpx.ReadTimeout):
        client.post(f"{V3}/orders/501/payment_actions/refunds", json=body, timeout=0.3)
    listed = client.get(f"{V3}/orders/501/payment_actions/refunds").json()["data"]
    assert len(listed) == 1
    assert listed[0]["total_amount"] == 55.0
    created = client.get(
        "/_sandbox/journal", params={"store": STORE, "operation": "createOrderRefund"}
    ).json()
    assert [(e["effect"], e["fault"]) for e in created] == [
        ("refund_created", "timeout_after_commit")
    ]


def test_journal_names_operations_and_effects_per_store(
    client: httpx.Client, order: dict[str, Any]
) -> None:
    client.delete("/_sandbox/journal")
    items = [{"item_type": "PRODUCT", "item_id": _towel(order)["id"], "quantity": 1}]
    quote = _quote(client, items)
    body = {"items": items, "payments": _payments(quote["refund_methods"][0])}
    refund = client.post(f"{V3}/orders/501/payment_actions/refunds", json=body).json()["data"]
    client.get(f"{V2}/orders/501")
    entries = client.get("/_sandbox/journal", params={"store": STORE}).json()
    assert [(e["operation"], e["http_status"], e["effect"]) for e in entries] == [
        ("createOrderRefundQuotes", 201, "quote_created"),
        ("createOrderRefund", 201, "refund_created"),
        ("getOrder", 200, None),
    ]
    assert entries[1]["refund_id"] == refund["id"]
    assert client.get("/_sandbox/journal", params={"store": "other"}).json() == []


def test_refund_bodies_follow_the_official_v3_schemas(
    client: httpx.Client, order: dict[str, Any]
) -> None:
    items = [{"item_type": "PRODUCT", "item_id": _towel(order)["id"], "quantity": 1}]
    quote = _quote(client, items)
    assert set(quote) <= set(_schema("RefundQuote_Full")["properties"])
    option_fields = set(_schema("PaymentOption")["properties"])
    assert all(set(o) == option_fields for m in quote["refund_methods"] for o in m)
    request = {"items": items, "payments": _payments(quote["refund_methods"][0])}
    assert set(_schema("RefundRequest_Post_Items")["required"]) <= set(request)
    assert set(request["payments"][0]) <= set(_schema("PaymentRequest")["properties"])
    refund = client.post(f"{V3}/orders/501/payment_actions/refunds", json=request).json()["data"]
    assert set(refund) == set(_schema("Refund")["properties"])
    assert set(refund["items"][0]) <= set(_schema("RefundItem")["properties"])
    assert set(refund["payments"][0]) <= set(_schema("RefundPayment")["properties"])
    assert isinstance(refund["total_amount"], float)
    item_types = _schema("RefundItem")["properties"]["item_type"]["enum"]
    assert refund["items"][0]["item_type"] in item_types


def test_a_refund_while_another_is_processed_on_the_order_is_refused(
    client: httpx.Client, order: dict[str, Any]
) -> None:
    items = [{"item_type": "PRODUCT", "item_id": _towel(order)["id"], "quantity": 1}]
    body = {"items": items, "payments": _payments(_quote(client, items)["refund_methods"][0])}
    fault = {"kind": "latency", "operation": "createOrderRefund", "delay": 2.0}
    client.post("/_sandbox/faults", json=fault)
    answers: list[httpx.Response] = []
    url = f"{V3}/orders/501/payment_actions/refunds"
    first = threading.Thread(target=lambda: answers.append(client.post(url, json=body)))
    first.start()
    for _ in range(500):
        if client.get(f"/_sandbox/stores/{STORE}/orders/501").json()["refund_in_progress"]:
            break
        first.join(timeout=0.01)
    concurrent = client.post(url, json=body)
    first.join(timeout=10)
    assert concurrent.status_code == 422
    (problem,) = concurrent.json()["data"]
    assert problem["title"] == "A refund is already being processed for this order"
    assert [a.status_code for a in answers] == [201]
    assert len(client.get(url).json()["data"]) == 1


def test_the_rate_window_rolls_with_the_clock() -> None:
    now = [1000.0]
    with (
        BackgroundServer(clock=lambda: now[0]) as running,
        httpx.Client(base_url=running.url, headers={"X-Auth-Token": TOKEN}, timeout=10) as http,
    ):
        store = {"store_hash": STORE, "access_token": TOKEN, "rate_quota": 2}
        http.post("/_sandbox/stores", json=store)
        assert http.get(f"{V2}/orders").headers["X-Rate-Limit-Time-Reset-Ms"] == "30000"
        now[0] += 10
        second = http.get(f"{V2}/orders")
        assert second.headers["X-Rate-Limit-Requests-Left"] == "0"
        assert second.headers["X-Rate-Limit-Time-Reset-Ms"] == "20000"
        now[0] += 19.5
        refused = http.get(f"{V2}/orders")
        assert refused.status_code == 429
        assert refused.headers["X-Rate-Limit-Time-Reset-Ms"] == "500"
        assert refused.headers["X-Retry-After"] == "1"
        now[0] += 0.5  # the first request leaves the window
        again = http.get(f"{V2}/orders")
        assert again.status_code == 204
        assert again.headers["X-Rate-Limit-Requests-Left"] == "0"
        now[0] += 30  # every earlier request has left the window
        assert http.get(f"{V2}/orders").headers["X-Rate-Limit-Requests-Left"] == "1"


def test_injected_429_carries_rate_headers_and_latency_still_answers(
    client: httpx.Client, order: dict[str, Any]
) -> None:
    client.post("/_sandbox/faults", json={"kind": "http_429", "operation": "getOrderProducts"})
    limited = client.get(f"{V2}/orders/501/products")
    assert limited.status_code == 429
    assert limited.headers["X-Rate-Limit-Requests-Left"] == "0"
    assert "X-Retry-After" in limited.headers
    client.post("/_sandbox/faults", json={"kind": "latency", "delay": 0.05, "store": STORE})
    slow = client.get(f"{V2}/orders/501")
    assert slow.status_code == 200
    faults = [e["fault"] for e in client.get("/_sandbox/journal", params={"store": STORE}).json()]
    assert faults == ["http_429", "latency"]


def test_order_level_amounts_refund_without_tax_and_unsupported_items_are_refused(
    client: httpx.Client, order: dict[str, Any]
) -> None:
    quote = _quote(client, [{"item_type": "ORDER", "item_id": 501, "amount": 1.99}])
    assert quote["total_refund_amount"] == 1.99
    assert quote["total_refund_tax_amount"] == 0
    assert quote["order_level_refund_amount"] == 1.99
    wrong_order = client.post(
        f"{V3}/orders/501/payment_actions/refund_quotes",
        json={"items": [{"item_type": "ORDER", "item_id": 7, "amount": 1}]},
    )
    assert wrong_order.status_code == 422
    fee = client.post(
        f"{V3}/orders/501/payment_actions/refund_quotes",
        json={"items": [{"item_type": "FEE", "item_id": 1, "amount": 1}]},
    )
    assert fee.status_code == 422
    assert "items[0].item_type" in fee.json()["errors"]
    missing = client.post(f"{V3}/orders/999/payment_actions/refund_quotes", json={"items": []})
    assert missing.status_code == 404
    assert missing.json()["status"] == 404


def test_all_refunds_filter_by_order_and_ids_that_are_not_numbers_are_404(
    client: httpx.Client, order: dict[str, Any]
) -> None:
    items = [{"item_type": "PRODUCT", "item_id": _towel(order)["id"], "quantity": 1}]
    body = {"items": items, "payments": _payments(_quote(client, items)["refund_methods"][0])}
    refund = client.post(f"{V3}/orders/501/payment_actions/refunds", json=body).json()["data"]
    everything = client.get(f"{V3}/orders/payment_actions/refunds").json()["data"]
    assert [r["id"] for r in everything] == [refund["id"]]
    mine = client.get(f"{V3}/orders/payment_actions/refunds", params={"order_id:in": "7,501"})
    assert [r["id"] for r in mine.json()["data"]] == [refund["id"]]
    other = client.get(f"{V3}/orders/payment_actions/refunds", params={"order_id:in": "7"})
    assert other.json()["data"] == []
    assert client.get(f"{V2}/orders/abc").status_code == 404
    assert client.get(f"{V3}/orders/abc/payment_actions/refunds").json()["status"] == 404
    anonymous = client.get(f"{V2}/orders/abc", headers={"X-Auth-Token": ""})
    assert anonymous.status_code == 401


def test_money_is_integer_cents_inside_and_4_decimal_strings_in_v2() -> None:
    assert parse_cents("55") == 5500
    assert parse_cents(61.0) == 6100
    assert parse_cents(0.1) == 10  # through str, not the binary float
    assert parse_cents("0.005") == 1  # half-up
    assert v2_money(13200) == "132.0000"
    assert v2_money(5) == "0.0500"
    assert share(600, 200, 1200) == 100
    assert share(1, 1, 2) == 1  # half-up
    for bad in (True, None, "abc", "NaN", [1]):
        with pytest.raises(AmountError):
            parse_cents(bad)


INVENTORY_SPEC = Path(bigcommerce_sandbox.__file__).parent / "spec/inventory.v3.yml"


def test_relative_adjustment_moves_stock_per_location_and_answers_a_transaction_id(
    client: httpx.Client, order: dict[str, Any]
) -> None:
    client.post(f"/_sandbox/stores/{STORE}/stock", json={"sku": "TOWEL-1", "level": 4})
    body = {
        "reason": "returnbridge rb-1 restock",
        "items": [
            {"location_id": 1, "sku": "TOWEL-1", "quantity": 2},
            {"location_id": 1, "variant_id": 999, "quantity": 1},  # no such variant: refused
        ],
    }
    refused = client.post(f"{V3}/inventory/adjustments/relative", json=body)
    assert refused.status_code == 422
    assert set(refused.json()) == {"status", "title", "type", "errors"}
    assert client.get(f"/_sandbox/stores/{STORE}/stock").json() == {"TOWEL-1": 4}  # all or none
    body["items"] = [
        {"location_id": 1, "sku": "TOWEL-1", "quantity": 2},
        {"location_id": 1, "product_id": 78, "quantity": -1},
    ]
    made = client.post(f"{V3}/inventory/adjustments/relative", json=body)
    assert made.status_code == 200
    assert set(made.json()) == {"transaction_id"}
    assert all(name in made.headers for name in RATE_HEADERS)
    assert client.get(f"/_sandbox/stores/{STORE}/stock").json() == {"MUG-1": -1, "TOWEL-1": 6}
    (adjustment,) = client.get(f"/_sandbox/stores/{STORE}/adjustments").json()
    assert adjustment["transaction_id"] == made.json()["transaction_id"]
    assert adjustment["reason"] == "returnbridge rb-1 restock"
    (entry,) = client.get(
        "/_sandbox/journal", params={"operation": "post-relative-adjustment", "store": STORE}
    ).json()[-1:]
    assert entry["effect"] == "inventory_adjusted"


def test_adjustment_to_an_unknown_location_is_refused(
    client: httpx.Client, order: dict[str, Any]
) -> None:
    body = {"items": [{"location_id": 9, "sku": "TOWEL-1", "quantity": 1}]}
    refused = client.post(f"{V3}/inventory/adjustments/relative", json=body)
    assert refused.status_code == 422
    assert "Location" in refused.json()["title"]
    bad_identity = {"items": [{"location_id": 1, "sku": "TOWEL-1", "product_id": 1, "quantity": 1}]}
    assert client.post(f"{V3}/inventory/adjustments/relative", json=bad_identity).status_code == 422


def test_locations_and_inventory_items_read_in_the_spec_shapes(
    client: httpx.Client, order: dict[str, Any]
) -> None:
    client.post(f"/_sandbox/stores/{STORE}/stock", json={"sku": "TOWEL-1", "level": 3})
    locations = client.get(f"{V3}/inventory/locations").json()
    assert [(x["id"], x["label"], x["enabled"]) for x in locations["data"]] == [
        (1, "Default location", True)
    ]
    assert locations["meta"]["pagination"]["total"] == 1
    items = client.get(f"{V3}/inventory/items", params={"sku:in": "TOWEL-1"}).json()["data"]
    assert items[0]["identity"] == {"sku": "TOWEL-1", "variant_id": 0, "product_id": 77}
    assert items[0]["locations"][0]["available_to_sell"] == 3
    spec = yaml.safe_load(INVENTORY_SPEC.read_text(encoding="utf-8"))
    fields = set(spec["components"]["schemas"]["ItemResponse"]["properties"])
    assert set(items[0]) <= fields


def test_a_refund_records_a_signed_light_webhook_delivery(
    client: httpx.Client, order: dict[str, Any]
) -> None:
    items = [{"item_type": "PRODUCT", "item_id": _towel(order)["id"], "quantity": 1}]
    body = {"items": items, "payments": _payments(_quote(client, items)["refund_methods"][0])}
    refund = client.post(f"{V3}/orders/501/payment_actions/refunds", json=body).json()["data"]
    (delivery,) = client.get(f"/_sandbox/stores/{STORE}/webhooks/deliveries").json()
    payload = json.loads(delivery["body"])
    assert payload["scope"] == "store/order/refund/created"
    assert payload["data"] == {"type": "order", "id": 501, "refund": {"refund_id": refund["id"]}}
    assert payload["producer"] == f"stores/{STORE}"
    headers = delivery["headers"]
    # Standard Webhooks, computed here with hashlib alone: key = the app's client secret.
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.{delivery['body']}"
    digest = hmac.new(b"sandbox-client-secret", signed.encode(), hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(digest).decode()


def test_orders_filter_by_creation_date_and_sort(client: httpx.Client) -> None:
    for number, created in (
        (601, "Mon, 02 Mar 2026 10:00:00 +0000"),
        (602, "Thu, 05 Mar 2026 10:00:00 +0000"),
    ):
        seed = {**ORDER_SEED, "id": number, "date_created": created}
        assert client.post(f"/_sandbox/stores/{STORE}/orders", json=seed).status_code == 201
    newest_first = client.get(f"{V2}/orders", params={"sort": "date_created:desc"}).json()
    assert [o["id"] for o in newest_first] == [602, 601]
    since = client.get(f"{V2}/orders", params={"min_date_created": "2026-03-04T00:00:00+00:00"})
    assert [o["id"] for o in since.json()] == [602]
    rfc = client.get(f"{V2}/orders", params={"max_date_created": "Tue, 03 Mar 2026 00:00:00 +0000"})
    assert [o["id"] for o in rfc.json()] == [601]
    assert client.get(f"{V2}/orders", params={"min_date_created": "soon"}).status_code == 400
    assert client.get(f"{V2}/orders", params={"sort": "total:up"}).status_code == 400


def test_discounts_and_line_tax_are_refunded_pro_rata_and_add_up(client: httpx.Client) -> None:
    tee = {
        "product_id": 601,
        "sku": "TEE-GRN",
        "name": "Green tee",
        "quantity": 3,
        "price_ex_tax": "20.00",
        "price_inc_tax": "21.60",
        "applied_discounts": [{"code": "SAVE5", "amount": "5.00"}],
        "total_tax": "4.40",
    }
    seed = {"id": 701, "email": "jo@example.com", "products": [tee], "coupon_discount": "5.00"}
    made = client.post(f"/_sandbox/stores/{STORE}/orders", json=seed)
    assert made.status_code == 201, made.text
    order = client.get(f"{V2}/orders/701").json()
    assert (order["total_inc_tax"], order["coupon_discount"]) == ("59.4000", "5.0000")
    (product,) = client.get(f"{V2}/orders/701/products").json()
    assert product["applied_discounts"][0]["amount"] == "5.0000"
    assert product["total_tax"] == "4.4000"
    item_id = product["id"]
    totals = []
    for _ in range(3):
        items = [{"item_type": "PRODUCT", "item_id": item_id, "quantity": 1}]
        quote = client.post(
            f"{V3}/orders/701/payment_actions/refund_quotes", json={"items": items}
        ).json()["data"]
        totals.append((quote["total_refund_amount"], quote["total_refund_tax_amount"]))
        body = {"items": items, "payments": _payments(quote["refund_methods"][0])}
        assert client.post(f"{V3}/orders/701/payment_actions/refunds", json=body).status_code == 201
    assert totals == [(19.8, 1.47), (19.8, 1.46), (19.8, 1.47)]
    assert sum(Decimal(str(t)) for t, _ in totals) == Decimal("59.40")  # the whole line


@given(
    quantity=st.integers(1, 12),
    price=st.integers(0, 100_000),
    discount_share=st.fractions(min_value=0, max_value=1),
    tax=st.integers(0, 50_000),
    steps=st.lists(st.integers(1, 12), min_size=1, max_size=12),
)
def test_partial_product_refunds_add_up_to_the_line(
    quantity: int, price: int, discount_share: Fraction, tax: int, steps: list[int]
) -> None:
    discount = int(price * quantity * discount_share)
    product = OrderProduct(
        id=1,
        product_id=1,
        variant_id=0,
        order_address_id=1,
        name="x",
        sku="X",
        quantity=quantity,
        price_ex_tax=price,
        price_inc_tax=price,
        discounts=[AppliedDiscount("d", "d", None, discount, "order")],
        tax_cents=tax,
    )
    refunded, total = 0, 0
    for step in steps:
        units = min(step, quantity - refunded)
        total += product.net_of(refunded + units) - product.net_of(refunded)
        refunded += units
    assert total == product.net_of(refunded)
    if refunded == quantity:  # every unit back: exactly the line, discount off and tax on
        assert total == price * quantity - discount + tax
