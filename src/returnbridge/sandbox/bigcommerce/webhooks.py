"""Webhook deliveries, signed per Standard Webhooks as BigCommerce signs them.

Each event is recorded on the store (scope, headers, exact body) for the control surface to
read; nothing is sent over the network. The body is the "light" payload (``scope``,
``store_id``, ``data``, ``hash``, ``created_at``, ``producer``). The signature header is
``v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`` keyed with the app's
client secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

from returnbridge.sandbox.bigcommerce.state import Store

REFUND_CREATED = "store/order/refund/created"


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one delivery."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def deliver(store: Store, scope: str, data: dict[str, Any], *, now: float) -> dict[str, Any]:
    """Record one signed delivery of ``scope`` on the store (the caller holds the lock)."""
    created_at = int(now)
    payload = {
        "created_at": created_at,
        "store_id": store.store_id,
        "producer": f"stores/{store.store_hash}",
        "scope": scope,
        "data": data,
    }
    payload["hash"] = hashlib.sha1(  # noqa: S324 - a dedupe fingerprint, as BigCommerce sends
        json.dumps(payload, sort_keys=True).encode()
    ).hexdigest()
    body = json.dumps(payload, separators=(",", ":")).encode()
    message_id = f"msg_{uuid.uuid4().hex}"
    delivery = {
        "scope": scope,
        "headers": {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(created_at),
            "webhook-signature": sign(store.client_secret, message_id, created_at, body),
        },
        "body": body.decode(),
    }
    store.deliveries.append(delivery)
    return delivery


def refund_created(store: Store, *, order_id: int, refund_id: int, now: float) -> None:
    """``store/order/refund/created`` for a refund just made."""
    deliver(
        store,
        REFUND_CREATED,
        {"type": "order", "id": order_id, "refund": {"refund_id": refund_id}},
        now=now,
    )
