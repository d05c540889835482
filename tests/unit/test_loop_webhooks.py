"""Loop's webhooks: `X-Loop-Signature` on the raw body, and the report parsed."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from returnbridge.connectors.loop.webhooks import parse_event, verify_signature
from returnbridge.domain.errors import DomainError

BODY = (
    b'{"topic":"return","trigger":"return.closed","id":7,"state":"closed",'
    b'"refund":"1.00","return_total":"1.00","edited_at":"2026-11-28T10:00:00Z"}'
)


def _sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_a_signature_is_checked_on_the_raw_bytes() -> None:
    good = _sign(BODY, "s3cret")
    assert verify_signature(BODY, good, "s3cret")
    assert verify_signature(BODY, f" {good}\n", "s3cret")
    assert not verify_signature(BODY, good, "forged")
    assert not verify_signature(BODY.replace(b"1.00", b"9.00"), good, "s3cret")
    assert not verify_signature(BODY.replace(b",", b", "), good, "s3cret")  # re-encoded JSON
    assert not verify_signature(BODY, None, "s3cret")
    assert not verify_signature(BODY, "", "s3cret")
    assert not verify_signature(BODY, good, "")
    assert not verify_signature(BODY, "not base64 ✓", "s3cret")


def test_a_report_gives_its_trigger_and_return() -> None:
    trigger, reported = parse_event(BODY)
    assert (trigger, reported.id, reported.state, str(reported.refund)) == (
        "return.closed", "7", "closed", "1.00"
    )  # fmt: skip
    assert reported.updated_at is not None
    assert reported.processing_error is None


def test_a_processing_failure_carries_loops_message_or_ours() -> None:
    silent = b'{"trigger":"return.processing.failed","id":7,"state":"open","message":null}'
    assert parse_event(silent)[1].processing_error == "Loop reported that processing failed"
    said = b'{"trigger":"return.processing.failed","id":7,"message":"Shopify refused"}'
    assert parse_event(said)[1].processing_error == "Shopify refused"


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"id": 7}', b'{"trigger": "return.closed"}',
     b'{"trigger":"return.closed","id":7,"line_items":[{"quantity":"many"}]}'],
)  # fmt: skip
def test_a_malformed_report_is_a_domain_error(body: bytes) -> None:
    with pytest.raises(DomainError):
        parse_event(body)
