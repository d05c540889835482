"""A live test call with a connection's credentials, before they are saved or on request."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import httpx

from returnbridge.connectors import registry
from returnbridge.connectors.base.connector import OrderQuery
from returnbridge.engine.actions.run import platform_errors
from returnbridge.engine.runtime import Runtime
from returnbridge.store.clock import utc_now

PROBE_EMAIL = "connection-check@returnbridge.invalid"
"""Searched for by a credentials check: no order has it (`.invalid` is reserved)."""


def verify_credentials(
    runtime: Runtime,
    platform: str,
    base_url: str,
    credentials: Mapping[str, Any],
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Read something small with these credentials; `ActionFailed` says why it failed.

    A store lists its locations and searches its orders; a returns system reads its returns
    changed in the last minute. The client is private to this call, so nothing is cached for
    unsaved credentials.
    """
    http = httpx.Client(timeout=runtime.settings.http_timeout, verify=runtime.tls_context())
    state: dict[str, Any] = {"http": http}
    timeout = runtime.settings.http_timeout
    try:
        with platform_errors():
            if registry.is_returns_system(platform):
                system = registry.build_returns_system(
                    platform, base_url, credentials, timeout=timeout, state=state, settings=settings
                )
                now = utc_now()
                system.changed_since(now - timedelta(minutes=1), now)
                return {"ok": True, "checked": "read the returns changed in the last minute"}
            connector = registry.build_connector(
                platform, base_url, credentials, timeout=timeout, state=state, settings=settings
            )
            locations = connector.list_locations()
            # Some platforms answer locations without a call (WooCommerce has one): a search
            # of the orders always reaches the platform with these credentials.
            connector.find_orders(OrderQuery(email=PROBE_EMAIL, limit=1))
            return {
                "ok": True,
                "checked": f"read {len(locations)} location(s) and searched the orders",
            }
    finally:
        http.close()
