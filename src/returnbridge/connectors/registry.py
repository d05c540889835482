"""Which connector serves which platform: built from a stored connection's fields.

The engine asks here and never names a platform; each platform's package provides its
factory (`connector.from_connection`) and, optionally, one-off work for a worker's start.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from returnbridge.connectors.base.connector import Capability, OrderConnector
from returnbridge.connectors.base.returns_system import ReturnsSystem
from returnbridge.connectors.bigcommerce import connector as bigcommerce_connector
from returnbridge.connectors.loop import connector as loop_connector
from returnbridge.connectors.shopify import client as shopify_client
from returnbridge.connectors.shopify import connector as shopify_connector
from returnbridge.connectors.shopline import connector as shopline_connector
from returnbridge.connectors.woocommerce import connector as woocommerce_connector
from returnbridge.domain.errors import DomainError, PermanentError

ConnectorFactory = Callable[
    [str, Mapping[str, Any], float, dict[str, Any], Mapping[str, Any]], OrderConnector
]
"""(base_url, credentials, timeout, state, settings) -> connector; `state` lives as long as the
process and is private to one connection: the place for its rate limiter and its HTTP client
(`state["http"]`, pooled, closed by the runtime), shared by every step. `settings` are the
connection's non-secret options (for example WooCommerce's `api_refund`)."""

FACTORIES: dict[str, ConnectorFactory] = {
    "bigcommerce": bigcommerce_connector.from_connection,
    "shopify": shopify_connector.from_connection,
    "shopline": shopline_connector.from_connection,
    "woocommerce": woocommerce_connector.from_connection,
}
CAPABILITIES: dict[str, frozenset[Capability]] = {
    "bigcommerce": bigcommerce_connector.BigCommerceConnector.capabilities,
    "shopify": shopify_connector.ShopifyConnector.capabilities,
    "shopline": shopline_connector.ShoplineConnector.capabilities,
    "woocommerce": woocommerce_connector.WooCommerceConnector.capabilities,
}
"""What each platform's connector can do, known without building one."""
ReturnsSystemFactory = Callable[
    [str, Mapping[str, Any], float, dict[str, Any], Mapping[str, Any]], ReturnsSystem
]
RETURNS_SYSTEMS: dict[str, ReturnsSystemFactory] = {"loop": loop_connector.from_connection}
"""Returns systems (the merchant's system of record for returns), by platform."""
WARM_UPS: dict[str, Callable[[], None]] = {"shopify": shopify_client.warm_up}
"""Per platform: one-off work (parsing its documents) a worker does at start, so that its
first returns do not pay for it."""


@dataclass(frozen=True, slots=True)
class CredentialField:
    """One credential a platform's connection needs; secrets are prompted without echo."""

    name: str
    label: str
    secret: bool = True


CREDENTIALS: dict[str, tuple[CredentialField, ...]] = {
    "shopify": (CredentialField("access_token", "Admin API access token (shpat_...)"),),
    "woocommerce": (
        CredentialField("consumer_key", "REST API consumer key (ck_...)"),
        CredentialField("consumer_secret", "REST API consumer secret (cs_...)"),
    ),
    "bigcommerce": (
        CredentialField("store_hash", "store hash (from the API path /stores/{hash})", False),
        CredentialField("access_token", "API account access token"),
    ),
    "shopline": (CredentialField("access_token", "Open API access token (app or private app)"),),
    "loop": (CredentialField("api_key", "Loop API key (X-Authorization)"),),
}
"""What `connections add` asks for, and what a new connection must carry, per platform."""


def credential_fields(platform: str) -> tuple[CredentialField, ...]:
    return CREDENTIALS.get(platform, ())


def require_credentials(platform: str, credentials: Mapping[str, Any]) -> None:
    """Refuse a connection without its platform's credentials (never echoing their values)."""
    missing = [
        f.name
        for f in credential_fields(platform)
        if not isinstance(credentials.get(f.name), str) or not credentials[f.name].strip()
    ]
    if missing:
        raise DomainError(
            "MISSING_CREDENTIALS",
            f"a {platform} connection needs credentials {', '.join(missing)}",
            field="credentials",
        )


def capabilities(platform: str) -> frozenset[Capability]:
    """The capabilities of `platform`'s connector; none for an unknown platform."""
    return CAPABILITIES.get(platform, frozenset())


def platforms() -> list[str]:
    """The platforms a connection may name (stores and returns systems), sorted."""
    return sorted({*FACTORIES, *RETURNS_SYSTEMS})


def is_returns_system(platform: str) -> bool:
    return platform in RETURNS_SYSTEMS


def warm_up() -> None:
    for prepare in WARM_UPS.values():
        prepare()


def require_supported(platform: str) -> None:
    """Refuse, at creation time, a connection no connector can serve yet."""
    if platform not in FACTORIES and platform not in RETURNS_SYSTEMS:
        raise DomainError(
            "UNSUPPORTED_PLATFORM",
            f"no connector for platform {platform!r} yet; supported: {platforms()}",
            field="platform",
        )


def build_connector(
    platform: str,
    base_url: str,
    credentials: Mapping[str, Any],
    *,
    timeout: float,
    state: dict[str, Any],
    settings: Mapping[str, Any] | None = None,
) -> OrderConnector:
    """A connector for `platform`; unknown platforms are a permanent error."""
    factory = FACTORIES.get(platform)
    if factory is None:
        raise PermanentError("UNSUPPORTED_PLATFORM", f"no connector for platform {platform!r} yet")
    return factory(base_url, credentials, timeout, state, settings or {})


def build_returns_system(
    platform: str,
    base_url: str,
    credentials: Mapping[str, Any],
    *,
    timeout: float,
    state: dict[str, Any],
    settings: Mapping[str, Any] | None = None,
) -> ReturnsSystem:
    """A client of `platform`'s returns system; unknown ones are a permanent error."""
    factory = RETURNS_SYSTEMS.get(platform)
    if factory is None:
        raise PermanentError(
            "NOT_A_RETURNS_SYSTEM", f"connection platform {platform!r} is not a returns system"
        )
    return factory(base_url, credentials, timeout, state, settings or {})
