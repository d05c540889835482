"""Loop's error bodies (by status and inside HTTP 200) become our errors, in our words."""

from __future__ import annotations

import json

import pytest

from returnbridge.connectors.base.http import error_for_status
from returnbridge.connectors.loop.errors import (
    STATUS_RULES,
    LoopRefused,
    explain,
    loop_reason,
    refusal_in_body,
)
from returnbridge.domain.errors import (
    AuthError,
    ConnectorError,
    NotFound,
    RateLimited,
    Rejected,
    TransientError,
)


def _error(status: int, body: object) -> ConnectorError:
    error = error_for_status(
        status, rules=STATUS_RULES, message=f"raw {status}", body=json.dumps(body)
    )
    assert error is not None
    return error


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"errors": [{"code": "order-not-found", "message": "No order."}]},
            ("order-not-found", "No order."),
        ),
        (
            {"errors": {"message": "Return is closed.", "code": "UNPROCESSABLE_RETURN"}},
            ("UNPROCESSABLE_RETURN", "Return is closed."),
        ),
        (
            {"error": {"code": "401", "http_code": "GEN-UNAUTHORIZED", "message": "Unauthorized."}},
            ("401", "Unauthorized."),
        ),
        ({"message": "Return is cancelled."}, (None, "Return is cancelled.")),
        ({"content": "Return is expired."}, (None, "Return is expired.")),
        ("false", (None, None)),
        (None, (None, None)),
    ],
)  # fmt: skip
def test_every_shape_of_loop_error_gives_its_code_and_words(
    body: object, expected: tuple[str | None, str | None]
) -> None:
    assert loop_reason(body) == expected


def test_a_200_made_only_of_error_keys_is_a_refusal() -> None:
    refusal = refusal_in_body({"message": "Return is review."}, "process return 5")
    assert isinstance(refusal, LoopRefused)
    assert isinstance(refusal, Rejected)
    assert str(refusal) == "Loop refused to process return 5: Return is review."
    assert refusal_in_body(True, "x") is None
    assert refusal_in_body("true", "x") is None
    assert refusal_in_body({"id": 5, "state": "open", "message": "hi"}, "x") is None
    assert refusal_in_body({}, "x") is None


def test_an_order_no_policy_covers_is_permanent_in_our_words() -> None:
    body = {"errors": [{"code": "returns-unavailable-for-order", "message": "No policy."}]}
    error = explain(_error(422, body), "submit the return of order #2")
    assert isinstance(error, Rejected)
    assert error.code == "RETURNS_UNAVAILABLE_FOR_ORDER"
    assert str(error).startswith("Loop has no return policy covering this order")
    assert error.details["loop_code"] == "returns-unavailable-for-order"


def test_auth_and_not_found_keep_their_class_with_our_sentence() -> None:
    unauthorized = explain(_error(401, {"error": {"message": "Unauthorized."}}), "read return 1")
    assert isinstance(unauthorized, AuthError)
    assert unauthorized.code == "LOOP_UNAUTHORIZED"
    assert "check the key and its scopes" in str(unauthorized)
    forbidden = explain(_error(403, {}), "read return 1")
    assert isinstance(forbidden, AuthError)
    assert "scopes" in str(forbidden)
    missing = explain(_error(404, {"message": "Return not found."}), "read return 9")
    assert isinstance(missing, NotFound)
    assert str(missing) == "Loop found nothing to read return 9 (404)"


def test_other_refusals_name_the_action_and_quote_loop() -> None:
    error = explain(_error(422, {"errors": {"to": ["too long"]}, "message": "Range."}), "list")
    assert isinstance(error, Rejected)
    assert str(error) == "Loop refused to list returns (HTTP 422): Range.".replace(" returns", "")


def test_transient_errors_pass_unchanged() -> None:
    for error in (_error(500, {"message": "Server Error"}), _error(429, {})):
        assert explain(error, "x") is error
    assert isinstance(_error(429, {}), RateLimited)
    assert isinstance(_error(503, {}), TransientError)
