"""SHOPLINE's error answers, classified once where they enter.

An error answer is HTTP status + JSON `{"code", "message", "errors"}`, where `errors` is a
string, a list of strings, or a map of field -> message(s); a 429 is exactly
`{"errors": "Too many request"}`. The status decides the class (table below); SHOPLINE's own
words and the call's `traceId` go into the message, so a person can quote both to support.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from returnbridge.connectors.base.http import DEFAULT_STATUS_RULES, StatusRule
from returnbridge.domain.errors import ConnectorError, PermanentError, RateLimited, Rejected

LOCAL_ID_PREFIX = "rb-local-"
"""Starts the request id we make up for a call; an answer's `traceId` replaces it, so an error
still carrying it got no `traceId` from SHOPLINE (a proxy or load balancer answered)."""

STATUS_RULES: tuple[StatusRule, ...] = (
    # 400 (bad parameters), 409 and 422 (refused for a business reason): the request itself is
    # wrong; sending it again cannot succeed.
    StatusRule.of({400, 409, 422}, Rejected, "REJECTED"),
    # 412: SHOPLINE found "high-risk content" (such as a script) in the body; our notes are
    # plain text, so this is a refusal, not a hiccup.
    StatusRule.of({412}, Rejected, "HIGH_RISK_CONTENT"),
    # 402 and 423: the store itself is frozen (unpaid plan) or locked. Nothing we send works
    # until the merchant settles it with SHOPLINE, so waiting and retrying would only hide it.
    StatusRule.of({402}, PermanentError, "STORE_FROZEN"),
    StatusRule.of({423}, PermanentError, "STORE_LOCKED"),
    StatusRule.of({406}, PermanentError, "NOT_ACCEPTABLE"),
    *DEFAULT_STATUS_RULES,
)

SENTENCES: Mapping[str, str] = {
    "STORE_FROZEN": "the SHOPLINE store is frozen (HTTP 402, usually an unpaid plan); "
    "the merchant must reactivate it in SHOPLINE before anything can be synced",
    "STORE_LOCKED": "the SHOPLINE store is locked (HTTP 423); the merchant must unlock it "
    "with SHOPLINE before anything can be synced",
    "UNAUTHORIZED": "SHOPLINE refused the access token (missing, invalid or expired); "
    "reconnect the store or refresh the token",
    "FORBIDDEN": "the access token lacks a scope this call needs (such as read_orders, "
    "write_orders or write_return); grant it in the app's API credentials",
}
"""Our own sentence for answers a person must act on, before SHOPLINE's words."""


def _texts(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        if value.strip():
            yield value.strip()
    elif isinstance(value, list):
        for entry in value:
            yield from _texts(entry)
    elif isinstance(value, Mapping):
        for name, entry in value.items():
            yield from (f"{name}: {text}" for text in _texts(entry))


def platform_message(body_text: str) -> tuple[str | None, str | None]:
    """`(code, message)` of a SHOPLINE error body: `message`, then every `errors` text
    (string, list or field map), joined; None where the body does not say."""
    try:
        body = json.loads(body_text)
    except ValueError:
        return None, None
    if not isinstance(body, Mapping):
        return None, None
    code = body.get("code")
    texts = list(dict.fromkeys([*_texts(body.get("message")), *_texts(body.get("errors"))]))
    return (str(code) if code not in (None, "") else None), ("; ".join(texts) or None)


def refine(error: ConnectorError, *, operation: str) -> ConnectorError:
    """The same class of error with SHOPLINE's code and words and the call's `traceId`."""
    if error.status is None:
        return error  # no answer (timeout, connection): nothing of SHOPLINE's to add
    body = error.details.get("body")
    platform_code, message = platform_message(body) if isinstance(body, str) else (None, None)
    trace = error.request_id
    if trace is not None and trace.startswith(LOCAL_ID_PREFIX):
        trace = None
    parts = [f"{operation} -> HTTP {error.status}"]
    sentence = SENTENCES.get(error.code)
    if sentence:
        parts.append(sentence)
    if message:
        parts.append(message)
    elif not sentence:
        parts.append(error.message)
    text = ": ".join(parts) + (f" (traceId {trace})" if trace else "")
    details: dict[str, Any] = {**error.details, "trace_id": trace}
    if platform_code:
        details["platform_code"] = platform_code
    if message:
        details["platform_message"] = message
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
