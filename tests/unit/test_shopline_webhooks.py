"""SHOPLINE webhook signatures: lowercase hex (the SDK) or base64, over the raw body."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from returnbridge.connectors.shopline import webhooks
from returnbridge.domain.errors import AuthError, DomainError

SECRET = "shopline-app-secret"
BODY = b'{"id":"26057000000000000001","order_id":"21050000000000000000000501","note":"x"}'


def oracle(body: bytes, secret: str) -> bytes:
    """The raw digest, computed apart from the code under test."""
    return hmac.new(secret.encode(), body, hashlib.sha256).digest()


def headers(signature: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopline-Topic": "refunds/create",
        "X-Shopline-Hmac-Sha256": signature,
        "X-Shopline-Shop-Domain": "acme.myshopline.com",
        "X-Shopline-Shop-Id": "1700000001",
        "X-Shopline-Merchant-Id": "2000000001",
        "X-Shopline-API-Version": "v20251201",
        "X-Shopline-Webhook-Id": "wh-123",
    }


def test_lowercase_hex_and_base64_signatures_are_both_accepted() -> None:
    as_hex = oracle(BODY, SECRET).hex()
    as_base64 = base64.b64encode(oracle(BODY, SECRET)).decode()
    assert webhooks.signature_hex(BODY, SECRET) == as_hex
    assert webhooks.verify_signature(BODY, as_hex, SECRET)
    assert webhooks.verify_signature(BODY, as_hex.upper(), SECRET)
    assert webhooks.verify_signature(BODY, as_base64, SECRET)
    assert webhooks.verify_signature(BODY, f"  {as_hex}\n", SECRET)


def test_forged_unsigned_or_wrongly_keyed_deliveries_are_refused() -> None:
    good = oracle(BODY, SECRET).hex()
    assert not webhooks.verify_signature(BODY + b" ", good, SECRET)
    assert not webhooks.verify_signature(BODY, None, SECRET)
    assert not webhooks.verify_signature(BODY, "", SECRET)
    assert not webhooks.verify_signature(BODY, good, "another-secret")
    assert not webhooks.verify_signature(BODY, good, "")
    assert not webhooks.verify_signature(BODY, good[:-2], SECRET)
    lowered_base64 = base64.b64encode(oracle(BODY, SECRET)).decode().lower()
    assert not webhooks.verify_signature(BODY, lowered_base64, SECRET)


def test_a_rotated_secret_still_verifies() -> None:
    signed = oracle(BODY, SECRET).hex()
    assert webhooks.verify_signature(BODY, signed, ["old-secret", SECRET])


def test_a_verified_delivery_says_its_topic_shop_and_dedupe_key() -> None:
    delivery = webhooks.verify_delivery(BODY, headers(oracle(BODY, SECRET).hex()), SECRET)
    assert delivery.topic == "refunds/create"
    assert delivery.is_refund
    assert not delivery.is_return
    assert delivery.dedupe_key == "wh-123"
    assert (delivery.shop_domain, delivery.shop_id, delivery.merchant_id) == (
        "acme.myshopline.com",
        "1700000001",
        "2000000001",
    )
    assert delivery.api_version == "v20251201"


def test_verify_delivery_raises_on_a_bad_signature_or_no_topic() -> None:
    with pytest.raises(AuthError):
        webhooks.verify_delivery(BODY, headers("00" * 32), SECRET)
    signed = headers(oracle(BODY, SECRET).hex())
    del signed["X-Shopline-Topic"]
    with pytest.raises(DomainError):
        webhooks.verify_delivery(BODY, signed, SECRET)
