"""How Shopify failures map to the domain error classes, as tables.

Three places carry errors: the HTTP status (auth, missing shop, 429, 5xx), top-level GraphQL
`errors[].extensions.code` (THROTTLED, ACCESS_DENIED, idempotency conflicts, query bugs) and the
mutation payload's `userErrors` (business refusals, kept verbatim as `Rejected`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from returnbridge.connectors.base.http import DEFAULT_STATUS_RULES, StatusRule
from returnbridge.domain.errors import (
    AuthError,
    ConnectorError,
    NotFound,
    PermanentError,
    Rejected,
    TransientError,
)

# HTTP status -> error. First match wins; Shopify-specific statuses come before the defaults
# (401/403 auth, 404 not found, 429 rate limited, 5xx transient, other 4xx permanent).
SHOPIFY_STATUS_RULES: tuple[StatusRule, ...] = (
    StatusRule.of({402}, PermanentError, "SHOP_FROZEN"),  # unpaid shop
    StatusRule.of({423}, PermanentError, "SHOP_LOCKED"),
    *DEFAULT_STATUS_RULES,
)

# `extensions.code` of a top-level GraphQL error (or a user error message naming the code) ->
# error class. THROTTLED is handled by the limiter, which knows the cost deficit.
GRAPHQL_ERROR_RULES: Mapping[str, type[ConnectorError]] = {
    "ACCESS_DENIED": AuthError,
    "UNAUTHORIZED": AuthError,
    "FORBIDDEN": AuthError,
    "NOT_FOUND": NotFound,
    "INTERNAL_SERVER_ERROR": TransientError,
    "SERVICE_UNAVAILABLE": TransientError,
    "TIMEOUT": TransientError,
    "MAX_COST_EXCEEDED": PermanentError,
    "BAD_REQUEST": PermanentError,
    "GRAPHQL_VALIDATION_FAILED": PermanentError,
    # Same key, different variables: a bug on our side, never retried with this key.
    "IDEMPOTENCY_KEY_PARAMETER_MISMATCH": PermanentError,
    # The first request with this key is still running: retry later with the same key.
    "IDEMPOTENCY_CONCURRENT_REQUEST": TransientError,
    # Shopify asks for a new key; the engine must decide, so this key is finished.
    "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED": PermanentError,
}

THROTTLED = "THROTTLED"


def graphql_error_code(error: Mapping[str, Any]) -> str | None:
    """The `extensions.code` of one GraphQL error, upper-cased."""
    extensions = error.get("extensions")
    if isinstance(extensions, Mapping):
        code = extensions.get("code")
        if isinstance(code, str) and code:
            return code.upper()
    return None


def is_throttled(errors: Sequence[Mapping[str, Any]]) -> bool:
    return any(
        graphql_error_code(e) == THROTTLED or str(e.get("message", "")).lower() == "throttled"
        for e in errors
    )


def error_from_graphql_errors(
    errors: Sequence[Mapping[str, Any]],
    *,
    operation: str,
    request_id: str | None = None,
    writes: bool = False,
) -> ConnectorError:
    """One error for a response's top-level `errors` (the first classified code wins)."""
    messages = "; ".join(str(e.get("message", "")) for e in errors) or "GraphQL error"
    for error in errors:
        code = graphql_error_code(error)
        if code is not None and code in GRAPHQL_ERROR_RULES:
            return _build(
                GRAPHQL_ERROR_RULES[code],
                code,
                f"{operation}: {messages}",
                request_id=request_id,
                writes=writes,
            )
    code = next((c for c in map(graphql_error_code, errors) if c), "GRAPHQL_ERROR")
    return PermanentError(code, f"{operation}: {messages}", request_id=request_id)


def error_from_user_errors(
    user_errors: Sequence[Mapping[str, Any]], *, operation: str, request_id: str | None = None
) -> ConnectorError | None:
    """`Rejected` with Shopify's message and field; None when the list is empty."""
    if not user_errors:
        return None
    for error in user_errors:
        text = f"{error.get('code', '')} {error.get('message', '')}".upper()
        for code, error_class in GRAPHQL_ERROR_RULES.items():
            if code.startswith("IDEMPOTENCY_") and code in text:
                return _build(
                    error_class,
                    code,
                    f"{operation}: {error.get('message', code)}",
                    request_id=request_id,
                    writes=True,
                )
    first = user_errors[0]
    path = first.get("field")
    field = ".".join(str(p) for p in path) if isinstance(path, list) else None
    message = "; ".join(str(e.get("message", "")) for e in user_errors)
    return Rejected(
        "REJECTED",
        message,
        request_id=request_id,
        field=field,
        user_errors=[dict(e) for e in user_errors],
    )


def _build(
    error_class: type[ConnectorError],
    code: str,
    message: str,
    *,
    request_id: str | None,
    writes: bool,
) -> ConnectorError:
    if issubclass(error_class, TransientError):
        # A concurrent request holding our key has not committed from our point of view yet.
        ambiguous = writes and code != "IDEMPOTENCY_CONCURRENT_REQUEST"
        return error_class(code, message, request_id=request_id, ambiguous=ambiguous)
    return error_class(code, message, request_id=request_id)
