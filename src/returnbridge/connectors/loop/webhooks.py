"""Loop's webhooks: `X-Loop-Signature` is base64(HMAC-SHA256(secret, raw body)).

Verify on the raw bytes as received, never on re-encoded JSON (Loop's own advice). A
`return.processing.failed` report carries Loop's message (or none): it becomes the return's
`processing_error`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from returnbridge.connectors.base.returns_system import ExternalReturn
from returnbridge.connectors.loop.mapping import external_return
from returnbridge.domain.errors import DomainError

PROCESSING_FAILED = "return.processing.failed"


def signature(raw_body: bytes, secret: str) -> str:
    """Loop's `X-Loop-Signature` for `raw_body` (also what the tests sign with)."""
    return base64.b64encode(hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()).decode()


def verify_signature(raw_body: bytes, signature_header: str | None, secret: str) -> bool:
    """True when the header is the body's signature under `secret` (constant-time compare)."""
    if not signature_header or not secret:
        return False
    sent = signature_header.strip().encode("utf-8", "replace")  # bytes: any header compares
    return hmac.compare_digest(sent, signature(raw_body, secret).encode())


def parse_event(raw_body: bytes) -> tuple[str, ExternalReturn]:
    """(trigger, the return it reports); DomainError for a body that is not a Loop report."""
    try:
        body: Any = json.loads(raw_body)
    except ValueError:
        raise DomainError("INVALID_WEBHOOK", "the webhook body is not JSON") from None
    if not isinstance(body, dict) or "id" not in body or "trigger" not in body:
        raise DomainError("INVALID_WEBHOOK", "the webhook body is not a Loop return report")
    trigger = str(body["trigger"])
    error = None
    if trigger == PROCESSING_FAILED:
        error = str(body.get("message") or "Loop reported that processing failed")
    try:
        return trigger, external_return(body, processing_error=error)
    except (KeyError, TypeError, ValueError):
        raise DomainError("INVALID_WEBHOOK", "the Loop return report is malformed") from None
