"""Contract tests of the Shopify sandbox's app install (OAuth authorization code grant).

The callback's signature is checked here with an independent computation of the documented
algorithm, and against the example Shopify's libraries publish.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from returnbridge.sandbox.shopify import BackgroundServer

SHOP = "install-test.myshopify.com"
SEEDED_TOKEN = "shpat_install_seeded"
CLIENT_ID = "app-client-1"
CLIENT_SECRET = "app-secret-1"
REDIRECT = "https://app.example/auth/callback"
GRAPHQL = "/admin/api/2026-01/graphql.json"
LOCATIONS = "{ locations(first: 5) { nodes { id name } } }"


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def install_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def install_server(install_clock: FakeClock) -> Iterator[BackgroundServer]:
    with BackgroundServer(clock=install_clock) as server:
        yield server


@pytest.fixture
def shopify(install_server: BackgroundServer, install_clock: FakeClock) -> Iterator[httpx.Client]:
    """A reset sandbox with one shop and one registered app."""
    install_clock.advance(3600)
    with httpx.Client(base_url=install_server.url, timeout=30) as client:
        assert client.post("/_sandbox/reset").status_code == 204
        shop = {"domain": SHOP, "access_token": SEEDED_TOKEN}
        assert client.post("/_sandbox/shops", json=shop).status_code == 201
        app = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_urls": [REDIRECT]}
        registered = client.post("/_sandbox/apps", json=app)
        assert registered.status_code == 201
        assert "client_secret" not in registered.json()
        yield client


def authorize_params(**overrides: str) -> dict[str, str]:
    params = {
        "client_id": CLIENT_ID,
        "scope": "read_orders,write_orders,read_locations",
        "redirect_uri": REDIRECT,
        "state": "nonce-123",
        "shop": SHOP,
        "sandbox_decision": "install",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v != ""}


def callback_query(client: httpx.Client, **overrides: str) -> dict[str, str]:
    """Approve an install; the query of the redirect to the app."""
    answer = client.get("/admin/oauth/authorize", params=authorize_params(**overrides))
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return dict(parse_qsl(urlsplit(location).query))


def documented_hmac(query: dict[str, str], secret: str) -> str:
    """Shopify's documented algorithm, written out independently of the sandbox."""
    pairs = sorted((k, v) for k, v in query.items() if k != "hmac")
    message = "&".join(f"{k}={v}" for k, v in pairs)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def exchange(client: httpx.Client, code: str, *, secret: str = CLIENT_SECRET) -> httpx.Response:
    form = {"client_id": CLIENT_ID, "client_secret": secret, "code": code}
    return client.post("/admin/oauth/access_token", data=form)


def test_documented_algorithm_matches_the_published_example() -> None:
    query = {
        "code": "0907a61c0c8d55e99db179b68161bc00",
        "shop": "some-shop.myshopify.com",
        "timestamp": "1337178173",
    }
    expected = "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20"
    assert documented_hmac(query, "hush") == expected


def test_install_redirects_with_a_signed_code_shop_state_and_timestamp(
    shopify: httpx.Client, install_clock: FakeClock
) -> None:
    query = callback_query(shopify)
    assert set(query) == {"code", "hmac", "host", "shop", "state", "timestamp"}
    assert query["shop"] == SHOP
    assert query["state"] == "nonce-123"
    assert query["timestamp"] == str(int(install_clock.now))
    assert re.fullmatch(r"[0-9a-f]{64}", query["hmac"])
    assert hmac.compare_digest(query["hmac"], documented_hmac(query, CLIENT_SECRET))
    assert query["hmac"] != documented_hmac(query, "another-secret")


def test_the_exchanged_token_works_on_the_admin_api_of_that_shop(shopify: httpx.Client) -> None:
    code = callback_query(shopify)["code"]
    answer = exchange(shopify, code)
    assert answer.status_code == 200
    body = answer.json()
    assert body["scope"] == "read_orders,write_orders,read_locations"
    token = body["access_token"]
    assert token.startswith("shpat_")
    assert token != SEEDED_TOKEN
    called = shopify.post(
        GRAPHQL, json={"query": LOCATIONS}, headers={"X-Shopify-Access-Token": token}
    )
    assert called.status_code == 200
    assert called.json()["data"]["locations"]["nodes"][0]["name"] == "Main warehouse"


def test_a_code_is_exchanged_once(shopify: httpx.Client) -> None:
    code = callback_query(shopify)["code"]
    assert exchange(shopify, code).status_code == 200
    again = exchange(shopify, code)
    assert again.status_code == 400
    assert again.json() == {
        "error": "invalid_request",
        "error_description": "The authorization code was not found or was already used",
    }


def test_a_code_expires(shopify: httpx.Client, install_clock: FakeClock) -> None:
    code = callback_query(shopify)["code"]
    install_clock.advance(601)
    assert exchange(shopify, code).status_code == 400


def test_a_wrong_secret_is_refused_and_leaves_the_code_unspent(shopify: httpx.Client) -> None:
    code = callback_query(shopify)["code"]
    refused = exchange(shopify, code, secret="not-the-secret")
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_client"
    assert exchange(shopify, code).status_code == 200


def test_the_token_request_may_be_json(shopify: httpx.Client) -> None:
    code = callback_query(shopify)["code"]
    body = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code}
    answer = shopify.post("/admin/oauth/access_token", json=body)
    assert answer.status_code == 200
    assert answer.json()["access_token"].startswith("shpat_")


def test_a_redirect_uri_the_app_does_not_allow_is_refused(shopify: httpx.Client) -> None:
    params = authorize_params(redirect_uri="https://evil.example/callback")
    answer = shopify.get("/admin/oauth/authorize", params=params)
    assert answer.status_code == 400
    assert "redirect_uri is not whitelisted" in answer.text
    assert "location" not in answer.headers


def test_an_unknown_client_id_is_refused(shopify: httpx.Client) -> None:
    answer = shopify.get("/admin/oauth/authorize", params=authorize_params(client_id="nobody"))
    assert answer.status_code == 400
    assert "client_id" in answer.text


def test_the_install_page_posts_its_form_and_cancel_issues_no_code(shopify: httpx.Client) -> None:
    page = shopify.get("/admin/oauth/authorize", params=authorize_params(sandbox_decision=""))
    assert page.status_code == 200
    assert "Install" in page.text
    assert "Cancel" in page.text
    form = {k: v for k, v in authorize_params().items() if k != "sandbox_decision"}
    cancelled = shopify.post("/admin/oauth/authorize", data={**form, "sandbox_decision": "cancel"})
    assert cancelled.status_code == 200
    assert "not installed" in cancelled.text
    installed = shopify.post("/admin/oauth/authorize", data={**form, "sandbox_decision": "install"})
    assert installed.status_code == 303
    query = dict(parse_qsl(urlsplit(installed.headers["location"]).query))
    assert query["hmac"] == documented_hmac(query, CLIENT_SECRET)


def test_an_unknown_shop_is_not_found(shopify: httpx.Client) -> None:
    params = authorize_params(shop="nowhere.myshopify.com")
    assert shopify.get("/admin/oauth/authorize", params=params).status_code == 404


def test_reset_forgets_apps_and_issued_tokens(shopify: httpx.Client) -> None:
    token = exchange(shopify, callback_query(shopify)["code"]).json()["access_token"]
    assert shopify.post("/_sandbox/reset").status_code == 204
    shopify.post("/_sandbox/shops", json={"domain": SHOP, "access_token": SEEDED_TOKEN})
    called = shopify.post(
        GRAPHQL, json={"query": LOCATIONS}, headers={"X-Shopify-Access-Token": token}
    )
    assert called.status_code == 401
    answer = shopify.get("/admin/oauth/authorize", params=authorize_params())
    assert answer.status_code == 400
