"""WooCommerce error classification: the status table refined by WordPress's error code."""

from __future__ import annotations

import json

import pytest

from returnbridge.connectors.base.http import error_for_status
from returnbridge.connectors.woocommerce.errors import WOOCOMMERCE_STATUS_RULES, classify
from returnbridge.domain.errors import (
    AuthError,
    ConnectorError,
    NotFound,
    PermanentError,
    RateLimited,
    Rejected,
    TransientError,
)


def failed(
    status: int, body: str, *, writes: bool = False, retry_after: float | None = None
) -> ConnectorError:
    error = error_for_status(
        status,
        rules=WOOCOMMERCE_STATUS_RULES,
        message=f"HTTP {status}",
        retry_after=retry_after,
        ambiguous=writes,
        body=body,
    )
    assert error is not None
    return classify(error, operation="POST orders/1/refunds", writes=writes)


def woo(code: str, message: str, status: int) -> str:
    return json.dumps({"code": code, "message": message, "data": {"status": status}})


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (500, "woocommerce_rest_cannot_create_order_refund", Rejected),
        (400, "woocommerce_rest_invalid_order_refund", Rejected),
        (400, "rest_invalid_param", Rejected),
        (400, "woocommerce_rest_invalid_something_new", Rejected),
        (401, "woocommerce_rest_authentication_error", AuthError),
        (401, "woocommerce_rest_cannot_view", AuthError),
        (403, "woocommerce_rest_cannot_create", AuthError),
        (404, "woocommerce_rest_shop_order_invalid_id", NotFound),
        (404, "rest_no_route", PermanentError),
    ],
)
def test_woocommerce_codes_decide_the_class(
    status: int, code: str, expected: type[ConnectorError]
) -> None:
    error = failed(status, woo(code, "Invalid refund amount.", status), writes=True)
    assert type(error) is expected
    assert error.code == code.upper()
    assert error.message == "POST orders/1/refunds: Invalid refund amount."
    assert (error.status, error.details["woo_code"]) == (status, code)
    assert "ambiguous" not in error.details


def test_an_unknown_500_code_stays_transient_and_ambiguous_for_writes() -> None:
    error = failed(500, woo("internal_server_error", "critical error", 500), writes=True)
    assert isinstance(error, TransientError)
    assert error.details["ambiguous"] is True


def test_host_answers_keep_their_status_class() -> None:
    throttled = failed(429, "Too Many Requests", writes=True, retry_after=7.0)
    assert isinstance(throttled, RateLimited)
    assert (throttled.retry_after, throttled.details["ambiguous"]) == (7.0, False)
    gateway = failed(502, "Bad Gateway", writes=True)
    assert type(gateway) is TransientError
    assert gateway.details["ambiguous"] is True
    assert isinstance(failed(403, "<html>blocked by WAF</html>"), AuthError)


def test_503_honours_retry_after_and_is_ambiguous_only_after_a_write() -> None:
    read = failed(503, "Service Unavailable", retry_after=600.0)
    assert isinstance(read, RateLimited)
    assert (read.retry_after, read.details["ambiguous"]) == (600.0, False)
    write = failed(503, "Service Unavailable", writes=True, retry_after=1.0)
    assert isinstance(write, RateLimited)
    assert write.details["ambiguous"] is True
