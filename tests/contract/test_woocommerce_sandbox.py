"""Contract tests of the WooCommerce sandbox: the simulated REST API wc/v3 and its controls."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from returnbridge.sandbox.woocommerce import BackgroundServer

API = "/wp-json/wc/v3"
STORE = "alpha.example"
AUTH = ("ck_alpha", "cs_alpha")
TAX_RATE = 7
HAT = 501
SCARF = 502


@pytest.fixture(scope="module")
def woo_server() -> Iterator[BackgroundServer]:
    """One real server on loopback for the module."""
    with BackgroundServer() as server:
        yield server


@pytest.fixture
def woo(woo_server: BackgroundServer) -> Iterator[httpx.Client]:
    """A reset sandbox with one read-write store, authenticated by HTTP Basic."""
    with httpx.Client(base_url=woo_server.url, auth=AUTH, timeout=10) as client:
        assert client.post("/_sandbox/reset").status_code == 204
        store = {"name": STORE, "consumer_key": AUTH[0], "consumer_secret": AUTH[1]}
        assert client.post("/_sandbox/stores", json=store).status_code == 201
        for product_id in (HAT, SCARF):
            stock = {"product_id": product_id, "stock_quantity": 10}
            assert client.post(f"/_sandbox/stores/{STORE}/stock", json=stock).status_code == 200
        yield client


def order_seed(email: str = "ann@example.com", number: str | None = None) -> dict[str, Any]:
    """2 hats at 20.00 + 1 scarf at 15.00, shipping 5.00; 10% tax on everything: 66.00."""
    return {
        "number": number,
        "billing": {"email": email, "first_name": "Ann"},
        "line_items": [
            {
                "product_id": HAT,
                "sku": "HAT",
                "name": "Hat",
                "quantity": 2,
                "price": "20.00",
                "taxes": [{"rate_id": TAX_RATE, "total": "4.00"}],
            },
            {
                "product_id": SCARF,
                "sku": "SCARF",
                "name": "Scarf",
                "quantity": 1,
                "price": "15.00",
                "taxes": [{"rate_id": TAX_RATE, "total": "1.50"}],
            },
        ],
        "shipping_lines": [{"total": "5.00", "taxes": [{"rate_id": TAX_RATE, "total": "0.50"}]}],
    }


def seed(client: httpx.Client, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post(f"/_sandbox/stores/{STORE}/orders", json=body or order_seed())
    assert response.status_code == 201, response.text
    state: dict[str, Any] = response.json()
    return state


def state(client: httpx.Client, order_id: int) -> dict[str, Any]:
    answer: dict[str, Any] = client.get(f"/_sandbox/stores/{STORE}/orders/{order_id}").json()
    return answer


def journal(client: httpx.Client, **params: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = client.get("/_sandbox/journal", params=params).json()
    return entries


def one_hat_refund(order: dict[str, Any], **extra: Any) -> dict[str, Any]:
    hat = order["line_items"][0]
    return {
        "amount": "22.00",
        "reason": "RMA 123",
        "api_refund": False,
        "line_items": [
            {
                "id": hat["id"],
                "quantity": 1,
                "refund_total": 20.00,
                "refund_tax": [{"id": TAX_RATE, "refund_total": 2.00}],
            }
        ],
        **extra,
    }


def refund(client: httpx.Client, order_id: int, body: dict[str, Any]) -> httpx.Response:
    return client.post(f"{API}/orders/{order_id}/refunds", json=body)


# --- auth -------------------------------------------------------------------------------------


def test_calls_without_credentials_are_refused_with_a_woocommerce_error(
    woo: httpx.Client, woo_server: BackgroundServer
) -> None:
    order = seed(woo)
    with httpx.Client(base_url=woo_server.url) as anonymous:
        read = anonymous.get(f"{API}/orders/{order['id']}")
        write = anonymous.post(f"{API}/orders/{order['id']}/refunds", json={"amount": "1.00"})
    assert read.status_code == 401
    assert read.json() == {
        "code": "woocommerce_rest_cannot_view",
        "message": "Sorry, you cannot list resources.",
        "data": {"status": 401},
    }
    assert (write.status_code, write.json()["code"]) == (401, "woocommerce_rest_cannot_create")
    assert state(woo, order["id"])["refund_objects"] == []


def test_wrong_secret_and_read_only_keys_are_refused(
    woo: httpx.Client, woo_server: BackgroundServer
) -> None:
    order = seed(woo)
    reader = {"name": "reader.example", "consumer_key": "ck_r", "consumer_secret": "cs_r"}
    woo.post("/_sandbox/stores", json={**reader, "permissions": "read"})
    with httpx.Client(base_url=woo_server.url, auth=("ck_alpha", "nope")) as wrong:
        answer = wrong.get(f"{API}/orders")
    assert (answer.status_code, answer.json()["code"]) == (
        401,
        "woocommerce_rest_authentication_error",
    )
    with httpx.Client(base_url=woo_server.url, auth=("ck_r", "cs_r")) as read_only:
        assert read_only.get(f"{API}/orders").status_code == 200
        denied = read_only.post(f"{API}/orders/{order['id']}/refunds", json={})
    assert denied.status_code == 401
    assert "write permissions" in denied.json()["message"]


def test_query_string_credentials_are_accepted(
    woo: httpx.Client, woo_server: BackgroundServer
) -> None:
    order = seed(woo)
    params = {"consumer_key": AUTH[0], "consumer_secret": AUTH[1]}
    with httpx.Client(base_url=woo_server.url) as client:
        answer = client.get(f"{API}/orders/{order['id']}", params=params)
    assert (answer.status_code, answer.json()["id"]) == (200, order["id"])


def oauth_signed(
    method: str,
    url: str,
    query: dict[str, str],
    *,
    nonce: str,
    secret: str = AUTH[1],
    algorithm: str = "HMAC-SHA256",
) -> dict[str, str]:
    """Query params of a one-legged OAuth 1.0a call, signed independently of the sandbox."""

    def enc(value: str) -> str:
        return quote(value, safe="~")

    params = {
        **query,
        "oauth_consumer_key": AUTH[0],
        "oauth_timestamp": str(int(time.time())),
        "oauth_nonce": nonce,
        "oauth_signature_method": algorithm,
    }
    normalized = "&".join(
        f"{k}={v}" for k, v in sorted((enc(k), enc(v)) for k, v in params.items())
    )
    base = f"{method}&{enc(url)}&{enc(normalized)}"
    hasher = hashlib.sha256 if algorithm == "HMAC-SHA256" else hashlib.sha1
    digest = hmac.new(f"{secret}&".encode(), base.encode(), hasher).digest()
    return {**params, "oauth_signature": base64.b64encode(digest).decode()}


@pytest.mark.parametrize("algorithm", ["HMAC-SHA1", "HMAC-SHA256"])
def test_oauth_1a_signed_calls_are_accepted_once_per_nonce(
    woo: httpx.Client, woo_server: BackgroundServer, algorithm: str
) -> None:
    seed(woo, order_seed(email="ann+oauth@example.com"))
    url = f"{woo_server.url}{API}/orders"
    query = {"search": "ann+oauth@example.com", "per_page": "5"}
    params = oauth_signed("GET", url, query, nonce=f"n-{algorithm}", algorithm=algorithm)
    with httpx.Client() as plain:
        answer = plain.get(url, params=params)
        replay = plain.get(url, params=params)
        forged = plain.get(url, params=oauth_signed("GET", url, query, nonce="x", secret="bad"))
    assert answer.status_code == 200, answer.text
    assert [o["billing"]["email"] for o in answer.json()] == ["ann+oauth@example.com"]
    assert replay.status_code == 401
    assert replay.json()["message"] == "Invalid nonce - nonce has already been used."
    assert forged.status_code == 401
    assert forged.json()["message"] == "Invalid signature - provided signature does not match."


def test_oauth_in_the_authorization_header_signs_a_refund(
    woo: httpx.Client, woo_server: BackgroundServer
) -> None:
    order = seed(woo)
    url = f"{woo_server.url}{API}/orders/{order['id']}/refunds"
    params = oauth_signed("POST", url, {}, nonce="header-nonce")
    header = "OAuth " + ", ".join(f'{k}="{quote(v, safe="~")}"' for k, v in params.items())
    with httpx.Client() as plain:
        answer = plain.post(url, json=one_hat_refund(order), headers={"Authorization": header})
    assert answer.status_code == 201, answer.text
    missing = {k: v for k, v in params.items() if k != "oauth_nonce"}
    with httpx.Client() as plain:
        refused = plain.get(f"{woo_server.url}{API}/orders", params=missing)
    assert refused.json()["message"] == "Missing OAuth parameter oauth_nonce"


# --- orders -----------------------------------------------------------------------------------


def test_an_order_reads_with_woocommerce_fields_and_decimal_strings(woo: httpx.Client) -> None:
    seeded = seed(woo, order_seed(number="A-1001"))
    order = woo.get(f"{API}/orders/{seeded['id']}").json()
    assert (order["number"], order["status"], order["currency"]) == ("A-1001", "processing", "USD")
    assert (order["total"], order["total_tax"], order["shipping_total"]) == (
        "66.00",
        "6.00",
        "5.00",
    )
    assert order["prices_include_tax"] is False
    assert order["billing"]["email"] == "ann@example.com"
    hat = order["line_items"][0]
    assert (hat["sku"], hat["quantity"], hat["subtotal"], hat["total"], hat["total_tax"]) == (
        "HAT",
        2,
        "40.00",
        "40.00",
        "4.00",
    )
    assert hat["taxes"] == [{"id": TAX_RATE, "total": "4.00", "subtotal": "4.00"}]
    assert hat["price"] == 20
    [shipping] = order["shipping_lines"]
    assert (shipping["method_id"], shipping["total"], shipping["total_tax"]) == (
        "flat_rate",
        "5.00",
        "0.50",
    )
    [tax] = order["tax_lines"]
    assert (tax["rate_id"], tax["tax_total"], tax["shipping_tax_total"]) == (
        TAX_RATE,
        "5.50",
        "0.50",
    )
    assert order["refunds"] == []


def test_an_unknown_order_is_a_404_woocommerce_error(woo: httpx.Client) -> None:
    answer = woo.get(f"{API}/orders/999999")
    assert answer.status_code == 404
    assert answer.json()["code"] == "woocommerce_rest_shop_order_invalid_id"
    assert answer.json()["data"] == {"status": 404}
    assert woo.get("/wp-json/wc/v3/nothing").json()["code"] == "rest_no_route"


def test_search_and_pagination_headers(woo: httpx.Client) -> None:
    for i in range(5):
        seed(woo, order_seed(email=f"bob{i}@example.com"))
    seed(woo, order_seed(email="ann@example.com"))
    first = woo.get(f"{API}/orders", params={"search": "bob", "per_page": 2})
    assert first.status_code == 200
    assert (first.headers["X-WP-Total"], first.headers["X-WP-TotalPages"]) == ("5", "3")
    assert 'rel="next"' in first.headers["Link"]
    assert "page=2" in first.headers["Link"]
    assert 'rel="prev"' not in first.headers["Link"]
    last = woo.get(f"{API}/orders", params={"search": "bob", "per_page": 2, "page": 3})
    assert 'rel="next"' not in last.headers["Link"]
    pages = [
        first.json(),
        woo.get(f"{API}/orders?search=bob&per_page=2&page=2").json(),
        last.json(),
    ]
    emails = [o["billing"]["email"] for page in pages for o in page]
    assert sorted(emails) == [f"bob{i}@example.com" for i in range(5)]
    ann = woo.get(f"{API}/orders", params={"search": "ANN@example"}).json()
    assert [o["billing"]["email"] for o in ann] == ["ann@example.com"]


def test_per_page_above_100_is_refused(woo: httpx.Client) -> None:
    answer = woo.get(f"{API}/orders", params={"per_page": 101})
    assert (answer.status_code, answer.json()["code"]) == (400, "rest_invalid_param")


# --- refunds ----------------------------------------------------------------------------------


def test_a_refund_with_line_items_and_tax_creates_one_refund_and_restocks(
    woo: httpx.Client,
) -> None:
    order = seed(woo)
    answer = refund(woo, order["id"], one_hat_refund(order))
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert (created["amount"], created["reason"], created["refunded_payment"]) == (
        "22.00",
        "RMA 123",
        False,
    )
    [line] = created["line_items"]
    assert (line["quantity"], line["total"], line["total_tax"]) == (-1, "-20.00", "-2.00")
    assert line["taxes"] == [{"id": TAX_RATE, "total": "-2.00", "subtotal": "-2.00"}]
    assert {"key": "_refunded_item_id", "value": str(order["line_items"][0]["id"])}.items() <= (
        line["meta_data"][0].items()
    )
    after = woo.get(f"{API}/orders/{order['id']}").json()
    assert after["refunds"] == [{"id": created["id"], "reason": "RMA 123", "total": "-22.00"}]
    assert after["status"] == "processing"
    assert woo.get(f"/_sandbox/stores/{STORE}/stock").json() == {str(HAT): 11, str(SCARF): 10}
    listed = woo.get(f"{API}/orders/{order['id']}/refunds").json()
    assert [r["id"] for r in listed] == [created["id"]]
    assert woo.get(f"{API}/orders/{order['id']}/refunds/{created['id']}").json() == created


def test_api_restock_false_leaves_stock_alone(woo: httpx.Client) -> None:
    order = seed(woo)
    assert refund(woo, order["id"], one_hat_refund(order, api_restock=False)).status_code == 201
    assert woo.get(f"/_sandbox/stores/{STORE}/stock").json()[str(HAT)] == 10


def test_amount_is_computed_from_lines_when_omitted_and_shipping_ids_refund_shipping(
    woo: httpx.Client,
) -> None:
    order = seed(woo)
    shipping_id = order["shipping_lines"][0]["id"]
    body = {
        "api_refund": False,
        "line_items": [
            {
                "id": shipping_id,
                "refund_total": "5.00",
                "refund_tax": [{"id": TAX_RATE, "refund_total": "0.50"}],
            }
        ],
    }
    created = refund(woo, order["id"], body).json()
    assert created["amount"] == "5.50"
    assert created["line_items"] == []
    [shipping] = created["shipping_lines"]
    assert (shipping["total"], shipping["total_tax"]) == ("-5.00", "-0.50")


def test_over_refund_is_refused_and_changes_nothing(woo: httpx.Client) -> None:
    order = seed(woo)
    answer = refund(woo, order["id"], {"amount": "66.01", "api_refund": False})
    assert answer.status_code == 500
    assert answer.json() == {
        "code": "woocommerce_rest_cannot_create_order_refund",
        "message": "Invalid refund amount.",
        "data": {"status": 500},
    }
    assert state(woo, order["id"])["refund_objects"] == []
    [entry] = journal(woo, operation="refunds.create")
    assert entry["effect"] == "rejected"


def test_a_refund_of_an_unknown_order_is_refused(woo: httpx.Client) -> None:
    answer = refund(woo, 999999, {"amount": "1.00"})
    assert (answer.status_code, answer.json()["code"]) == (404, "woocommerce_rest_invalid_order_id")
    assert journal(woo, operation="refunds.create")[0]["effect"] == "rejected"


def test_a_gateway_without_refunds_fails_unless_api_refund_is_false(woo: httpx.Client) -> None:
    order = seed(woo, {**order_seed(), "gateway_refunds": False})
    failed = refund(woo, order["id"], {"amount": "1.00"})
    assert (failed.status_code, failed.json()["code"]) == (
        500,
        "woocommerce_rest_cannot_create_order_refund",
    )
    assert refund(woo, order["id"], {"amount": "1.00", "api_refund": False}).status_code == 201
    assert len(state(woo, order["id"])["refund_objects"]) == 1


def test_a_repeated_post_makes_a_second_refund(woo: httpx.Client) -> None:
    order = seed(woo)
    first = refund(woo, order["id"], one_hat_refund(order)).json()
    second = refund(woo, order["id"], one_hat_refund(order)).json()
    assert first["id"] != second["id"]
    after = woo.get(f"{API}/orders/{order['id']}").json()
    assert [r["id"] for r in after["refunds"]] == [second["id"], first["id"]]
    assert state(woo, order["id"])["refunded_total"] == "44.00"
    assert woo.get(f"/_sandbox/stores/{STORE}/stock").json()[str(HAT)] == 12


def test_all_refunds_list_across_orders_with_parent_ids(woo: httpx.Client) -> None:
    first, second = seed(woo), seed(woo)
    made = [refund(woo, o["id"], one_hat_refund(o)).json()["id"] for o in (first, second)]
    listed = woo.get(f"{API}/refunds", params={"per_page": 1})
    assert listed.headers["X-WP-Total"] == "2"
    page_two = woo.get(f"{API}/refunds", params={"per_page": 1, "page": 2}).json()
    parents = {r["id"]: r["parent_id"] for r in [*listed.json(), *page_two]}
    assert parents == {made[0]: first["id"], made[1]: second["id"]}


def test_meta_data_is_kept_on_the_refund(woo: httpx.Client) -> None:
    order = seed(woo)
    meta = [{"key": "_returnbridge_refund_id", "value": "r_abc"}]
    created = refund(woo, order["id"], one_hat_refund(order, meta_data=meta)).json()
    stored = woo.get(f"{API}/orders/{order['id']}/refunds/{created['id']}").json()
    assert [(m["key"], m["value"]) for m in stored["meta_data"]] == [
        ("_returnbridge_refund_id", "r_abc")
    ]


def test_a_full_refund_marks_the_order_refunded(woo: httpx.Client) -> None:
    order = seed(woo)
    assert refund(woo, order["id"], {"amount": "60.00", "api_refund": False}).status_code == 201
    assert woo.get(f"{API}/orders/{order['id']}").json()["status"] == "processing"
    assert refund(woo, order["id"], {"amount": "6.00", "api_refund": False}).status_code == 201
    assert woo.get(f"{API}/orders/{order['id']}").json()["status"] == "refunded"
    assert refund(woo, order["id"], {"amount": "0.01", "api_refund": False}).status_code == 500


# --- faults and journal -----------------------------------------------------------------------


def test_an_http_503_fault_fails_the_next_call_only(woo: httpx.Client) -> None:
    order = seed(woo)
    fault = {"kind": "http_503", "count": 1, "operation": "refunds.create"}
    assert woo.post("/_sandbox/faults", json=fault).status_code == 201
    failed = refund(woo, order["id"], one_hat_refund(order))
    assert (failed.status_code, failed.headers["Retry-After"]) == (503, "1")
    assert state(woo, order["id"])["refund_objects"] == []
    assert refund(woo, order["id"], one_hat_refund(order)).status_code == 201
    assert woo.get("/_sandbox/faults").json() == []
    faults = [e["fault"] for e in journal(woo, operation="refunds.create")]
    assert faults == ["http_503", None]


def test_an_http_429_fault_is_scoped_to_its_operation(woo: httpx.Client) -> None:
    order = seed(woo)
    woo.post("/_sandbox/faults", json={"kind": "http_429", "operation": "orders.list"})
    assert woo.get(f"{API}/orders/{order['id']}").status_code == 200
    assert woo.get(f"{API}/orders").status_code == 429
    assert woo.get(f"{API}/orders").status_code == 200


def test_timeout_after_commit_commits_the_refund(
    woo: httpx.Client, woo_server: BackgroundServer
) -> None:
    order = seed(woo)
    fault = {"kind": "timeout_after_commit", "operation": "refunds.create", "delay": 3}
    woo.post("/_sandbox/faults", json=fault)
    with (
        pytest.raises(httpx.ReadTimeout),
        httpx.Client(base_url=woo_server.url, auth=AUTH, timeout=0.3) as impatient,
    ):
        refund(impatient, order["id"], one_hat_refund(order))
    for _ in range(500):  # bounded poll: the held call is journaled once committed
        if journal(woo, operation="refunds.create"):
            break
    [held] = journal(woo, operation="refunds.create")
    assert (held["fault"], held["effect"]) == ("timeout_after_commit", "refund_created")
    [created] = state(woo, order["id"])["refund_objects"]
    assert created["id"] == held["refund_id"]


@pytest.mark.parametrize(
    ("kind", "refunds_made"), [("connection_reset", 0), ("connection_reset_after_commit", 1)]
)
def test_a_dropped_connection_before_or_after_the_commit(
    woo: httpx.Client, kind: str, refunds_made: int
) -> None:
    order = seed(woo)
    woo.post("/_sandbox/faults", json={"kind": kind, "operation": "refunds.create"})
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        refund(woo, order["id"], one_hat_refund(order))
    assert len(state(woo, order["id"])["refund_objects"]) == refunds_made
    [entry] = journal(woo, operation="refunds.create")
    assert entry["fault"] == kind
    assert refund(woo, order["id"], one_hat_refund(order)).status_code == 201


def test_the_journal_names_operations_per_store(woo: httpx.Client) -> None:
    order = seed(woo)
    woo.get(f"{API}/orders", params={"search": "ann"})
    woo.get(f"{API}/orders/{order['id']}")
    created = refund(woo, order["id"], one_hat_refund(order)).json()
    woo.get(f"{API}/orders/{order['id']}/refunds")
    entries = journal(woo, store=STORE)
    assert [e["operation"] for e in entries] == [
        "orders.list",
        "orders.get",
        "refunds.create",
        "refunds.list",
    ]
    write = entries[2]
    assert (write["effect"], write["refund_id"], write["order_id"], write["http_status"]) == (
        "refund_created",
        created["id"],
        order["id"],
        201,
    )
    assert write["body"]["reason"] == "RMA 123"
    assert journal(woo, store="other.example") == []
    assert woo.delete("/_sandbox/journal").status_code == 204
    assert journal(woo) == []


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]]
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook_receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    """A loopback HTTP server that records webhook deliveries."""
    handler = type("Receiver", (_Receiver,), {"received": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def deliveries(client: httpx.Client, count: int) -> list[dict[str, Any]]:
    """Delivery log once ``count`` attempts finished (bounded poll)."""
    found: list[dict[str, Any]] = []
    for _ in range(500):
        found = client.get(f"/_sandbox/stores/{STORE}/webhooks/deliveries").json()
        if len(found) >= count:
            break
        time.sleep(0.01)
    return found


def test_a_refund_delivers_signed_webhooks(
    woo: httpx.Client, webhook_receiver: tuple[str, type[_Receiver]]
) -> None:
    url, receiver = webhook_receiver
    for topic in ("order.updated", "action.woocommerce_order_refunded"):
        hook = {"topic": topic, "delivery_url": url, "secret": "s3cret"}
        assert woo.post(f"/_sandbox/stores/{STORE}/webhooks", json=hook).status_code == 201
    order = seed(woo)
    refund(woo, order["id"], one_hat_refund(order))
    assert [d["http_status"] for d in deliveries(woo, 2)] == [200, 200]
    by_topic = {
        headers["x-wc-webhook-topic"]: (headers, body) for headers, body in receiver.received
    }
    headers, body = by_topic["order.updated"]
    expected = base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest()).decode()
    assert headers["x-wc-webhook-signature"] == expected
    assert (headers["x-wc-webhook-resource"], headers["x-wc-webhook-event"]) == ("order", "updated")
    assert json.loads(body)["refunds"][0]["total"] == "-22.00"
    _, action_body = by_topic["action.woocommerce_order_refunded"]
    assert json.loads(action_body) == {"action": "woocommerce_order_refunded", "arg": order["id"]}


def test_five_failed_deliveries_disable_a_webhook(
    woo: httpx.Client, webhook_receiver: tuple[str, type[_Receiver]]
) -> None:
    url, receiver = webhook_receiver
    receiver.status = 500
    hook = {"topic": "order.updated", "delivery_url": url, "secret": "s"}
    woo.post(f"/_sandbox/stores/{STORE}/webhooks", json=hook)
    order = seed(woo)
    for attempt in range(1, 6):
        refund(woo, order["id"], {"amount": "1.00", "api_refund": False})
        assert len(deliveries(woo, attempt)) == attempt  # one at a time: failures in order
    assert [d["http_status"] for d in deliveries(woo, 5)] == [500] * 5
    [webhook] = woo.get(f"/_sandbox/stores/{STORE}/webhooks").json()
    assert (webhook["status"], webhook["failures"]) == ("disabled", 5)
    refund(woo, order["id"], {"amount": "1.00", "api_refund": False})
    assert len(receiver.received) == 5


def test_reset_forgets_stores_and_orders(woo: httpx.Client) -> None:
    order = seed(woo)
    assert woo.post("/_sandbox/reset").status_code == 204
    assert woo.get(f"{API}/orders/{order['id']}").status_code == 401
    assert woo.get(f"/_sandbox/stores/{STORE}/orders/{order['id']}").status_code == 404


# --- tax rate labels, coupon lines, after= ------------------------------------------------------


def test_tax_rate_labels_and_coupon_lines_are_rendered(woo: httpx.Client) -> None:
    body = order_seed()
    body["tax_rates"] = [{"rate_id": TAX_RATE, "label": "VAT", "rate_code": "DE-VAT-1"}]
    body["coupon_lines"] = [{"code": "SPRING", "discount": "4.00"}]
    body["line_items"][0]["discount"] = "4.00"
    order = woo.get(f"{API}/orders/{seed(woo, body)['id']}").json()
    [tax_line] = order["tax_lines"]
    assert (tax_line["rate_id"], tax_line["label"], tax_line["rate_code"]) == (
        TAX_RATE,
        "VAT",
        "DE-VAT-1",
    )
    [coupon] = order["coupon_lines"]
    assert (coupon["code"], coupon["discount"]) == ("SPRING", "4.00")
    assert (order["line_items"][0]["subtotal"], order["line_items"][0]["total"]) == (
        "40.00",
        "36.00",
    )
    plain = woo.get(f"{API}/orders/{seed(woo)['id']}").json()
    assert (plain["tax_lines"][0]["label"], plain["coupon_lines"]) == ("Tax", [])


def test_after_lists_orders_created_strictly_later(woo: httpx.Client) -> None:
    early = seed(woo, {**order_seed(), "date_created": "2026-01-10T10:00:00"})
    late = seed(woo, {**order_seed(), "date_created": "2026-02-01T00:00:00"})
    found = woo.get(f"{API}/orders", params={"after": "2026-01-31T23:59:59"}).json()
    assert [o["id"] for o in found] == [late["id"]]
    both = woo.get(f"{API}/orders", params={"after": "2026-01-10T09:59:59+00:00"}).json()
    assert [o["id"] for o in both] == [late["id"], early["id"]]
    same = woo.get(f"{API}/orders", params={"after": "2026-02-01T00:00:00"}).json()
    assert same == []
    refused = woo.get(f"{API}/orders", params={"after": "yesterday"})
    assert (refused.status_code, refused.json()["code"]) == (400, "rest_invalid_param")
