"""WooCommerce webhook signatures and headers."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from returnbridge.connectors.woocommerce import webhooks
from returnbridge.domain.errors import AuthError, DomainError

SECRET = "whsec-woo"
BODY = b'{"id":723,"status":"refunded"}'
SIGNED = base64.b64encode(hmac.new(SECRET.encode(), BODY, hashlib.sha256).digest()).decode()
HEADERS = {
    "x-wc-webhook-source": "https://shop.example.com/",
    "x-wc-webhook-topic": "order.updated",
    "x-wc-webhook-resource": "order",
    "x-wc-webhook-event": "updated",
    "x-wc-webhook-signature": SIGNED,
    "x-wc-webhook-id": "31",
    "x-wc-webhook-delivery-id": "8f3",
}


def test_a_signed_delivery_verifies_and_parses() -> None:
    delivery = webhooks.verify_delivery(BODY, HEADERS, SECRET)
    assert (delivery.topic, delivery.resource, delivery.event) == (
        "order.updated",
        "order",
        "updated",
    )
    assert (delivery.source, delivery.webhook_id, delivery.delivery_id) == (
        "https://shop.example.com/",
        "31",
        "8f3",
    )
    assert delivery.dedupe_key == "31:8f3"


def test_another_body_secret_or_no_signature_fails() -> None:
    assert not webhooks.verify_signature(BODY + b" ", SIGNED, SECRET)
    assert not webhooks.verify_signature(BODY, SIGNED, "other")
    assert not webhooks.verify_signature(BODY, None, SECRET)
    assert not webhooks.verify_signature(BODY, SIGNED, "")
    unsigned = {k: v for k, v in HEADERS.items() if "signature" not in k}
    with pytest.raises(AuthError):
        webhooks.verify_delivery(BODY, unsigned, SECRET)


def test_any_of_several_secrets_during_rotation() -> None:
    assert webhooks.verify_signature(BODY, SIGNED, ["old", SECRET])
    assert webhooks.signature(BODY, SECRET) == SIGNED


def test_custom_action_topics_and_missing_topic() -> None:
    delivery = webhooks.parse_headers({"X-WC-Webhook-Topic": "action.woocommerce_order_refunded"})
    assert (delivery.resource, delivery.event, delivery.dedupe_key) == (
        "action",
        "woocommerce_order_refunded",
        None,
    )
    with pytest.raises(DomainError):
        webhooks.parse_headers({"X-WC-Webhook-Resource": "order"})
