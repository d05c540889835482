"""The error hierarchy: codes, messages and the details the engine reads (errors.py)."""

from __future__ import annotations

import pytest

from returnbridge.domain.errors import (
    AlreadyDone,
    AuthError,
    ConnectorError,
    DomainError,
    NotFound,
    PermanentError,
    RateLimited,
    Rejected,
    ReturnBridgeError,
    TransientError,
)


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (ReturnBridgeError, "ERROR"),
        (DomainError, "DOMAIN_ERROR"),
        (ConnectorError, "CONNECTOR_ERROR"),
        (TransientError, "TRANSIENT"),
        (RateLimited, "RATE_LIMITED"),
        (PermanentError, "PERMANENT"),
        (AuthError, "AUTH"),
        (NotFound, "NOT_FOUND"),
        (Rejected, "REJECTED"),
        (AlreadyDone, "ALREADY_DONE"),
    ],
)
def test_without_code_or_message_an_error_says_its_class_code(
    cls: type[ReturnBridgeError], code: str
) -> None:
    error = cls()
    assert error.code == code
    assert error.message == code
    assert str(error) == code
    assert error.details == {}
    assert error.field is None


def test_a_code_without_a_message_is_its_own_message() -> None:
    error = DomainError("UNKNOWN_LINE")
    assert error.code == "UNKNOWN_LINE"
    assert error.message == "UNKNOWN_LINE"
    assert str(error) == "UNKNOWN_LINE"


def test_a_message_and_details_are_kept_and_field_read_from_them() -> None:
    error = DomainError("UNKNOWN_LINE", "lines[0]: no such line", field="lines[0]", line="L9")
    assert error.message == "lines[0]: no such line"
    assert str(error) == "lines[0]: no such line"
    assert error.details == {"field": "lines[0]", "line": "L9"}
    assert error.field == "lines[0]"


def test_a_field_that_is_not_text_is_no_field() -> None:
    assert DomainError("X", "m", field=3).field is None


def test_a_connector_error_keeps_status_request_id_and_details() -> None:
    error = Rejected("REFUND_REFUSED", "too late", status=422, request_id="req-7", field="x")
    assert (error.code, error.message) == ("REFUND_REFUSED", "too late")
    assert error.status == 422
    assert error.request_id == "req-7"
    assert error.details == {"field": "x"}
    assert isinstance(error, PermanentError)


def test_a_connector_error_without_status_or_request_id_has_none() -> None:
    error = ConnectorError()
    assert error.status is None
    assert error.request_id is None


def test_rate_limited_waits_one_second_unless_told_and_is_transient() -> None:
    error = RateLimited()
    assert error.retry_after == 1.0
    assert error.message == "RATE_LIMITED"
    assert isinstance(error, TransientError)


def test_rate_limited_keeps_its_message_hint_and_connector_details() -> None:
    error = RateLimited(
        "THROTTLED", "bucket empty", retry_after=2.5, status=429, request_id="req-1", cost=50
    )
    assert (error.code, error.message, str(error)) == ("THROTTLED", "bucket empty", "bucket empty")
    assert error.retry_after == 2.5
    assert (error.status, error.request_id) == (429, "req-1")
    assert error.details == {"cost": 50}
