"""A gateway (API on loopback, DBOS worker on SQLite) beside one platform's sandbox.

For tests that need several merchants with different connection settings on the same sandbox
store: `Gateway.merchant` makes a tenant with one connection, `settle` posts a return and waits
until it rests.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from returnbridge.api.app import create_app
from returnbridge.cli.sandboxes import build_app
from returnbridge.cli.servers import BackgroundServer
from returnbridge.engine.launch import launch_dbos, shutdown_dbos
from returnbridge.engine.runtime import Runtime, close_runtime, open_runtime
from returnbridge.store.connections import create_connection
from returnbridge.store.tenants import create_tenant
from support.gateway import RESTING, gateway_settings


@dataclass
class Gateway:
    """The running gateway and the sandbox its merchants connect to."""

    runtime: Runtime
    url: str
    platform: str
    sandbox_url: str

    def control(self) -> httpx.Client:
        """The sandbox's control surface (`/_sandbox/...`)."""
        return httpx.Client(base_url=self.sandbox_url, timeout=10)

    def merchant(
        self, credentials: dict[str, str], *, base_path: str = "", **settings: Any
    ) -> httpx.Client:
        """A new tenant with one connection to the sandbox store; its API client."""
        with self.runtime.sessions.begin() as session:
            tenant, key = create_tenant(session, f"{self.platform} {sorted(settings.items())}")
            create_connection(
                session,
                tenant.id,
                platform=self.platform,
                name=self.platform,
                base_url=self.sandbox_url + base_path,
                credentials=credentials,
                cipher=self.runtime.cipher,
                settings=settings,
            )
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"})


@contextmanager
def running_gateway(platform: str, data_dir: Path) -> Iterator[Gateway]:
    """The platform's sandbox and a gateway on a fresh SQLite file in `data_dir`."""
    sandbox = BackgroundServer(build_app(platform)).start()
    settings = gateway_settings(f"sqlite:///{data_dir / 'rb.db'}", data_dir, http_timeout=5.0)
    runtime = open_runtime(settings)
    launch_dbos(settings, work=True)
    api = BackgroundServer(create_app(runtime)).start()
    try:
        yield Gateway(runtime, api.url, platform, sandbox.url)
    finally:
        api.stop()
        shutdown_dbos()
        close_runtime()
        sandbox.stop()


def settle(api: httpx.Client, event: dict[str, Any], timeout: float = 90.0) -> dict[str, Any]:
    """Post the return `event` and wait until it rests; its final representation."""
    response = api.post("/v1/returns", json=event)
    assert response.status_code == 202, response.text
    return_id = response.json()["return"]["id"]
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = api.get(f"/v1/returns/{return_id}").json()
        if body["status"] in RESTING:
            return body
        assert time.monotonic() < deadline, f"return still {body['status']}"
        time.sleep(0.05)
