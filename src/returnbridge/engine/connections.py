"""Building a platform connector for a stored connection (one factory per platform)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

from returnbridge.connectors.base.connector import OrderConnector
from returnbridge.connectors.base.limits import CostLimiter
from returnbridge.connectors.shopify import client as shopify_client
from returnbridge.connectors.shopify.connector import ShopifyConnector
from returnbridge.domain.errors import DomainError, PermanentError

ConnectorFactory = Callable[[str, Mapping[str, Any], float, dict[str, Any]], OrderConnector]
"""(base_url, credentials, timeout, state) -> connector; `state` lives as long as the process
and is private to one connection: the place for its rate limiter and its HTTP client
(`state["http"]`, pooled, closed by the runtime), shared by every step."""


def _shopify(
    base_url: str, credentials: Mapping[str, Any], timeout: float, state: dict[str, Any]
) -> OrderConnector:
    token = credentials.get("access_token")
    if not isinstance(token, str) or not token:
        raise PermanentError("MISSING_CREDENTIALS", "shopify connection has no access_token")
    limiter = state.get("limiter")
    if limiter is None:  # the first step of this connection; setdefault: one limiter wins
        limiter = state.setdefault("limiter", CostLimiter())
    http = state.get("http")
    return ShopifyConnector(
        base_url,
        token,
        timeout=timeout,
        limiter=limiter,
        http=http if isinstance(http, httpx.Client) else None,
        hints=state.setdefault("hints", {}),
    )


FACTORIES: dict[str, ConnectorFactory] = {"shopify": _shopify}
WARM_UPS: dict[str, Callable[[], None]] = {"shopify": shopify_client.warm_up}
"""Per platform: one-off work (parsing its documents) a worker does at start, so that its
first returns do not pay for it."""


def warm_up() -> None:
    for prepare in WARM_UPS.values():
        prepare()


def require_supported(platform: str) -> None:
    """Refuse, at creation time, a connection no connector can serve yet."""
    if platform not in FACTORIES:
        raise DomainError(
            "UNSUPPORTED_PLATFORM",
            f"no connector for platform {platform!r} yet; supported: {sorted(FACTORIES)}",
            field="platform",
        )


def build_connector(
    platform: str,
    base_url: str,
    credentials: Mapping[str, Any],
    *,
    timeout: float,
    state: dict[str, Any],
) -> OrderConnector:
    """A connector for `platform`; unknown platforms are a permanent error."""
    factory = FACTORIES.get(platform)
    if factory is None:
        raise PermanentError("UNSUPPORTED_PLATFORM", f"no connector for platform {platform!r} yet")
    return factory(base_url, credentials, timeout, state)
