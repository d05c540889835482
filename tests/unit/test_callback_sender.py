"""One callback attempt: sent to the checked address, redirects not followed, answers bounded."""

from __future__ import annotations

import socket

import httpx
import pytest

from returnbridge.notify.callbacks.sender import EXCERPT, post


def _client(handler: httpx.MockTransport) -> httpx.Client:
    return httpx.Client(transport=handler)


def test_the_request_goes_to_the_checked_address_with_the_original_host() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    with _client(httpx.MockTransport(answer)) as client:
        attempt = post(
            client, "http://localhost:8123/hooks?a=1", b"{}", {"webhook-id": "msg_1"},
            allow_private=True,
        )  # fmt: skip
    assert attempt.ok
    assert (attempt.status_code, attempt.error, attempt.excerpt) == (204, None, None)
    [request] = seen
    assert request.url.host in {"127.0.0.1", "::1"}
    assert (request.url.port, request.url.path, request.url.query) == (8123, "/hooks", b"a=1")
    assert request.headers["host"] == "localhost:8123"
    assert request.headers["webhook-id"] == "msg_1"
    assert request.extensions["sni_hostname"] == "localhost"


def test_a_redirect_is_a_failed_attempt_and_is_not_followed() -> None:
    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/"})

    with _client(httpx.MockTransport(answer)) as client:
        attempt = post(client, "http://127.0.0.1/h", b"{}", {}, allow_private=True)
    assert len(calls) == 1
    assert not attempt.ok
    assert (attempt.status_code, attempt.error) == (302, "the endpoint answered 302")


def test_only_the_start_of_a_long_answer_is_kept() -> None:
    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(500, content=b"x" * 1_000_000)

    with _client(httpx.MockTransport(answer)) as client:
        attempt = post(client, "http://127.0.0.1/h", b"{}", {}, allow_private=True)
    assert attempt.excerpt == "x" * EXCERPT


def test_an_unreachable_endpoint_and_a_timeout_are_told_in_our_words() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with _client(httpx.MockTransport(refuse)) as client:
        refused = post(client, "http://127.0.0.1/h", b"{}", {}, allow_private=True)
    with _client(httpx.MockTransport(slow)) as client:
        late = post(client, "http://127.0.0.1/h", b"{}", {}, allow_private=True)
    assert (refused.ok, refused.error) == (False, "the endpoint could not be reached")
    assert (late.ok, late.error) == (False, "the endpoint did not answer in time")


def test_a_private_address_is_refused_before_any_request() -> None:
    def answer(_: httpx.Request) -> httpx.Response:
        raise AssertionError("no request may be sent")

    with _client(httpx.MockTransport(answer)) as client:
        attempt = post(client, "http://10.0.0.8/h", b"{}", {}, allow_private=False)
    assert not attempt.ok
    assert attempt.status_code is None
    assert attempt.error is not None
    assert "private or reserved address" in attempt.error


def test_an_ipv6_literal_keeps_its_brackets_in_the_host_header() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    with _client(httpx.MockTransport(answer)) as client:
        assert post(client, "http://[::1]:8123/h", b"{}", {}, allow_private=True).ok
    assert seen[0].headers["host"] == "[::1]:8123"
    assert seen[0].url.host == "::1"


def test_the_next_checked_address_is_tried_when_one_refuses_the_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = [
        (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2606:4700::1", 443, 0, 0)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443)),
    ]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *_, **__: found)
    hosts: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        if request.url.host == "2606:4700::1":
            raise httpx.ConnectError("unreachable", request=request)
        return httpx.Response(202)

    with _client(httpx.MockTransport(answer)) as client:
        attempt = post(client, "https://vendor.example/h", b"{}", {}, allow_private=False)
    assert attempt.ok
    assert hosts == ["2606:4700::1", "93.184.216.34"]


def test_a_name_with_one_private_address_among_public_ones_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", 443)),
    ]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *_, **__: found)

    def answer(_: httpx.Request) -> httpx.Response:
        raise AssertionError("no request may be sent")

    with _client(httpx.MockTransport(answer)) as client:
        attempt = post(client, "https://vendor.example/h", b"{}", {}, allow_private=False)
    assert attempt.error is not None
    assert "10.0.0.7" in attempt.error
