"""Webhook deliveries as SHOPLINE signs them: HMAC-SHA256 of the raw body with the app secret.

The official SDK compares the ``X-Shopline-Hmac-Sha256`` header with the lowercase hex digest;
some integrations expect base64, so a store may be set to sign in base64 instead. Deliveries
are recorded on the store for the control surface; nothing is sent over the network.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from returnbridge.sandbox.shopline.state import PINNED_VERSION, SignatureEncoding, Store

REFUND_CREATED = "refunds/create"
RETURN_CREATED = "return/create"
RETURN_UPDATED = "return/update"


def sign(secret: str, body: bytes, *, encoding: SignatureEncoding = "hex") -> str:
    """The ``X-Shopline-Hmac-Sha256`` value for a body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256)
    if encoding == "base64":
        return base64.b64encode(digest.digest()).decode("ascii")
    return digest.hexdigest()


def deliver(
    store: Store, topic: str, payload: dict[str, Any], *, webhook_id: str
) -> dict[str, Any]:
    """Record one signed delivery of ``topic`` on the store (the caller holds the lock)."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    delivery = {
        "topic": topic,
        "headers": {
            "Content-Type": "application/json",
            "X-Shopline-Topic": topic,
            "X-Shopline-Hmac-Sha256": sign(
                store.app_secret, body, encoding=store.signature_encoding
            ),
            "X-Shopline-Shop-Domain": store.domain,
            "X-Shopline-Shop-Id": store.store_id,
            "X-Shopline-Merchant-Id": store.merchant_id,
            "X-Shopline-API-Version": PINNED_VERSION,
            "X-Shopline-Webhook-Id": webhook_id,
        },
        "body": body.decode(),
    }
    store.deliveries.append(delivery)
    return delivery
