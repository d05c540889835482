"""How WooCommerce failures map to the domain error classes, as tables.

Two places carry errors. The HTTP status is classified by the shared table in
`connectors/base/http.py`, extended below. WordPress's JSON error body
(`{"code", "message", "data": {"status"}}`) then refines it: a business refusal is `Rejected`
with WooCommerce's own message, whatever its status, because core answers some refusals with
a 500. Plain-text answers (a host, a WAF or a CDN in front of WordPress) keep the status class.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from returnbridge.connectors.base.http import DEFAULT_STATUS_RULES, StatusRule
from returnbridge.domain.errors import (
    AuthError,
    ConnectorError,
    NotFound,
    PermanentError,
    RateLimited,
    Rejected,
    TransientError,
)

# HTTP status -> error (first match wins). A 503 is what hosts, caches and WordPress's own
# maintenance mode answer, usually with Retry-After: it is honoured like a 429. It is not
# proof that nothing was written (a proxy may give up on a slow PHP worker), so
# `classify` marks it ambiguous after a write.
WOOCOMMERCE_STATUS_RULES: tuple[StatusRule, ...] = (
    StatusRule.of({503}, RateLimited, "SERVICE_UNAVAILABLE"),
    *DEFAULT_STATUS_RULES,
)

# WordPress/WooCommerce error `code` -> error class, whatever the status.
WOO_CODE_RULES: Mapping[str, type[ConnectorError]] = {
    # wc_create_refund refused (amount above what remains, gateway cannot refund or failed);
    # core deletes the refund it started, so nothing stays and a retry would fail the same way.
    "woocommerce_rest_cannot_create_order_refund": Rejected,
    "woocommerce_rest_invalid_order_refund": Rejected,
    "rest_invalid_param": Rejected,
    "rest_missing_callback_param": Rejected,
    "rest_invalid_json": PermanentError,
    "woocommerce_rest_authentication_error": AuthError,
    "woocommerce_rest_cannot_view": AuthError,
    "woocommerce_rest_cannot_create": AuthError,
    "rest_forbidden": AuthError,
    "woocommerce_rest_shop_order_invalid_id": NotFound,
    "woocommerce_rest_invalid_order_id": NotFound,
    "woocommerce_rest_invalid_id": NotFound,
    # No route: pretty permalinks off, the REST API disabled, or not a WooCommerce site.
    "rest_no_route": PermanentError,
}
_REJECTED_PREFIXES = ("woocommerce_rest_invalid", "woocommerce_rest_cannot")


def woo_error_body(text: str) -> tuple[str, str] | None:
    """`(code, message)` of a WordPress JSON error body, or None for anything else."""
    try:
        body: Any = json.loads(text)
    except ValueError:
        return None
    if not isinstance(body, Mapping):
        return None
    code, message = body.get("code"), body.get("message")
    if not isinstance(code, str) or not code:
        return None
    return code, message if isinstance(message, str) else code


def _class_for(code: str, status: int | None) -> type[ConnectorError] | None:
    if code in WOO_CODE_RULES:
        return WOO_CODE_RULES[code]
    if status is not None and 400 <= status < 500 and code.startswith(_REJECTED_PREFIXES):
        return Rejected
    return None


def classify(error: ConnectorError, *, operation: str, writes: bool) -> ConnectorError:
    """The error to raise for one failed call: refined by WooCommerce's code when it sent one.

    `error` comes from the shared HTTP client (its `body` detail is the redacted start of the
    answer). A 503 after a write is marked ambiguous: the write may have been committed.
    """
    if isinstance(error, RateLimited) and error.status == 503:
        error.details["ambiguous"] = writes
    body = error.details.get("body")
    parsed = woo_error_body(body) if isinstance(body, str) else None
    if parsed is None:
        return error
    code, message = parsed
    error_class = _class_for(code, error.status)
    if error_class is None:
        return error
    details = {k: v for k, v in error.details.items() if k not in {"ambiguous"}}
    details["woo_code"] = code
    text = f"{operation}: {message}"
    if issubclass(error_class, TransientError):
        return error_class(
            code.upper(),
            text,
            status=error.status,
            request_id=error.request_id,
            **{**details, "ambiguous": writes},
        )
    return error_class(
        code.upper(), text, status=error.status, request_id=error.request_id, **details
    )
