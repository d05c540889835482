"""The connect flows end to end: a merchant's browser goes from our gateway to the platform's
sandbox and back, and the connection that results reads an order.

Real servers on loopback (gateway, Shopify and WooCommerce sandboxes), a real SQLite
database; the "browser" is an httpx client following redirects.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from returnbridge.api.app import create_app
from returnbridge.api.routes_connect import ConnectStates, new_state
from returnbridge.cli.servers import BackgroundServer, free_port
from returnbridge.engine.runtime import Runtime, close_runtime, open_runtime
from returnbridge.sandbox import shopify as shopify_sandbox
from returnbridge.sandbox import woocommerce as woocommerce_sandbox
from returnbridge.store.connections import connection_credentials, list_connections
from returnbridge.store.tenants import create_tenant
from support.gateway import Sandbox, gateway_settings, simple_order

pytestmark = pytest.mark.timeout(240)

CLIENT_ID = "rb-test-app"
CLIENT_SECRET = "rb-test-app-secret"
WOO_STORE = "connect.example"
WOO_SEEDED = ("ck_connect_seeded", "cs_connect_seeded")
CONNECTION_ID = re.compile(r"con_[0-9A-Za-z]+")


@pytest.fixture(scope="module")
def shopify_server() -> Iterator[shopify_sandbox.BackgroundServer]:
    with shopify_sandbox.BackgroundServer() as server:
        yield server


@pytest.fixture(scope="module")
def woo_server() -> Iterator[woocommerce_sandbox.BackgroundServer]:
    with woocommerce_sandbox.BackgroundServer() as server:
        yield server


@dataclass
class Gateway:
    url: str
    runtime: Runtime
    api: httpx.Client
    tenant_id: str

    def connections(self, platform: str) -> list[Any]:
        with self.runtime.reads() as session:
            return list_connections(session, self.tenant_id, platform=platform)

    def credentials(self, connection_id: str) -> dict[str, Any]:
        (connection,) = [
            c
            for p in ("shopify", "woocommerce")
            for c in self.connections(p)
            if c.id == connection_id
        ]
        return connection_credentials(connection, cipher=self.runtime.cipher)

    def get_order(self, connection_id: str, order_id: str) -> httpx.Response:
        return self.api.post(
            f"/v1/connections/{connection_id}/actions/get_order", json={"order_id": order_id}
        )


@pytest.fixture
def start_gateway(tmp_path: Path) -> Iterator[Callable[..., Gateway]]:
    """Starts the gateway (API only) on a port known beforehand, so its public URL is real."""
    started: list[tuple[BackgroundServer, httpx.Client]] = []

    def start(**overrides: Any) -> Gateway:
        port = free_port()
        settings = gateway_settings(
            f"sqlite:///{tmp_path / 'rb.db'}", tmp_path, port=port, **overrides
        )
        runtime = open_runtime(settings)
        server = BackgroundServer(create_app(runtime), port=port).start()
        with runtime.sessions.begin() as session:
            tenant, api_key = create_tenant(session, "Acme")
        api = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
        )
        started.append((server, api))
        assert settings.resolved_public_url == server.url
        return Gateway(server.url, runtime, api, tenant.id)

    yield start
    for server, api in started:
        api.close()
        server.stop()
    close_runtime()


@pytest.fixture
def gateway(start_gateway: Callable[..., Gateway]) -> Gateway:
    return start_gateway(shopify_app_client_id=CLIENT_ID, shopify_app_client_secret=CLIENT_SECRET)


@pytest.fixture
def shop(shopify_server: shopify_sandbox.BackgroundServer, gateway: Gateway) -> Iterator[Sandbox]:
    """A fresh shop with order #1001, and our app registered with the gateway's callback."""
    sandbox = Sandbox(shopify_server.url)
    sandbox.seed_order(simple_order(1001))
    app = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_urls": [f"{gateway.url}/v1/connect/shopify/callback"],
    }
    sandbox.http.post("/_sandbox/apps", json=app).raise_for_status()
    yield sandbox
    sandbox.close()


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=True, timeout=30) as client:
        yield client


def start_shopify(gateway: Gateway, shop: Sandbox, name: str = "main") -> str:
    answer = gateway.api.post(
        "/v1/connect/shopify", json={"shop": shop.domain, "name": name, "base_url": shop.url}
    )
    assert answer.status_code == 200, answer.text
    url: str = answer.json()["authorize_url"]
    return url


def signed(params: dict[str, str]) -> dict[str, str]:
    """Callback parameters signed as Shopify would (we hold the app's secret in this test)."""
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "hmac")
    digest = hmac.new(CLIENT_SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    return {**params, "hmac": digest}


# -- Shopify --------------------------------------------------------------------------------------


def test_shopify_install_creates_a_connection_that_reads_orders(
    gateway: Gateway, shop: Sandbox, browser: httpx.Client
) -> None:
    authorize = start_shopify(gateway, shop)
    assert authorize.startswith(f"{shop.url}/admin/oauth/authorize?")
    query = dict(parse_qsl(urlsplit(authorize).query))
    assert query["redirect_uri"] == f"{gateway.url}/v1/connect/shopify/callback"
    assert query["client_id"] == CLIENT_ID
    assert "read_orders" in query["scope"].split(",")
    page = browser.get(f"{authorize}&sandbox_decision=install")
    assert page.status_code == 200, page.text
    assert str(page.url).startswith(f"{gateway.url}/v1/connect/shopify/callback?")
    (connection_id,) = CONNECTION_ID.findall(page.text)
    (connection,) = gateway.connections("shopify")
    assert connection.id == connection_id
    assert connection.base_url == shop.url
    token = gateway.credentials(connection_id)["access_token"]
    assert token.startswith("shpat_")
    assert token != shop.token  # a token issued by the install, not the seeded one
    order = gateway.get_order(connection_id, "gid://shopify/Order/1001")
    assert order.status_code == 200, order.text
    assert order.json()["name"] == "#1001"


def test_a_replayed_shopify_callback_creates_nothing_more(
    gateway: Gateway, shop: Sandbox, browser: httpx.Client
) -> None:
    page = browser.get(f"{start_shopify(gateway, shop)}&sandbox_decision=install")
    assert page.status_code == 200
    again = browser.get(str(page.url))
    assert again.status_code == 502
    assert again.json()["code"] == "SHOPIFY_CODE_EXCHANGE_FAILED"
    assert len(gateway.connections("shopify")) == 1


def test_a_forged_shopify_hmac_is_refused(gateway: Gateway, shop: Sandbox) -> None:
    authorize = start_shopify(gateway, shop)
    with httpx.Client(timeout=30) as client:
        redirect = client.get(f"{authorize}&sandbox_decision=install")
        assert redirect.status_code == 302
        params = dict(parse_qsl(urlsplit(redirect.headers["location"]).query))
        forged = {**params, "hmac": "0" * 64}
        answer = client.get(f"{gateway.url}/v1/connect/shopify/callback", params=forged)
        assert answer.status_code == 400
        assert answer.json()["code"] == "INVALID_CALLBACK_SIGNATURE"
        other_shop = {**params, "shop": "other.myshopify.com"}  # hmac no longer matches
        answer = client.get(f"{gateway.url}/v1/connect/shopify/callback", params=other_shop)
        assert answer.json()["code"] == "INVALID_CALLBACK_SIGNATURE"
    assert gateway.connections("shopify") == []


def test_a_tampered_or_expired_shopify_state_is_refused(gateway: Gateway, shop: Sandbox) -> None:
    authorize = start_shopify(gateway, shop)
    state = dict(parse_qsl(urlsplit(authorize).query))["state"]
    callback = f"{gateway.url}/v1/connect/shopify/callback"
    base = {"code": "abc", "shop": shop.domain, "timestamp": str(int(time.time()))}
    tampered = state[:-2] + ("AA" if not state.endswith("AA") else "BB")
    answer = httpx.get(callback, params=signed({**base, "state": tampered}), timeout=30)
    assert answer.status_code == 400
    assert answer.json()["code"] == "INVALID_CONNECT_STATE"
    woo_state = ConnectStates(gateway.runtime.settings.resolved_secret_key).dump(
        new_state("woocommerce", tenant_id=gateway.tenant_id, store=shop.domain, name="main")
    )
    answer = httpx.get(callback, params=signed({**base, "state": woo_state}), timeout=30)
    assert answer.json()["code"] == "INVALID_CONNECT_STATE"
    eleven_minutes_ago = ConnectStates(
        gateway.runtime.settings.resolved_secret_key, clock=lambda: time.time() - 660
    )
    expired = eleven_minutes_ago.dump(
        new_state("shopify", tenant_id=gateway.tenant_id, store=shop.domain, name="main")
    )
    answer = httpx.get(callback, params=signed({**base, "state": expired}), timeout=30)
    assert answer.status_code == 400
    assert "expired" in answer.json()["detail"]
    assert gateway.connections("shopify") == []


def test_a_state_for_another_shop_is_refused(gateway: Gateway, shop: Sandbox) -> None:
    state = dict(parse_qsl(urlsplit(start_shopify(gateway, shop)).query))["state"]
    params = signed({"code": "abc", "shop": "else.myshopify.com", "state": state, "timestamp": "1"})
    answer = httpx.get(f"{gateway.url}/v1/connect/shopify/callback", params=params, timeout=30)
    assert answer.status_code == 400
    assert answer.json()["detail"] == "the state was made for another shop"


def test_connect_shopify_without_the_app_settings_says_what_to_set(
    start_gateway: Callable[..., Gateway],
) -> None:
    gateway = start_gateway()
    answer = gateway.api.post(
        "/v1/connect/shopify", json={"shop": "acme.myshopify.com", "name": "main"}
    )
    assert answer.status_code == 409
    body = answer.json()
    assert body["code"] == "SHOPIFY_APP_NOT_CONFIGURED"
    assert "RETURNBRIDGE_SHOPIFY_APP_CLIENT_ID" in body["detail"]
    assert "RETURNBRIDGE_SHOPIFY_APP_CLIENT_SECRET" in body["detail"]


def test_connect_shopify_refuses_a_shop_outside_myshopify_and_needs_a_key(
    gateway: Gateway,
) -> None:
    answer = gateway.api.post("/v1/connect/shopify", json={"shop": "evil.com", "name": "x"})
    assert answer.status_code == 422
    assert answer.json()["code"] == "INVALID_SHOP_DOMAIN"
    anonymous = httpx.post(
        f"{gateway.url}/v1/connect/shopify",
        json={"shop": "acme.myshopify.com", "name": "x"},
        timeout=30,
    )
    assert anonymous.status_code == 401


# -- WooCommerce ----------------------------------------------------------------------------------


@pytest.fixture
def woo_store(woo_server: woocommerce_sandbox.BackgroundServer) -> Iterator[tuple[str, int]]:
    """A reset WooCommerce sandbox with one store and one order: (site URL, order id)."""
    with httpx.Client(base_url=woo_server.url, timeout=30) as control:
        control.post("/_sandbox/reset").raise_for_status()
        store = {"name": WOO_STORE, "consumer_key": WOO_SEEDED[0], "consumer_secret": WOO_SEEDED[1]}
        control.post("/_sandbox/stores", json=store).raise_for_status()
        order = {
            "billing": {"email": "ann@example.com"},
            "line_items": [
                {"product_id": 7, "sku": "HAT", "name": "Hat", "quantity": 1, "price": "20.00"}
            ],
        }
        seeded = control.post(f"/_sandbox/stores/{WOO_STORE}/orders", json=order)
        seeded.raise_for_status()
        yield woo_server.url, int(seeded.json()["id"])


def start_woocommerce(gateway: Gateway, site: str, name: str = "woo") -> str:
    answer = gateway.api.post("/v1/connect/woocommerce", json={"store_url": site, "name": name})
    assert answer.status_code == 200, answer.text
    url: str = answer.json()["authorize_url"]
    return url


def test_woocommerce_key_delivery_creates_a_connection_that_reads_orders(
    gateway: Gateway, woo_store: tuple[str, int], browser: httpx.Client
) -> None:
    site, order_id = woo_store
    authorize = start_woocommerce(gateway, site)
    assert authorize.startswith(f"{site}/wc-auth/v1/authorize?")
    query = dict(parse_qsl(urlsplit(authorize).query))
    assert query["scope"] == "read_write"
    assert query["callback_url"] == f"{gateway.url}/v1/connect/woocommerce/callback"
    assert query["return_url"] == f"{gateway.url}/v1/connect/woocommerce/done"
    page = browser.get(f"{authorize}&sandbox_decision=approve")
    assert page.status_code == 200, page.text
    assert str(page.url).startswith(f"{gateway.url}/v1/connect/woocommerce/done?success=1")
    assert "WooCommerce store connected" in page.text
    (connection_id,) = CONNECTION_ID.findall(page.text)
    (connection,) = gateway.connections("woocommerce")
    assert connection.id == connection_id
    assert connection.base_url == site
    credentials = gateway.credentials(connection_id)
    assert credentials["consumer_key"].startswith("ck_")
    assert credentials["consumer_key"] != WOO_SEEDED[0]
    order = gateway.get_order(connection_id, str(order_id))
    assert order.status_code == 200, order.text
    assert order.json()["id"] == str(order_id)


def test_a_denied_woocommerce_key_connects_nothing(
    gateway: Gateway, woo_store: tuple[str, int], browser: httpx.Client
) -> None:
    site, _ = woo_store
    page = browser.get(f"{start_woocommerce(gateway, site)}&sandbox_decision=deny")
    assert page.status_code == 200
    assert "denied" in page.text
    assert gateway.connections("woocommerce") == []


def test_a_key_without_write_access_is_refused_and_the_site_deletes_it(
    gateway: Gateway, woo_store: tuple[str, int], browser: httpx.Client
) -> None:
    site, _ = woo_store
    read_only = start_woocommerce(gateway, site).replace("scope=read_write", "scope=read")
    page = browser.get(f"{read_only}&sandbox_decision=approve")
    assert page.status_code == 401  # the site's error page: our callback answered 400
    assert "unable to send the consumer data" in page.text
    assert gateway.connections("woocommerce") == []


def test_a_forged_or_expired_woocommerce_delivery_is_refused(
    gateway: Gateway, woo_store: tuple[str, int]
) -> None:
    site, _ = woo_store
    state = dict(parse_qsl(urlsplit(start_woocommerce(gateway, site)).query))["user_id"]
    key = {
        "key_id": 1,
        "consumer_key": WOO_SEEDED[0],
        "consumer_secret": WOO_SEEDED[1],
        "key_permissions": "read_write",
    }
    callback = f"{gateway.url}/v1/connect/woocommerce/callback"
    tampered = httpx.post(callback, json={**key, "user_id": state[:-3] + "xyz"}, timeout=30)
    assert tampered.status_code == 400
    assert tampered.json()["code"] == "INVALID_CONNECT_STATE"
    old = ConnectStates(
        gateway.runtime.settings.resolved_secret_key, clock=lambda: time.time() - 660
    ).dump(new_state("woocommerce", tenant_id=gateway.tenant_id, store=site, name="woo"))
    expired = httpx.post(callback, json={**key, "user_id": old}, timeout=30)
    assert expired.status_code == 400
    assert "expired" in expired.json()["detail"]
    wrong_secret = httpx.post(
        callback, json={**key, "user_id": state, "consumer_secret": "cs_wrong"}, timeout=30
    )
    assert wrong_secret.status_code == 502
    assert wrong_secret.json()["code"] == "CREDENTIALS_CHECK_FAILED"
    assert "cs_wrong" not in wrong_secret.text
    assert gateway.connections("woocommerce") == []
    done = httpx.get(
        f"{gateway.url}/v1/connect/woocommerce/done",
        params={"success": "1", "user_id": uuid.uuid4().hex},
        timeout=30,
    )
    assert done.status_code == 400


def test_connect_woocommerce_refuses_plain_http_off_loopback(gateway: Gateway) -> None:
    answer = gateway.api.post(
        "/v1/connect/woocommerce", json={"store_url": "http://shop.example.com", "name": "w"}
    )
    assert answer.status_code == 422
    assert answer.json()["field"] == "store_url"
    for broken in ("http://[::1", "https://shop.example.com:99999", "https://user:pw@shop.example"):
        answer = gateway.api.post(
            "/v1/connect/woocommerce", json={"store_url": broken, "name": "w"}
        )
        assert answer.status_code == 422, broken
    answer = gateway.api.post(
        "/v1/connect/woocommerce", json={"store_url": "shop.example.com", "name": "w"}
    )
    authorize = answer.json()["authorize_url"]
    assert authorize.startswith("https://shop.example.com/wc-auth/v1/authorize?")
    assert urlencode({"app_name": "returnbridge"}) in authorize
