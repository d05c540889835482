"""Shopify webhook signature verification and header parsing."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from returnbridge.connectors.shopify.webhooks import (
    parse_headers,
    signature,
    verify_delivery,
    verify_signature,
)
from returnbridge.domain.errors import AuthError, DomainError

SECRET = "app-client-secret"
BODY = b'{"id":820982911946154508,"order_id":450789469,"note":"caf\xc3\xa9"}'


def reference_signature(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def headers(**overrides: str) -> dict[str, str]:
    values = {
        "X-Shopify-Topic": "refunds/create",
        "X-Shopify-Shop-Domain": "Demo.myshopify.com",
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
        "X-Shopify-API-Version": "2026-01",
        "X-Shopify-Triggered-At": "2026-01-07T09:30:00.123Z",
        "X-Shopify-Hmac-Sha256": reference_signature(BODY, SECRET),
    }
    values.update(overrides)
    return values


def test_signature_is_base64_hmac_sha256_of_raw_body() -> None:
    assert signature(BODY, SECRET) == reference_signature(BODY, SECRET)


def test_valid_signature_verifies() -> None:
    assert verify_signature(BODY, reference_signature(BODY, SECRET), SECRET)


@pytest.mark.parametrize(
    "tampered",
    [BODY + b" ", BODY.replace(b"450789469", b"450789468"), b""],
)
def test_any_change_to_the_body_fails(tampered: bytes) -> None:
    assert not verify_signature(tampered, reference_signature(BODY, SECRET), SECRET)


def test_wrong_secret_missing_or_garbage_header_fails() -> None:
    good = reference_signature(BODY, SECRET)
    assert not verify_signature(BODY, good, "other-secret")
    assert not verify_signature(BODY, None, SECRET)
    assert not verify_signature(BODY, "", SECRET)
    assert not verify_signature(BODY, "not base64 ☃", SECRET)
    assert not verify_signature(BODY, good, "")


def test_rotation_accepts_old_or_new_secret() -> None:
    old = reference_signature(BODY, "old-secret")
    assert verify_signature(BODY, old, ["new-secret", "old-secret"])
    assert not verify_signature(BODY, old, ["new-secret"])


def test_headers_are_parsed_case_insensitively() -> None:
    delivery = parse_headers({k.lower(): v for k, v in headers().items()})
    assert delivery.topic == "refunds/create"
    assert delivery.shop_domain == "demo.myshopify.com"
    assert delivery.webhook_id == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    assert delivery.api_version == "2026-01"
    assert delivery.triggered_at == datetime(2026, 1, 7, 9, 30, 0, 123000, tzinfo=UTC)
    assert delivery.dedupe_key == "98880550-7158-44d4-b7cd-2c97c8a091b5"


def test_dedupe_key_falls_back_to_webhook_id() -> None:
    values = headers()
    del values["X-Shopify-Event-Id"]
    assert parse_headers(values).dedupe_key == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"


def test_missing_topic_is_a_domain_error() -> None:
    values = headers()
    del values["X-Shopify-Topic"]
    with pytest.raises(DomainError):
        parse_headers(values)


def test_verify_delivery_checks_signature_before_parsing() -> None:
    assert verify_delivery(BODY, headers(), SECRET).topic == "refunds/create"
    with pytest.raises(AuthError):
        verify_delivery(BODY + b"x", headers(), SECRET)
