"""A whole gateway in the test process: runtime, DBOS worker and API on loopback.

Nothing is mocked: the API is served by uvicorn, workflows run in DBOS on the test's database
(SQLite file or PostgreSQL) and talk HTTP to a real Shopify sandbox server.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from returnbridge.api.app import create_app
from returnbridge.cli.servers import BackgroundServer
from returnbridge.engine.launch import launch_dbos, shutdown_dbos
from returnbridge.engine.runtime import Runtime, close_runtime, open_runtime
from returnbridge.settings import Settings
from returnbridge.store.connections import create_connection
from returnbridge.store.crypto import CredentialCipher
from returnbridge.store.tables import Tenant
from returnbridge.store.tenants import create_tenant

RESTING = {"completed", "needs_review", "failed", "cancelled"}


def gateway_settings(db_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a gateway on `db_url`; the DBOS system database sits beside it."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": db_url,
        "queue_polling_interval": 0.05,
        # Long enough that a loaded 2-core machine never times out a normal call (a retried
        # call would change the calls the tests count); fault tests delay longer than this.
        "http_timeout": 5.0,
        "log_level": "WARNING",
    }
    if make_url(db_url).get_backend_name() == "sqlite":
        values["system_database_url"] = f"sqlite:///{data_dir / 'dbos.sqlite'}"
    values.update(overrides)
    return Settings(**values)


class Sandbox:
    """The control surface of a running Shopify sandbox, for one shop."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.domain = f"shop-{uuid.uuid4().hex[:8]}.myshopify.com"
        self.token = f"shpat_{uuid.uuid4().hex}"
        self.http = httpx.Client(base_url=url, timeout=10)
        self.http.post(
            "/_sandbox/shops",
            json={
                "domain": self.domain,
                "access_token": self.token,
                "currency": "USD",
                "locations": [
                    {"id": 1, "name": "Main warehouse", "active": True},
                    {"id": 2, "name": "Returns center", "active": True},
                ],
            },
        ).raise_for_status()

    def seed_order(self, order: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(f"/_sandbox/shops/{self.domain}/orders", json=order)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def order(self, order_id: int) -> dict[str, Any]:
        body: dict[str, Any] = self.http.get(
            f"/_sandbox/shops/{self.domain}/orders/{order_id}"
        ).json()
        return body

    def inventory(self) -> dict[str, dict[str, int]]:
        body: dict[str, dict[str, int]] = self.http.get(
            f"/_sandbox/shops/{self.domain}/inventory"
        ).json()
        return body

    def fault(self, kind: str, *, count: int = 1, **options: Any) -> None:
        payload = {"kind": kind, "count": count, "shop": self.domain, **options}
        self.http.post("/_sandbox/faults", json=payload).raise_for_status()

    def journal(self, operation: str | None = None) -> list[dict[str, Any]]:
        params = {"shop": self.domain} | ({"operation": operation} if operation else {})
        body: list[dict[str, Any]] = self.http.get("/_sandbox/journal", params=params).json()
        return body

    def refunds_created(self) -> list[dict[str, Any]]:
        return [e for e in self.journal("refundCreate") if e.get("effect") == "refund_created"]

    def pending_faults(self) -> list[dict[str, Any]]:
        """Faults queued for this shop and not yet used up."""
        body: list[dict[str, Any]] = self.http.get("/_sandbox/faults").json()
        return [f for f in body if f["shop"] == self.domain]

    def close(self) -> None:
        self.http.close()


def simple_order(order_id: int, *, email: str = "jane@example.com", **extra: Any) -> dict[str, Any]:
    """Two taxed mugs with a line discount, plus taxed shipping."""
    order: dict[str, Any] = {
        "id": order_id,
        "name": f"#{order_id}",
        "email": email,
        "line_items": [
            {
                "sku": "MUG-WHT",
                "title": "White mug",
                "quantity": 3,
                "price": "12.00",
                "tax_lines": [{"title": "State tax", "rate": "0.05", "price": "1.55"}],
                "discount_allocations": [{"amount": "5.00", "code": "MUGS5"}],
            }
        ],
        "shipping_lines": [
            {
                "title": "Standard",
                "price": "5.99",
                "tax_lines": [{"title": "State tax", "rate": "0.05", "price": "0.30"}],
            }
        ],
    }
    order.update(extra)
    return order


def connect_tenant(
    session: Session, cipher: CredentialCipher, sandbox: Sandbox
) -> tuple[Tenant, str, str]:
    """Tenant "Acme" with a Shopify connection to the sandbox shop (restocking to location 2);
    (tenant, its API key, the connection id), in the caller's transaction."""
    tenant, api_key = create_tenant(session, "Acme")
    connection = create_connection(
        session,
        tenant.id,
        platform="shopify",
        name="main",
        base_url=sandbox.url,
        credentials={"access_token": sandbox.token},
        cipher=cipher,
        settings={"restock_location_id": "gid://shopify/Location/2"},
    )
    return tenant, api_key, connection.id


class Gateway:
    """API + worker in this process, with one tenant connected to a sandbox shop."""

    def __init__(self, settings: Settings, sandbox: Sandbox) -> None:
        self.settings = settings
        self.sandbox = sandbox
        self.runtime: Runtime = open_runtime(settings)
        launch_dbos(settings, work=True)
        self.server = BackgroundServer(create_app(self.runtime)).start()
        with self.runtime.sessions.begin() as session:
            tenant, api_key, connection_id = connect_tenant(session, self.runtime.cipher, sandbox)
        self.tenant_id = tenant.id
        self.connection_id = connection_id
        self.api = httpx.Client(
            base_url=self.server.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
        )

    def post_return(self, event: dict[str, Any], *, key: str | None = None) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key else {}
        return self.api.post("/v1/returns", json=event, headers=headers)

    def wait_for(self, return_id: str, *, timeout: float = 60.0) -> dict[str, Any]:
        """Poll the API until the return rests; its body with timeline."""
        deadline = time.monotonic() + timeout
        while True:
            body: dict[str, Any] = self.api.get(f"/v1/returns/{return_id}").json()
            if body["status"] in RESTING:
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"return {return_id} still {body['status']} after {timeout}s")
            time.sleep(0.05)

    def wait_for_status(
        self, return_id: str, status: str, *, timeout: float = 60.0
    ) -> dict[str, Any]:
        """Poll until the return has `status` (for returns that pass through resting states)."""
        deadline = time.monotonic() + timeout
        while True:
            body: dict[str, Any] = self.api.get(f"/v1/returns/{return_id}").json()
            if body["status"] == status:
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"return {return_id} still {body['status']}, not {status}")
            time.sleep(0.05)

    def close(self) -> None:
        self.api.close()
        self.server.stop()
        shutdown_dbos()
        close_runtime()
