"""Contract tests of the WooCommerce sandbox's key delivery (``/wc-auth/v1/authorize``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from returnbridge.sandbox.woocommerce import BackgroundServer
from support.receiver import ReceivingServer

STORE = "keys.example"
SEEDED = ("ck_keys_seeded", "cs_keys_seeded")
RETURN_URL = "https://app.example/connected"
ORDERS = "/wp-json/wc/v3/orders"


@pytest.fixture(scope="module")
def woo_server() -> Iterator[BackgroundServer]:
    with BackgroundServer() as server:
        yield server


@pytest.fixture
def woo(woo_server: BackgroundServer) -> Iterator[httpx.Client]:
    """A reset sandbox with one store."""
    with httpx.Client(base_url=woo_server.url, timeout=30) as client:
        assert client.post("/_sandbox/reset").status_code == 204
        store = {"name": STORE, "consumer_key": SEEDED[0], "consumer_secret": SEEDED[1]}
        assert client.post("/_sandbox/stores", json=store).status_code == 201
        yield client


@pytest.fixture
def receiver() -> Iterator[ReceivingServer]:
    with ReceivingServer() as server:
        yield server


def authorize(
    client: httpx.Client, callback_url: str, *, scope: str = "read_write", **extra: str
) -> httpx.Response:
    params = {
        "app_name": "returnbridge",
        "scope": scope,
        "user_id": "state-abc",
        "return_url": RETURN_URL,
        "callback_url": callback_url,
        **extra,
    }
    return client.get("/wc-auth/v1/authorize", params=params)


def delivered(server: ReceivingServer) -> dict[str, Any]:
    (request,) = server.receiver.received()
    assert request.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = json.loads(request.body)
    return body


def test_approval_posts_the_key_then_redirects_with_success(
    woo: httpx.Client, receiver: ReceivingServer
) -> None:
    answer = authorize(woo, receiver.url, sandbox_decision="approve")
    assert answer.status_code == 302
    target = urlsplit(answer.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == RETURN_URL
    assert dict(parse_qsl(target.query)) == {"success": "1", "user_id": "state-abc"}
    body = delivered(receiver)
    assert set(body) == {"key_id", "user_id", "consumer_key", "consumer_secret", "key_permissions"}
    assert body["user_id"] == "state-abc"
    assert body["key_permissions"] == "read_write"
    assert isinstance(body["key_id"], int)
    assert re.fullmatch(r"ck_[0-9a-f]{40}", body["consumer_key"])
    assert re.fullmatch(r"cs_[0-9a-f]{40}", body["consumer_secret"])


def test_the_delivered_key_works_on_the_rest_api_with_its_permission(
    woo: httpx.Client, receiver: ReceivingServer
) -> None:
    authorize(woo, receiver.url, scope="read", sandbox_decision="approve")
    key = delivered(receiver)
    auth = (key["consumer_key"], key["consumer_secret"])
    assert woo.get(ORDERS, auth=auth).status_code == 200
    refused = woo.post(f"{ORDERS}/1/refunds", auth=auth, json={"amount": "1.00"})
    assert refused.status_code == 401
    assert "write permissions" in refused.json()["message"]
    wrong = woo.get(ORDERS, auth=(key["consumer_key"], "cs_wrong"))
    assert wrong.status_code == 401


def test_a_failed_callback_deletes_the_key_and_answers_the_error_page(
    woo: httpx.Client, receiver: ReceivingServer
) -> None:
    receiver.receiver.status = 500
    answer = authorize(woo, receiver.url, sandbox_decision="approve")
    assert answer.status_code == 401
    assert "location" not in answer.headers
    assert "unable to send the consumer data" in answer.text
    key = delivered(receiver)
    revoked = woo.get(ORDERS, auth=(key["consumer_key"], key["consumer_secret"]))
    assert revoked.status_code == 401


def test_a_callback_answering_201_is_a_failure_too(
    woo: httpx.Client, receiver: ReceivingServer
) -> None:
    receiver.receiver.status = 201
    assert authorize(woo, receiver.url, sandbox_decision="approve").status_code == 401


def test_deny_redirects_with_success_0_and_creates_no_key(
    woo: httpx.Client, receiver: ReceivingServer
) -> None:
    answer = authorize(woo, receiver.url, sandbox_decision="deny")
    assert answer.status_code == 302
    query = dict(parse_qsl(urlsplit(answer.headers["location"]).query))
    assert query == {"success": "0", "user_id": "state-abc"}
    assert receiver.receiver.received() == []


def test_the_grant_page_links_approve_with_a_nonce_and_deny(
    woo: httpx.Client, receiver: ReceivingServer
) -> None:
    page = authorize(woo, receiver.url)
    assert page.status_code == 200
    links = re.findall(r"href='([^']+)'", page.text)
    approve = next(link for link in links if "access_granted" in link).replace("&amp;", "&")
    deny = next(link for link in links if link.startswith(RETURN_URL)).replace("&amp;", "&")
    assert dict(parse_qsl(urlsplit(deny).query))["success"] == "0"
    forged = re.sub(r"wc_auth_nonce=[^&]+", "wc_auth_nonce=forged", approve)
    assert woo.get(forged).status_code == 401
    assert receiver.receiver.received() == []
    granted = woo.get(approve)
    assert granted.status_code == 302
    assert delivered(receiver)["key_permissions"] == "read_write"


def test_a_plain_http_callback_off_loopback_is_refused(woo: httpx.Client) -> None:
    answer = authorize(woo, "http://app.example/callback", sandbox_decision="approve")
    assert answer.status_code == 401
    assert "callback_url needs to be over SSL" in answer.text


def test_missing_parameters_and_bad_scopes_are_refused(
    woo: httpx.Client, receiver: ReceivingServer
) -> None:
    assert "Invalid scope" in authorize(woo, receiver.url, scope="admin").text
    answer = woo.get("/wc-auth/v1/authorize", params={"app_name": "x"})
    assert answer.status_code == 401
    assert "Missing parameter user_id" in answer.text


def test_with_several_stores_the_manager_logs_in_to_one(
    woo: httpx.Client, receiver: ReceivingServer
) -> None:
    other = {"name": "other.example", "consumer_key": "ck_other", "consumer_secret": "cs_other"}
    assert woo.post("/_sandbox/stores", json=other).status_code == 201
    login = authorize(woo, receiver.url, sandbox_decision="approve")
    assert login.status_code == 200
    assert "other.example" in login.text
    assert STORE in login.text
    chosen = authorize(woo, receiver.url, sandbox_decision="approve", sandbox_store="other.example")
    assert chosen.status_code == 302
    key = delivered(receiver)
    seeded_other = woo.post("/_sandbox/stores/other.example/orders", json=order_seed())
    assert seeded_other.status_code == 201
    listed = woo.get(ORDERS, auth=(key["consumer_key"], key["consumer_secret"]))
    assert [o["id"] for o in listed.json()] == [seeded_other.json()["id"]]


def order_seed() -> dict[str, Any]:
    return {
        "billing": {"email": "ann@example.com"},
        "line_items": [
            {"product_id": 1, "sku": "HAT", "name": "Hat", "quantity": 1, "price": "20.00"}
        ],
    }
