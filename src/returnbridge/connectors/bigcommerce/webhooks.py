"""BigCommerce webhook deliveries: Standard Webhooks signatures and the light payload.

A delivery carries `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`:
space-separated `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` entries, keyed with the
app's client secret. Verify the exact bytes received, in constant time, and refuse timestamps
outside a tolerance (replays). Several secrets may be given while one is rotated. The body is
light (`scope`, `store_id`, `data`, `hash`, `created_at`, `producer`): fetch the objects.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from returnbridge.connectors.base.signing import header
from returnbridge.domain.errors import AuthError, DomainError

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret


def _key(secret: str) -> bytes:
    """The HMAC key: a `whsec_` secret is base64 of the key; the client secret is the key."""
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except binascii.Error:
            pass
    return secret.encode("utf-8")


def sign(body: bytes, *, message_id: str, timestamp: int, secret: str) -> str:
    """The `webhook-signature` value for a delivery."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify_signature(
    body: bytes,
    headers: Mapping[str, str],
    secrets: str | Iterable[str],
    *,
    tolerance: float = TOLERANCE_SECONDS,
    now: Callable[[], float] = time.time,
) -> bool:
    """True when a `v1` signature of the headers is valid under one of `secrets` and the
    timestamp is within `tolerance` seconds of `now()`."""
    message_id = header(headers, ID_HEADER)
    stamp = header(headers, TIMESTAMP_HEADER)
    received = header(headers, SIGNATURE_HEADER)
    if not message_id or not stamp or not received or not stamp.isdigit():
        return False
    timestamp = int(stamp)
    if abs(now() - timestamp) > tolerance:
        return False
    candidates = [secrets] if isinstance(secrets, str) else list(secrets)
    offered = [
        entry.encode("ascii", errors="replace")
        for entry in received.split()
        if entry.startswith("v1,")
    ]
    valid = False
    for secret in candidates:
        if not secret:
            continue
        expected = sign(body, message_id=message_id, timestamp=timestamp, secret=secret)
        for entry in offered:
            # Every pair is compared so timing does not tell which secret matched.
            valid |= hmac.compare_digest(expected.encode("ascii"), entry)
    return valid


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One verified delivery: its scope (topic), store and the resource it names."""

    message_id: str
    scope: str
    store_id: str | None
    data: Mapping[str, Any]
    hash: str | None = None

    @property
    def order_id(self) -> str | None:
        """The order a `store/order/...` delivery is about."""
        if self.data.get("type") == "order" and self.data.get("id") is not None:
            return str(self.data["id"])
        return None

    @property
    def refund_id(self) -> str | None:
        refund = self.data.get("refund")
        if isinstance(refund, Mapping) and refund.get("refund_id") is not None:
            return str(refund["refund_id"])
        return None


def verify_delivery(
    body: bytes,
    headers: Mapping[str, str],
    secrets: str | Iterable[str],
    *,
    tolerance: float = TOLERANCE_SECONDS,
    now: Callable[[], float] = time.time,
) -> WebhookDelivery:
    """Verify, then parse; `AuthError` on a bad, missing or stale signature."""
    if not verify_signature(body, headers, secrets, tolerance=tolerance, now=now):
        raise AuthError("INVALID_SIGNATURE", "webhook signature does not match or is stale")
    try:
        payload = json.loads(body)
    except ValueError:
        raise DomainError("INVALID_WEBHOOK", "webhook body is not JSON") from None
    if not isinstance(payload, Mapping) or not isinstance(payload.get("scope"), str):
        raise DomainError("INVALID_WEBHOOK", "webhook body has no scope")
    data = payload.get("data")
    store_id = payload.get("store_id")
    return WebhookDelivery(
        message_id=str(header(headers, ID_HEADER)),
        scope=payload["scope"],
        store_id=None if store_id is None else str(store_id),
        data=data if isinstance(data, Mapping) else {},
        hash=str(payload["hash"]) if payload.get("hash") else None,
    )
