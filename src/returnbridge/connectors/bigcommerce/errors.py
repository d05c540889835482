"""BigCommerce's error answers, classified once where they enter.

v2 answers a JSON array `[{"status", "message"}]`; v3 a problem object
`{"status", "title", "type", "errors"}`, some refund errors wrapped in `{"data": [...]}`. The
status decides the class (table below); BigCommerce's own message is kept in the error.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from returnbridge.connectors.base.http import DEFAULT_STATUS_RULES, StatusRule
from returnbridge.domain.errors import (
    ConnectorError,
    RateLimited,
    Rejected,
    TransientError,
)

STATUS_RULES: tuple[StatusRule, ...] = (
    # 409 (conflict) and 422 (invalid for business reasons): the request itself is refused.
    StatusRule.of({409, 422}, Rejected, "REJECTED"),
    # 423 Locked: the resource is busy (a store job); trying later can succeed.
    StatusRule.of({423}, TransientError, "LOCKED"),
    # 507: the store's plan limit; nothing a retry changes.
    *DEFAULT_STATUS_RULES,
)

REFUND_IN_PROGRESS_HINTS = ("in progress", "already being processed", "concurrent")
"""Words of a 422 refusing a refund because another one on the order is being processed:
refunds are sequential per order, so this one can be sent again (nothing was made)."""


def _texts(body: Any) -> Iterable[str]:
    if isinstance(body, list):
        for entry in body:
            yield from _texts(entry)
    elif isinstance(body, Mapping):
        for key in ("message", "title", "error", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value:
                yield value
        errors = body.get("errors")
        if isinstance(errors, Mapping):
            yield from (f"{k}: {v}" for k, v in errors.items() if isinstance(v, str))
        if "data" in body:
            yield from _texts(body["data"])


def platform_message(body_text: str) -> str | None:
    """BigCommerce's message in an error body (v2 array, v3 problem, `data`-wrapped), if any."""
    try:
        body = json.loads(body_text)
    except ValueError:
        return None
    texts = list(dict.fromkeys(_texts(body)))
    return "; ".join(texts) or None


def refine(error: ConnectorError, *, operation: str) -> ConnectorError:
    """The error with BigCommerce's message; a refund refused while another is processed
    becomes a plain (not ambiguous) transient error."""
    body = error.details.get("body")
    message = platform_message(body) if isinstance(body, str) else None
    if message is None:
        return error
    text = f"{operation} -> HTTP {error.status}: {message}"
    if isinstance(error, Rejected) and any(h in message.lower() for h in REFUND_IN_PROGRESS_HINTS):
        return TransientError(
            "REFUND_IN_PROGRESS",
            text,
            status=error.status,
            request_id=error.request_id,
            ambiguous=False,
            body=body,
        )
    details = {**error.details, "platform_message": message}
    if isinstance(error, RateLimited):
        return RateLimited(
            error.code,
            text,
            retry_after=error.retry_after,
            status=error.status,
            request_id=error.request_id,
            **details,
        )
    return type(error)(
        error.code, text, status=error.status, request_id=error.request_id, **details
    )
