"""Shopify webhook deliveries: HMAC verification and the metadata headers.

Shopify signs the raw request body with the app's client secret: `X-Shopify-Hmac-Sha256` is the
base64 HMAC-SHA256 digest. Verify on the exact bytes received, before any JSON parsing. During a
secret rotation Shopify may keep signing with the old secret for a while, so several secrets
may be given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from returnbridge.connectors.base.signing import (
    header,
    hmac_sha256_base64,
    verify_hmac_sha256_base64,
)
from returnbridge.domain.errors import AuthError, DomainError

HMAC_HEADER = "X-Shopify-Hmac-Sha256"


def signature(body: bytes, secret: str) -> str:
    """The `X-Shopify-Hmac-Sha256` value the platform would send for `body`."""
    return hmac_sha256_base64(body, secret)


def verify_signature(body: bytes, header: str | None, secrets: str | Iterable[str]) -> bool:
    """True when `header` is the signature of `body` under one of `secrets` (constant time)."""
    return verify_hmac_sha256_base64(body, header, secrets)


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """What the headers of one delivery say (the body is the topic's resource JSON)."""

    topic: str
    shop_domain: str
    webhook_id: str | None = None
    event_id: str | None = None
    api_version: str | None = None
    triggered_at: datetime | None = None

    @property
    def dedupe_key(self) -> str | None:
        """Same for every retry of one event: the event id, else the delivery id."""
        return self.event_id or self.webhook_id


def parse_headers(headers: Mapping[str, str]) -> WebhookDelivery:
    """Read topic, shop and delivery ids; `DomainError` when topic or shop is missing."""
    topic = header(headers, "X-Shopify-Topic")
    shop_domain = header(headers, "X-Shopify-Shop-Domain")
    if not topic or not shop_domain:
        raise DomainError(
            "INVALID_WEBHOOK", "missing X-Shopify-Topic or X-Shopify-Shop-Domain header"
        )
    triggered = header(headers, "X-Shopify-Triggered-At")
    try:
        triggered_at = (
            datetime.fromisoformat(triggered.replace("Z", "+00:00")) if triggered else None
        )
    except ValueError:
        triggered_at = None
    return WebhookDelivery(
        topic=topic,
        shop_domain=shop_domain.lower(),
        webhook_id=header(headers, "X-Shopify-Webhook-Id"),
        event_id=header(headers, "X-Shopify-Event-Id"),
        api_version=header(headers, "X-Shopify-API-Version"),
        triggered_at=triggered_at,
    )


def verify_delivery(
    body: bytes, headers: Mapping[str, str], secrets: str | Iterable[str]
) -> WebhookDelivery:
    """Verify the signature, then parse the headers; `AuthError` on a bad or missing signature."""
    if not verify_signature(body, header(headers, HMAC_HEADER), secrets):
        raise AuthError("INVALID_SIGNATURE", "webhook signature does not match")
    return parse_headers(headers)
