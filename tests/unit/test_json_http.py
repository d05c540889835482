"""The platform-neutral HTTP base: GET, POST and PUT with query parameters, over MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from returnbridge.connectors.base.http import JsonHttpClient
from returnbridge.domain.errors import TransientError

BASE = "https://store.example/wp-json/wc/v3"


def client(
    answer: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request]
) -> JsonHttpClient:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    http = httpx.Client(transport=httpx.MockTransport(handle))
    return JsonHttpClient(BASE, headers={"Authorization": "Basic abc"}, http=http)


def test_a_get_sends_its_query_and_no_body() -> None:
    seen: list[httpx.Request] = []
    api = client(
        lambda _r: httpx.Response(200, json=[{"id": 1}], headers={"X-WP-Total": "1"}), seen
    )

    answer = api.get_json("orders", params={"search": "jane@example.com", "include": [1, 2]})

    [request] = seen
    assert request.method == "GET"
    assert request.url.path == "/wp-json/wc/v3/orders"
    assert request.url.params.get_list("include") == ["1", "2"]
    assert request.url.params["search"] == "jane@example.com"
    assert request.content == b""
    assert "content-type" not in request.headers
    assert request.headers["authorization"] == "Basic abc"
    assert (answer.status, answer.body, answer.headers["x-wp-total"]) == (200, [{"id": 1}], "1")


def test_a_put_sends_json_with_its_query() -> None:
    seen: list[httpx.Request] = []
    api = client(lambda r: httpx.Response(200, json=json.loads(r.content)), seen)

    answer = api.put_json("orders/7", {"status": "refunded"}, params=(("force", "true"),))

    [request] = seen
    assert (request.method, request.url.params["force"]) == ("PUT", "true")
    assert request.headers["content-type"] == "application/json"
    assert answer.body == {"status": "refunded"}


def test_no_content_decodes_as_none_and_other_non_json_is_an_error() -> None:
    api = client(lambda _r: httpx.Response(204), [])
    assert api.get_json("orders/7/refunds").body is None

    api = client(lambda _r: httpx.Response(200, text="<html>maintenance</html>"), [])
    with pytest.raises(TransientError) as raised:
        api.get_json("orders/7")
    assert raised.value.code == "INVALID_JSON"
    assert "GET orders/7" in str(raised.value)


def test_a_put_that_times_out_may_have_been_written_and_a_get_not() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    api = client(timeout, [])
    with pytest.raises(TransientError) as put:
        api.put_json("orders/7", {"status": "refunded"})
    with pytest.raises(TransientError) as get:
        api.get_json("orders/7")
    assert (put.value.details["ambiguous"], get.value.details["ambiguous"]) == (True, False)
    assert "may have been committed" in str(put.value)
