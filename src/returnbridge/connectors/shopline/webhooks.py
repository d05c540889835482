"""SHOPLINE webhook deliveries: `X-Shopline-Hmac-Sha256` and the `X-Shopline-*` headers.

SHOPLINE signs the exact raw body with the app secret (HMAC-SHA256). The official Go SDK
compares the lowercase hex digest; SHOPLINE's own pages and third-party code also show base64,
so both encodings are accepted. Verify the bytes received, before any JSON parsing, in
constant time; several secrets may be given (a rotation). `X-Shopline-Webhook-Id` is the same
on every retry of one message: the key to drop repeats by.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from returnbridge.connectors.base.signing import header, hmac_sha256_base64
from returnbridge.domain.errors import AuthError, DomainError

SIGNATURE_HEADER = "X-Shopline-Hmac-Sha256"
TOPIC_HEADER = "X-Shopline-Topic"
WEBHOOK_ID_HEADER = "X-Shopline-Webhook-Id"
REFUND_TOPICS = frozenset({"refunds/create", "refunds/update"})
RETURN_TOPICS = frozenset({"return/create", "return/update"})


def signature_hex(body: bytes, secret: str) -> str:
    """The lowercase hex signature SHOPLINE sends for `body` (the SDK's encoding)."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_base64(body: bytes, secret: str) -> str:
    """The same digest in base64 (the other encoding SHOPLINE's pages show)."""
    return hmac_sha256_base64(body, secret)


def verify_signature(body: bytes, received: str | None, secrets: str | Iterable[str]) -> bool:
    """True when `received` is the hex or base64 signature of `body` under one of `secrets`.

    Every candidate is compared, so timing does not tell which secret or encoding matched.
    Hex is compared case-insensitively (it encodes the same bytes); base64 exactly.
    """
    if not received:
        return False
    text = received.strip()
    candidates = [secrets] if isinstance(secrets, str) else list(secrets)
    as_hex = text.lower().encode("ascii", errors="replace")
    as_base64 = text.encode("ascii", errors="replace")
    valid = False
    for secret in candidates:
        if not secret:
            continue
        valid |= hmac.compare_digest(signature_hex(body, secret).encode("ascii"), as_hex)
        valid |= hmac.compare_digest(signature_base64(body, secret).encode("ascii"), as_base64)
    return valid


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """What the headers of one delivery say (the body is the resource's JSON)."""

    topic: str
    webhook_id: str | None = None
    shop_domain: str | None = None
    shop_id: str | None = None
    merchant_id: str | None = None
    api_version: str | None = None

    @property
    def dedupe_key(self) -> str | None:
        """Unchanged on SHOPLINE's retries of one message."""
        return self.webhook_id

    @property
    def is_refund(self) -> bool:
        return self.topic in REFUND_TOPICS

    @property
    def is_return(self) -> bool:
        return self.topic in RETURN_TOPICS


def parse_headers(headers: Mapping[str, str]) -> WebhookDelivery:
    """Topic, ids, shop and API version; `DomainError` without a topic."""
    topic = header(headers, TOPIC_HEADER)
    if not topic:
        raise DomainError("INVALID_WEBHOOK", f"missing {TOPIC_HEADER} header")
    return WebhookDelivery(
        topic=topic,
        webhook_id=header(headers, WEBHOOK_ID_HEADER),
        shop_domain=header(headers, "X-Shopline-Shop-Domain"),
        shop_id=header(headers, "X-Shopline-Shop-Id"),
        merchant_id=header(headers, "X-Shopline-Merchant-Id"),
        api_version=header(headers, "X-Shopline-API-Version"),
    )


def verify_delivery(
    body: bytes, headers: Mapping[str, str], secrets: str | Iterable[str]
) -> WebhookDelivery:
    """Verify the signature, then parse the headers; `AuthError` on a bad or missing one."""
    if not verify_signature(body, header(headers, SIGNATURE_HEADER), secrets):
        raise AuthError("INVALID_SIGNATURE", "SHOPLINE webhook signature does not match")
    return parse_headers(headers)
