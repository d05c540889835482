"""Standard Webhooks verification of BigCommerce deliveries (signatures made with hashlib)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from returnbridge.connectors.bigcommerce import webhooks
from returnbridge.domain.errors import AuthError, DomainError

SECRET = "app-client-secret"
NOW = 1_773_000_000
BODY = json.dumps(
    {
        "scope": "store/order/refund/created",
        "store_id": "1001",
        "data": {"type": "order", "id": 120, "refund": {"refund_id": 9}},
        "hash": "abc",
        "created_at": NOW,
        "producer": "stores/abc123",
    }
).encode()


def signed(body: bytes = BODY, *, secret: str = SECRET, stamp: int = NOW) -> dict[str, str]:
    message = f"msg_1.{stamp}.".encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return {
        "Webhook-Id": "msg_1",
        "Webhook-Timestamp": str(stamp),
        "Webhook-Signature": "v1," + base64.b64encode(digest).decode(),
    }


def verify(
    body: bytes, headers: dict[str, str], secrets: object = SECRET, now: float = NOW
) -> bool:
    return webhooks.verify_signature(body, headers, secrets, now=lambda: now)  # type: ignore[arg-type]


def test_a_signed_delivery_is_verified_and_parsed() -> None:
    delivery = webhooks.verify_delivery(BODY, signed(), SECRET, now=lambda: NOW)
    assert (delivery.scope, delivery.store_id, delivery.order_id, delivery.refund_id) == (
        "store/order/refund/created",
        "1001",
        "120",
        "9",
    )
    assert delivery.message_id == "msg_1"


def test_forged_stale_and_unsigned_deliveries_are_refused() -> None:
    assert not verify(BODY + b" ", signed())
    assert not verify(BODY, signed(), now=NOW + 301)
    assert verify(BODY, signed(), now=NOW - 299)
    assert not verify(BODY, {k: v for k, v in signed().items() if k != "Webhook-Signature"})
    assert not verify(BODY, signed(secret="someone-else"))
    with pytest.raises(AuthError):
        webhooks.verify_delivery(BODY, signed(secret="x"), SECRET, now=lambda: NOW)


def test_rotation_accepts_any_listed_secret_and_any_listed_signature() -> None:
    assert verify(BODY, signed(secret="new-secret"), secrets=["old-secret", "new-secret"])
    headers = signed()
    headers["Webhook-Signature"] = "v1,bm9wZQ== " + headers["Webhook-Signature"]
    assert verify(BODY, headers)


def test_a_whsec_secret_is_the_base64_of_the_key() -> None:
    whsec = "whsec_" + base64.b64encode(SECRET.encode()).decode()
    assert verify(BODY, signed(), secrets=whsec)


def test_our_signature_matches_the_independent_one() -> None:
    ours = webhooks.sign(BODY, message_id="msg_1", timestamp=NOW, secret=SECRET)
    assert ours == signed()["Webhook-Signature"]


def test_a_verified_body_that_is_not_a_delivery_is_a_domain_error() -> None:
    with pytest.raises(DomainError):
        webhooks.verify_delivery(b"[1]", signed(b"[1]"), SECRET, now=lambda: NOW)
