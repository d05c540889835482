"""SHOPLINE error answers classified into the domain errors, with SHOPLINE's words and traceId."""

from __future__ import annotations

import json

import pytest

from returnbridge.connectors.base.http import error_for_status
from returnbridge.connectors.shopline.errors import (
    LOCAL_ID_PREFIX,
    STATUS_RULES,
    platform_message,
    refine,
)
from returnbridge.domain.errors import (
    AuthError,
    ConnectorError,
    NotFound,
    PermanentError,
    RateLimited,
    Rejected,
    TransientError,
)

TRACE = "0a1b2c3d4e5f"


def error(status: int, body: object, *, writes: bool = False) -> ConnectorError:
    text = body if isinstance(body, str) else json.dumps(body)
    made = error_for_status(
        status, rules=STATUS_RULES, body=text, ambiguous=writes, request_id=TRACE
    )
    assert made is not None
    return refine(made, operation="POST order/refund.json")


def test_errors_may_be_a_string_a_list_or_a_field_map() -> None:
    assert platform_message('{"errors": "Too many request"}') == (None, "Too many request")
    listed = {"code": "INVALID_PARAMS", "errors": ["limit is wrong", "page_info is wrong"]}
    assert platform_message(json.dumps(listed)) == (
        "INVALID_PARAMS",
        "limit is wrong; page_info is wrong",
    )
    mapped = {"message": "bad request", "errors": {"currency": ["must be USD"], "note": "long"}}
    assert platform_message(json.dumps(mapped)) == (
        None,
        "bad request; currency: must be USD; note: long",
    )
    repeated = {
        "code": "UNPROCESSABLE",
        "message": "currency must be USD",
        "errors": "currency must be USD",
    }
    assert platform_message(json.dumps(repeated)) == ("UNPROCESSABLE", "currency must be USD")
    assert platform_message("<html>bad gateway</html>") == (None, None)
    assert platform_message("[1, 2]") == (None, None)


@pytest.mark.parametrize(
    ("status", "kind", "code"),
    [
        (400, Rejected, "REJECTED"),
        (401, AuthError, "UNAUTHORIZED"),
        (403, AuthError, "FORBIDDEN"),
        (404, NotFound, "NOT_FOUND"),
        (412, Rejected, "HIGH_RISK_CONTENT"),
        (422, Rejected, "REJECTED"),
        (429, RateLimited, "RATE_LIMITED"),
        (500, TransientError, "SERVER_ERROR"),
        (503, TransientError, "SERVER_ERROR"),
    ],
)
def test_status_decides_the_class(status: int, kind: type[ConnectorError], code: str) -> None:
    made = error(status, {"code": "X", "message": "words", "errors": "words"})
    assert type(made) is kind
    assert made.code == code
    assert made.request_id == TRACE
    assert made.details["trace_id"] == TRACE


def test_frozen_and_locked_stores_are_permanent_with_a_sentence() -> None:
    frozen = error(402, {"code": "PAYMENT_REQUIRED", "message": "shop frozen"})
    assert type(frozen) is PermanentError
    assert frozen.code == "STORE_FROZEN"
    assert "store is frozen" in frozen.message
    assert "shop frozen" in frozen.message
    locked = error(423, {"errors": "locked"})
    assert (type(locked), locked.code) == (PermanentError, "STORE_LOCKED")
    assert "store is locked" in locked.message


def test_message_carries_operation_platform_words_and_trace_id() -> None:
    refused = error(422, {"code": "UNPROCESSABLE", "message": "currency must be USD"})
    assert refused.message == (
        f"POST order/refund.json -> HTTP 422: currency must be USD (traceId {TRACE})"
    )
    assert refused.details["platform_code"] == "UNPROCESSABLE"
    assert refused.details["platform_message"] == "currency must be USD"


def test_a_5xx_after_a_write_stays_ambiguous() -> None:
    failed = error(500, {"code": "INTERNAL_ERROR", "message": "oops"}, writes=True)
    assert isinstance(failed, TransientError)
    assert failed.details["ambiguous"] is True
    assert "(traceId" in failed.message


def test_429_keeps_the_wait_and_is_not_ambiguous() -> None:
    made = error_for_status(
        429, rules=STATUS_RULES, body='{"errors":"Too many request"}', retry_after=3.0
    )
    assert made is not None
    throttled = refine(made, operation="GET orders.json")
    assert isinstance(throttled, RateLimited)
    assert throttled.retry_after == 3.0
    assert throttled.details["ambiguous"] is False
    assert "Too many request" in throttled.message


def test_an_error_without_an_answer_is_left_as_it_is() -> None:
    timeout = TransientError("TIMEOUT", "POST order/refund.json: timed out", ambiguous=True)
    assert refine(timeout, operation="POST order/refund.json") is timeout


def test_our_own_request_id_is_not_passed_off_as_a_trace_id() -> None:
    """A gateway in front of SHOPLINE answered without `traceId`: no trace is claimed."""
    made = error_for_status(
        502, rules=STATUS_RULES, body="<html>bad gateway</html>", request_id=f"{LOCAL_ID_PREFIX}1"
    )
    assert made is not None
    failed = refine(made, operation="GET orders.json")
    assert "traceId" not in failed.message
    assert failed.details["trace_id"] is None
    assert failed.request_id == f"{LOCAL_ID_PREFIX}1"
