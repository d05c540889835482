"""What a worker keeps per connection for its whole life (issue 7): one HTTP client and the
decrypted credentials, decrypted again only after a rotation; closed with the runtime."""

from __future__ import annotations

from pathlib import Path

import httpx

from returnbridge.connectors.shopify.connector import ShopifyConnector
from returnbridge.engine.runtime import close_runtime, open_runtime
from returnbridge.settings import Settings
from returnbridge.store.connections import create_connection, get_connection, update_connection
from returnbridge.store.tenants import create_tenant


def _token(connector: object) -> str:
    assert isinstance(connector, ShopifyConnector)
    return connector.client._http._headers["X-Shopify-Access-Token"]


def test_steps_share_one_http_client_and_see_rotated_credentials(tmp_path: Path) -> None:
    runtime = open_runtime(Settings(data_dir=tmp_path, log_level="ERROR"))
    try:
        with runtime.sessions.begin() as session:
            tenant, _ = create_tenant(session, "Shop")
            connection = create_connection(
                session, tenant.id, platform="shopify", name="main",
                base_url="http://127.0.0.1:9", credentials={"access_token": "shpat_one"},
                cipher=runtime.cipher,
            )  # fmt: skip
            first = runtime.connector(connection)
            second = runtime.connector(connection)
            http = runtime.connection_state[connection.id]["http"]
            assert isinstance(http, httpx.Client)
            assert isinstance(first, ShopifyConnector)
            assert isinstance(second, ShopifyConnector)
            assert first.client._http._http is http
            assert second.client._http._http is http
            first.close()  # a step closing its connector leaves the shared client open
            assert not http.is_closed
            assert _token(second) == "shpat_one"
            update_connection(
                session, connection.id, tenant_id=tenant.id, cipher=runtime.cipher,
                credentials={"access_token": "shpat_two"},
            )  # fmt: skip
            rotated = get_connection(session, connection.id, tenant_id=tenant.id)
            assert _token(runtime.connector(rotated)) == "shpat_two"
    finally:
        close_runtime()
    assert http.is_closed


def test_every_connections_client_shares_one_tls_context(tmp_path: Path) -> None:
    runtime = open_runtime(Settings(data_dir=tmp_path, log_level="ERROR"))
    try:
        with runtime.sessions.begin() as session:
            tenant, _ = create_tenant(session, "Shop")
            clients = []
            for name in ("main", "outlet"):
                connection = create_connection(
                    session, tenant.id, platform="shopify", name=name,
                    base_url="https://shop.example", credentials={"access_token": "shpat_x"},
                    cipher=runtime.cipher,
                )  # fmt: skip
                runtime.connector(connection)
                clients.append(runtime.connection_state[connection.id]["http"])
        assert clients[0] is not clients[1]
        # each pooled client records its calls around the HTTP transport that holds the context
        contexts = [client._transport.inner._pool._ssl_context for client in clients]
        assert contexts[0] is contexts[1] is runtime.tls_context()
    finally:
        close_runtime()
