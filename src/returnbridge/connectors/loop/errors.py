"""Loop's error answers, classified once where they enter, in our own sentences.

Loop answers errors in several shapes: `{"errors": [{"code", "message"}]}` (draft returns),
`{"errors": {"message", "code"}}`, `{"error": {"code", "http_code", "message"}}` (401),
`{"message": ...}` and `{"content": ...}`; some refusals come with **HTTP 200** (processing a
closed, cancelled or in-review return). The status decides the class; Loop's code picks our
sentence, and Loop's own words follow it so a person can quote them to Loop's support.
"""

from __future__ import annotations

import json
from typing import Any

from returnbridge.connectors.base.http import DEFAULT_STATUS_RULES, StatusRule
from returnbridge.domain.errors import (
    AuthError,
    ConnectorError,
    NotFound,
    PermanentError,
    Rejected,
)

STATUS_RULES: tuple[StatusRule, ...] = (
    StatusRule.of({401}, AuthError, "LOOP_UNAUTHORIZED"),
    StatusRule.of({403}, AuthError, "LOOP_FORBIDDEN"),
    # 400, 409, 422: Loop refused the request for what it is; sending it again cannot work.
    StatusRule.of({400, 409, 422}, Rejected, "LOOP_REFUSED"),
    *DEFAULT_STATUS_RULES,
)
_ERROR_KEYS = frozenset({"errors", "error", "message", "content"})


class LoopRefused(Rejected):
    """Loop refused an action (often inside an HTTP 200); the message keeps Loop's reason."""

    code = "LOOP_REFUSED"


SENTENCES: dict[str, tuple[type[PermanentError], str, str]] = {
    "returns-unavailable-for-order": (
        Rejected,
        "RETURNS_UNAVAILABLE_FOR_ORDER",
        "Loop has no return policy covering this order (returns-unavailable-for-order): "
        "check the order's address and the return policies in Loop",
    ),
    "order-not-found": (
        Rejected,
        "LOOP_ORDER_NOT_FOUND",
        "Loop found no order with that name and customer email or postal code",
    ),
    "quantity-unavailable": (
        Rejected,
        "LOOP_QUANTITY_UNAVAILABLE",
        "Loop says more units than remain returnable on the order (another return holds them)",
    ),
}
"""Loop's error codes a merchant can act on: (class, our code, our sentence)."""


def loop_reason(body: Any) -> tuple[str | None, str | None]:
    """(code, message) of one of Loop's error bodies; Nones where it says nothing."""
    if not isinstance(body, dict):
        return None, None
    inner = body.get("errors") or body.get("error")
    if isinstance(inner, list) and inner and isinstance(inner[0], dict):
        inner = inner[0]
    code = message = None
    if isinstance(inner, dict):
        code = inner.get("code")
        message = inner.get("message")
    message = message or body.get("message") or body.get("content")
    return (str(code) if code else None), (str(message) if message else None)


def refusal_in_body(body: Any, action: str) -> LoopRefused | None:
    """The refusal an HTTP 200 answer carries (a body made only of error keys), else None."""
    if not isinstance(body, dict) or not body or not set(body) <= _ERROR_KEYS:
        return None
    code, message = loop_reason(body)
    reason = message or code or "no reason given"
    return LoopRefused("LOOP_REFUSED", f"Loop refused to {action}: {reason}", loop_code=code)


def _body(error: ConnectorError) -> Any:
    text = error.details.get("body")
    try:
        return json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None


def explain(error: ConnectorError, action: str) -> ConnectorError:
    """`error` (a refusal by status) rewritten in our words; other errors pass unchanged."""
    if not isinstance(error, PermanentError) or error.status is None:
        return error
    code, message = loop_reason(_body(error))
    keep: dict[str, Any] = {
        "status": error.status,
        "request_id": error.request_id,
        "loop_code": code,
    }
    if code in SENTENCES:
        cls, ours, sentence = SENTENCES[code]
        return cls(ours, f"{sentence}. Loop said: {message or code}", **keep)
    if isinstance(error, AuthError):
        if error.status == 403:
            text = "Loop refused the API key for this call (403): grant the key its scopes"
        else:
            text = "Loop refused the API key (401): check the key and its scopes"
        return AuthError(error.code, f"{text} (returns, draft returns)", **keep)
    if isinstance(error, NotFound):
        return NotFound(error.code, f"Loop found nothing to {action} (404)", **keep)
    said = f": {message or code}" if (message or code) else ""
    return type(error)(error.code, f"Loop refused to {action} (HTTP {error.status}){said}", **keep)
