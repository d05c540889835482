"""BigCommerce error bodies classified into the domain errors."""

from __future__ import annotations

import json

from returnbridge.connectors.base.http import error_for_status
from returnbridge.connectors.bigcommerce.errors import STATUS_RULES, platform_message, refine
from returnbridge.domain.errors import (
    AuthError,
    NotFound,
    RateLimited,
    Rejected,
    TransientError,
)


def error(status: int, body: object, *, writes: bool = False) -> object:
    text = json.dumps(body)
    made = error_for_status(status, rules=STATUS_RULES, body=text, ambiguous=writes)
    assert made is not None
    return refine(made, operation="POST v3/orders/1/payment_actions/refunds")


def test_messages_of_v2_v3_and_wrapped_bodies() -> None:
    assert platform_message(
        '[{"status": 404, "message": "The requested resource was not found."}]'
    ) == ("The requested resource was not found.")
    v3 = {
        "status": 422,
        "title": "Invalid refund item",
        "type": "x",
        "errors": {"items[0].quantity": "at most 1"},
    }
    assert platform_message(json.dumps(v3)) == "Invalid refund item; items[0].quantity: at most 1"
    wrapped = {
        "data": [{"status": 422, "title": "Unable to provide store credit for a guest customer."}]
    }
    assert (
        platform_message(json.dumps(wrapped))
        == "Unable to provide store credit for a guest customer."
    )
    assert platform_message("not json") is None


def test_statuses_map_to_the_classes() -> None:
    assert isinstance(error(401, [{"status": 401, "message": "Unauthorized"}]), AuthError)
    assert isinstance(error(403, {"status": 403, "title": "Missing scope"}), AuthError)
    assert isinstance(error(404, [{"status": 404, "message": "nope"}]), NotFound)
    rejected = error(
        422, {"status": 422, "title": "Requested quantity exceeds the refundable quantity"}
    )
    assert isinstance(rejected, Rejected)
    assert "Requested quantity exceeds" in rejected.message
    assert isinstance(error(409, {"status": 409, "title": "Conflict"}), Rejected)
    assert isinstance(error(429, {"status": 429, "title": "Too many"}), RateLimited)


def test_a_refund_in_progress_is_transient_and_not_ambiguous() -> None:
    busy = error(
        422,
        {"status": 422, "title": "A refund is already being processed for this order"},
        writes=True,
    )
    assert type(busy) is TransientError
    assert busy.details["ambiguous"] is False


def test_a_5xx_after_a_write_is_ambiguous() -> None:
    failed = error(503, {"status": 503, "title": "Service Unavailable"}, writes=True)
    assert isinstance(failed, TransientError)
    assert failed.details["ambiguous"] is True
    read = error(500, {"status": 500, "title": "Internal"})
    assert isinstance(read, TransientError)
    assert read.details["ambiguous"] is False
