"""WooCommerce webhook deliveries: signature verification and the `X-WC-Webhook-*` headers.

WooCommerce signs the raw request body with the webhook's secret: `X-WC-Webhook-Signature` is
the base64 HMAC-SHA256 digest. Verify on the exact bytes received, before any JSON parsing.
Several secrets may be given (a rotation). The creation ping (form-encoded `webhook_id=...`)
carries no signature and fails verification, as it should.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from returnbridge.connectors.base.signing import (
    header,
    hmac_sha256_base64,
    verify_hmac_sha256_base64,
)
from returnbridge.domain.errors import AuthError, DomainError

SIGNATURE_HEADER = "X-WC-Webhook-Signature"


def signature(body: bytes, secret: str) -> str:
    """The `X-WC-Webhook-Signature` value the platform would send for `body`."""
    return hmac_sha256_base64(body, secret)


def verify_signature(body: bytes, header: str | None, secrets: str | Iterable[str]) -> bool:
    """True when `header` is the signature of `body` under one of `secrets` (constant time)."""
    return verify_hmac_sha256_base64(body, header, secrets)


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """What the headers of one delivery say (the body is the resource's JSON)."""

    topic: str
    resource: str
    event: str
    source: str | None = None
    webhook_id: str | None = None
    delivery_id: str | None = None

    @property
    def dedupe_key(self) -> str | None:
        """The same for a delivery re-sent by hand from the admin: webhook and delivery id."""
        if self.webhook_id and self.delivery_id:
            return f"{self.webhook_id}:{self.delivery_id}"
        return None


def parse_headers(headers: Mapping[str, str]) -> WebhookDelivery:
    """Topic, resource, event, source and ids; `DomainError` without a topic."""
    topic = header(headers, "X-WC-Webhook-Topic")
    if not topic:
        raise DomainError("INVALID_WEBHOOK", "missing X-WC-Webhook-Topic header")
    resource, _, event = topic.partition(".")
    return WebhookDelivery(
        topic=topic,
        resource=header(headers, "X-WC-Webhook-Resource") or resource,
        event=header(headers, "X-WC-Webhook-Event") or event,
        source=header(headers, "X-WC-Webhook-Source"),
        webhook_id=header(headers, "X-WC-Webhook-ID"),
        delivery_id=header(headers, "X-WC-Webhook-Delivery-ID"),
    )


def verify_delivery(
    body: bytes, headers: Mapping[str, str], secrets: str | Iterable[str]
) -> WebhookDelivery:
    """Verify the signature, then parse the headers; `AuthError` on a bad or missing one."""
    if not verify_signature(body, header(headers, SIGNATURE_HEADER), secrets):
        raise AuthError("INVALID_SIGNATURE", "webhook signature does not match")
    return parse_headers(headers)
