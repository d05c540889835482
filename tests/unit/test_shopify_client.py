"""The Shopify GraphQL client and connector over an in-memory transport: headers, errors, limits."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from returnbridge.connectors.base.connector import OrderQuery, RefundCommand
from returnbridge.connectors.shopify.connector import ShopifyConnector
from returnbridge.connectors.shopify.limits import CostLimiter
from returnbridge.domain.errors import (
    AuthError,
    NotFound,
    PermanentError,
    RateLimited,
    Rejected,
    TransientError,
)

TOKEN = "shpat_secret_token_123"
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    def __init__(self, responses: list[httpx.Response | Exception]) -> None:
        self.responses = responses
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        outcome = self.responses.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def body(data: Any = None, *, errors: Any = None, available: float = 990) -> dict[str, Any]:
    result: dict[str, Any] = {
        "extensions": {
            "cost": {
                "requestedQueryCost": 10,
                "actualQueryCost": 10,
                "throttleStatus": {
                    "maximumAvailable": 1000,
                    "currentlyAvailable": available,
                    "restoreRate": 50,
                },
            }
        }
    }
    if data is not None:
        result["data"] = data
    if errors is not None:
        result["errors"] = errors
    return result


def ok(data: Any) -> httpx.Response:
    return httpx.Response(200, json=body(data), headers={"X-Request-Id": "req-1"})


def connector(recorder: Recorder, sleeps: list[float] | None = None) -> ShopifyConnector:
    record = sleeps if sleeps is not None else []
    now = [0.0]

    def sleep(seconds: float) -> None:  # a fake clock that moves only when we sleep
        record.append(seconds)
        now[0] += seconds

    limiter = CostLimiter(clock=lambda: now[0], sleep=sleep)
    http = httpx.Client(transport=httpx.MockTransport(recorder))
    return ShopifyConnector("demo.myshopify.com", TOKEN, http=http, limiter=limiter)


REFUND = RefundCommand(order_id="gid://shopify/Order/1", currency="USD", idempotency_key="key-1")


def test_requests_use_pinned_version_token_header_and_request_id() -> None:
    recorder = Recorder([ok({"locations": {"nodes": [], "pageInfo": {"hasNextPage": False}}})])
    assert connector(recorder).list_locations() == []
    (request,) = recorder.requests
    assert str(request.url) == "https://demo.myshopify.com/admin/api/2026-01/graphql.json"
    assert request.headers["X-Shopify-Access-Token"] == TOKEN
    assert request.headers["X-Request-Id"]
    payload = json.loads(request.content)
    assert payload["operationName"] == "Locations"
    assert "query Locations" in payload["query"]


def test_locations_follow_pagination() -> None:
    page1 = {
        "locations": {
            "nodes": [{"id": "gid://shopify/Location/1", "name": "Main", "isActive": True}],
            "pageInfo": {"hasNextPage": True, "endCursor": "c1"},
        }
    }
    page2 = {
        "locations": {
            "nodes": [{"id": "gid://shopify/Location/2", "name": "Old", "isActive": False}],
            "pageInfo": {"hasNextPage": False, "endCursor": "c2"},
        }
    }
    recorder = Recorder([ok(page1), ok(page2)])
    locations = connector(recorder).list_locations()
    assert [(x.name, x.active) for x in locations] == [("Main", True), ("Old", False)]
    assert json.loads(recorder.requests[1].content)["variables"] == {"after": "c1"}


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, AuthError),
        (403, AuthError),
        (404, NotFound),
        (423, PermanentError),
        (500, TransientError),
    ],
)
def test_http_status_maps_to_error_class(status: int, error: type[Exception]) -> None:
    recorder = Recorder([httpx.Response(status, text=f"bad token {TOKEN}")])
    with pytest.raises(error) as caught:
        connector(recorder).list_locations()
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value.details)  # type: ignore[attr-defined]


def test_http_429_honours_retry_after_then_succeeds() -> None:
    sleeps: list[float] = []
    recorder = Recorder(
        [
            httpx.Response(429, headers={"Retry-After": "2.0"}, text="Too many"),
            ok({"locations": {"nodes": [], "pageInfo": {"hasNextPage": False}}}),
        ]
    )
    assert connector(recorder, sleeps).list_locations() == []
    assert sleeps == [2.0]


def test_throttled_body_is_retried_after_the_deficit() -> None:
    sleeps: list[float] = []
    throttled = httpx.Response(
        200,
        json=body(
            errors=[{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
            available=5,
        ),
    )
    recorder = Recorder([throttled, ok({"locations": {"nodes": [], "pageInfo": {}}})])
    assert connector(recorder, sleeps).list_locations() == []
    assert sleeps == [pytest.approx(0.1)]  # (10 requested - 5 available) / 50 per second


def test_persistent_throttling_surfaces_as_rate_limited() -> None:
    throttled = httpx.Response(
        200, json=body(errors=[{"message": "Throttled", "extensions": {"code": "THROTTLED"}}])
    )
    with pytest.raises(RateLimited):
        connector(Recorder([throttled] * 4)).list_locations()


def test_server_error_on_mutation_is_ambiguous_transient() -> None:
    with pytest.raises(TransientError) as caught:
        connector(Recorder([httpx.Response(503, text="busy")])).create_refund(REFUND)
    assert caught.value.details["ambiguous"] is True
    assert caught.value.status == 503


def test_timeout_on_mutation_may_have_committed() -> None:
    recorder = Recorder([httpx.ReadTimeout("slow")])
    with pytest.raises(TransientError) as caught:
        connector(recorder).create_refund(REFUND)
    assert caught.value.code == "TIMEOUT"
    assert caught.value.details["ambiguous"] is True


def test_timeout_on_query_is_not_ambiguous() -> None:
    with pytest.raises(TransientError) as caught:
        connector(Recorder([httpx.ReadTimeout("slow")])).list_locations()
    assert caught.value.details["ambiguous"] is False


def test_connect_error_never_reached_the_server() -> None:
    with pytest.raises(TransientError) as caught:
        connector(Recorder([httpx.ConnectError("refused")])).create_refund(REFUND)
    assert caught.value.details["ambiguous"] is False


def test_user_errors_become_rejected_with_message_and_field() -> None:
    payload = {
        "refundCreate": {
            "refund": None,
            "userErrors": [
                {"field": ["refundLineItems", "0", "quantity"], "message": "Quantity is too high"}
            ],
        }
    }
    with pytest.raises(Rejected) as caught:
        connector(Recorder([ok(payload)])).create_refund(REFUND)
    assert caught.value.message == "Quantity is too high"
    assert caught.value.field == "refundLineItems.0.quantity"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("IDEMPOTENCY_KEY_PARAMETER_MISMATCH", PermanentError),
        ("IDEMPOTENCY_CONCURRENT_REQUEST", TransientError),
        ("ACCESS_DENIED", AuthError),
        ("MAX_COST_EXCEEDED", PermanentError),
    ],
)
def test_top_level_error_codes_map_to_error_classes(code: str, error: type[Exception]) -> None:
    response = httpx.Response(
        200, json=body(errors=[{"message": "nope", "extensions": {"code": code}}])
    )
    with pytest.raises(error) as caught:
        connector(Recorder([response])).create_refund(REFUND)
    assert caught.value.code == code  # type: ignore[attr-defined]


def test_idempotency_mismatch_in_user_errors_is_permanent_not_rejected() -> None:
    payload = {
        "refundCreate": {
            "refund": None,
            "userErrors": [{"field": None, "message": "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"}],
        }
    }
    with pytest.raises(PermanentError) as caught:
        connector(Recorder([ok(payload)])).create_refund(REFUND)
    assert not isinstance(caught.value, Rejected)


def test_missing_order_is_not_found() -> None:
    with pytest.raises(NotFound):
        connector(Recorder([ok({"order": None})])).get_order("gid://shopify/Order/404")


def test_refund_create_sends_key_as_idempotent_variable() -> None:
    refund: dict[str, Any] = {
        "id": "gid://shopify/Refund/9",
        "createdAt": "2026-01-01T00:00:00Z",
        "note": None,
        "totalRefundedSet": {
            "shopMoney": {"amount": "0.0", "currencyCode": "USD"},
            "presentmentMoney": {"amount": "0.0", "currencyCode": "USD"},
        },
        "refundLineItems": {"nodes": [], "pageInfo": {"hasNextPage": False}},
        "refundShippingLines": {"nodes": []},
    }
    recorder = Recorder([ok({"refundCreate": {"refund": refund, "userErrors": []}})])
    result = connector(recorder).create_refund(REFUND)
    assert (result.id, result.idempotency_key) == ("gid://shopify/Refund/9", "key-1")
    payload = json.loads(recorder.requests[0].content)
    assert payload["variables"]["idempotencyKey"] == "key-1"
    assert "@idempotent(key: $idempotencyKey)" in payload["query"]
    # the answer's line page is sized to the lines sent (requested cost follows `first`)
    assert set(payload["variables"]) == {"input", "idempotencyKey"}


def test_find_orders_drops_fuzzy_hits() -> None:
    def node(name: str) -> dict[str, Any]:
        return {
            "id": f"gid://shopify/Order/{name.strip('#')}",
            "name": name,
            "email": "a@example.com",
            "createdAt": "2026-01-01T00:00:00Z",
            "presentmentCurrencyCode": "USD",
            "totalPriceSet": {
                "shopMoney": {"amount": "1.00", "currencyCode": "USD"},
                "presentmentMoney": {"amount": "1.00", "currencyCode": "USD"},
            },
            "lineItems": {"nodes": []},
        }

    recorder = Recorder([ok({"orders": {"nodes": [node("#10010"), node("#1001")]}})])
    hits = connector(recorder).find_orders(OrderQuery(name="1001"))
    assert [h.name for h in hits] == ["#1001"]
    variables = json.loads(recorder.requests[0].content)["variables"]
    assert variables["query"] == "(name:1001 OR name:#1001)"


def test_empty_query_makes_no_request() -> None:
    recorder = Recorder([])
    assert connector(recorder).find_orders(OrderQuery()) == []
    assert recorder.requests == []


def minimal_order(refunded: str) -> dict[str, Any]:
    def money(amount: str) -> dict[str, Any]:
        return {
            "shopMoney": {"amount": amount, "currencyCode": "USD"},
            "presentmentMoney": {"amount": amount, "currencyCode": "USD"},
        }

    return {
        "order": {
            "id": "gid://shopify/Order/1",
            "name": "#1001",
            "email": None,
            "createdAt": "2026-01-01T00:00:00Z",
            "currencyCode": "USD",
            "presentmentCurrencyCode": "USD",
            "taxesIncluded": False,
            "totalReceivedSet": money("10.00"),
            "totalRefundedSet": money(refunded),
            "lineItems": {"nodes": [], "pageInfo": {"hasNextPage": False}},
            "shippingLines": {"nodes": [], "pageInfo": {"hasNextPage": False}},
            "transactions": [],
        }
    }


NO_REFUNDS = {"order": {"id": "gid://shopify/Order/1", "refunds": []}}


def large_order(refunded: str) -> dict[str, Any]:
    """An order whose first (small) page of lines says more lines follow."""
    page = minimal_order(refunded)
    page["order"]["lineItems"]["pageInfo"]["hasNextPage"] = True
    return page


def test_get_order_reads_a_small_order_and_its_refunds_in_one_call() -> None:
    page = minimal_order("0.00")
    page["order"]["refunds"] = []
    recorder = Recorder([ok(page)])
    order = connector(recorder).get_order("gid://shopify/Order/1")
    assert order.already_refunded_amount == 0
    assert len(recorder.requests) == 1
    variables = json.loads(recorder.requests[0].content)["variables"]
    assert variables == {
        "id": "gid://shopify/Order/1",
        "lines": 8,
        "shippingLines": 2,
        "transactions": 6,
        "refunds": 4,
        "shopMoney": False,
        "totals": False,
    }


def test_a_multi_currency_order_is_read_again_with_shop_money_and_the_store_remembered() -> None:
    euro = minimal_order("0.00")
    euro["order"]["presentmentCurrencyCode"] = "EUR"
    euro["order"]["refunds"] = []
    for bag in (euro["order"]["totalReceivedSet"], euro["order"]["totalRefundedSet"]):
        bag["presentmentMoney"]["currencyCode"] = "EUR"
    recorder = Recorder([ok(euro), ok(euro), ok(euro)])
    first = connector(recorder)
    order = first.get_order("gid://shopify/Order/1")
    assert (order.currency, order.shop_currency, order.amount_paid_shop) == ("EUR", "USD", 1000)
    assert first.hints == {"shop_money": True}
    again = connector(recorder)
    again.hints = first.hints  # the runtime shares one hints dict per connection
    again.get_order("gid://shopify/Order/1")
    sent = [json.loads(r.content)["variables"]["shopMoney"] for r in recorder.requests]
    assert sent == [False, True, True]


def test_get_order_reads_again_with_large_pages_when_the_small_ones_overflow() -> None:
    small = minimal_order("0.00")
    small["order"]["transactions"] = [{"id": f"t{i}"} for i in range(6)]  # 6 of 6: maybe more
    recorder = Recorder([ok(small), ok(minimal_order("0.00")), ok(NO_REFUNDS)])
    connector(recorder).get_order("gid://shopify/Order/1")
    sent = [json.loads(r.content) for r in recorder.requests]
    assert [p["operationName"] for p in sent] == ["Order", "Order", "OrderRefunds"]
    assert (sent[1]["variables"]["lines"], sent[1]["variables"]["refunds"]) == (50, 0)


def test_get_order_rereads_when_a_refund_lands_between_reads() -> None:
    recorder = Recorder(
        [
            ok(large_order("0.00")),
            ok(minimal_order("5.00")),
            ok(NO_REFUNDS),
            ok(minimal_order("0.00")),
            ok(NO_REFUNDS),
        ]
    )
    order = connector(recorder).get_order("gid://shopify/Order/1")
    assert order.already_refunded_amount == 0
    assert len(recorder.requests) == 5


def test_get_order_gives_up_when_reads_keep_disagreeing() -> None:
    recorder = Recorder([ok(large_order("0.00"))] + [ok(minimal_order("5.00")), ok(NO_REFUNDS)] * 2)
    with pytest.raises(TransientError) as caught:
        connector(recorder).get_order("gid://shopify/Order/1")
    assert caught.value.code == "ORDER_CHANGING"


def test_get_order_refuses_to_truncate_line_items() -> None:
    recorder = Recorder([ok(large_order("0.00")), ok(large_order("0.00"))])
    with pytest.raises(PermanentError) as caught:
        connector(recorder).get_order("gid://shopify/Order/1")
    assert caught.value.code == "ORDER_TOO_LARGE"


def test_redirect_is_not_followed() -> None:
    moved = httpx.Response(301, headers={"Location": "https://other.myshopify.com/admin"})
    with pytest.raises(PermanentError) as caught:
        connector(Recorder([moved])).list_locations()
    assert caught.value.code == "UNEXPECTED_REDIRECT"


def test_non_json_success_body_is_transient() -> None:
    with pytest.raises(TransientError) as caught:
        connector(Recorder([httpx.Response(200, text="<html>maintenance</html>")])).list_locations()
    assert caught.value.code == "INVALID_JSON"
