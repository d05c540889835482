"""Poll config checks, the error table and page requests over httpx's MockTransport."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from returnbridge.domain.errors import (
    AuthError,
    DomainError,
    PermanentError,
    RateLimited,
    TransientError,
)
from returnbridge.engine.poll_config import parse_config
from returnbridge.engine.poll_http import HmacAuth, build_auth, classify, fetch_page
from returnbridge.engine.polling import poll_key

URL = "https://vendor.example/api/returns"


def _client(answer: Any, seen: list[httpx.Request]) -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request) if callable(answer) else answer

    return httpx.Client(transport=httpx.MockTransport(handle))


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, AuthError), (403, AuthError), (429, RateLimited), (500, TransientError),
     (503, TransientError), (408, TransientError), (400, PermanentError), (422, PermanentError)],
)  # fmt: skip
def test_vendor_statuses_are_classified_by_what_the_sync_should_do(
    status: int, kind: type[Exception]
) -> None:
    assert classify(status) is kind


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"url": "ftp://x"}, "url"),
        ({"url": URL, "schedule": "every day"}, "schedule"),
        ({"url": URL, "cursor": "opaque", "pagination": "page"}, "config"),
        ({"url": URL, "pagination": "infinite"}, "pagination"),
        ({"url": URL, "surprise": 1}, "surprise"),
    ],
)
def test_a_bad_config_is_refused_naming_the_field(config: dict[str, Any], field: str) -> None:
    with pytest.raises(DomainError) as refused:
        parse_config(config)
    assert refused.value.code == "SOURCE_CONFIG_INVALID"
    assert (refused.value.field or "config") == field


def test_missing_secrets_are_named_and_given_ones_never_echoed() -> None:
    config = parse_config({"url": URL, "auth": "basic"})
    with pytest.raises(DomainError) as refused:
        config.check_secrets({"username": "acme", "password": ""})
    assert refused.value.message == "auth 'basic' needs secrets: password"
    assert "acme" not in refused.value.message


def test_a_six_field_schedule_counts_seconds() -> None:
    config = parse_config({"url": URL, "schedule": "*/10 * * * * *"})
    at = datetime(2026, 1, 1, 0, 0, 3, tzinfo=UTC)
    assert config.next_run_after(at) == datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC)


def test_page_numbers_advance_until_a_short_page() -> None:
    config = parse_config({"url": URL, "page_size": 2})
    seen: list[httpx.Request] = []
    since = datetime(2026, 1, 1, tzinfo=UTC)
    full = _client(httpx.Response(200, json={"returns": [{}, {}]}), seen)
    short = _client(httpx.Response(200, json={"returns": [{}]}), seen)

    first = fetch_page(full, config, since=since, position=None, page_number=1, auth=None)
    last = fetch_page(short, config, since=since, position="2", page_number=2, auth=None)

    assert (first.next_position, last.next_position) == ("2", None)
    assert dict(seen[0].url.params) == {
        "per_page": "2", "page": "1", "updated_since": "2026-01-01T00:00:00Z",
    }  # fmt: skip
    assert seen[1].url.params["page"] == "2"


def test_a_next_link_keeps_its_query_and_may_not_leave_the_vendor() -> None:
    config = parse_config({"url": URL, "pagination": "link"})
    seen: list[httpx.Request] = []
    following = f"{URL}?page=2&per_page=50&updated_since=x"
    client = _client(
        httpx.Response(200, json=[{}], headers={"Link": f'<{following}>; rel="next"'}), seen
    )
    page = fetch_page(client, config, since=None, position=None, page_number=1, auth=None)
    fetch_page(client, config, since=None, position=page.next_position, page_number=2, auth=None)
    assert str(seen[1].url) == following

    elsewhere = _client(
        httpx.Response(200, json=[], headers={"Link": '<https://evil.example/x>; rel="next"'}),
        seen,
    )
    with pytest.raises(PermanentError, match="leaves the vendor's host"):
        fetch_page(elsewhere, config, since=None, position=None, page_number=1, auth=None)


def test_an_opaque_cursor_is_kept_even_from_the_last_page() -> None:
    config = parse_config({"url": URL, "pagination": "cursor", "cursor": "opaque"})
    body = {"returns": [{}], "next_cursor": "c-9", "end_of_stream": True}
    client = _client(httpx.Response(200, json=body), [])
    page = fetch_page(client, config, since=None, position="c-8", page_number=1, auth=None)
    assert (page.next_position, page.feed_cursor) == (None, "c-9")


def test_a_failing_page_says_which_page_and_status_and_nothing_of_the_body() -> None:
    config = parse_config({"url": URL})
    client = _client(httpx.Response(503, text="secret stack trace"), [])
    with pytest.raises(TransientError) as failed:
        fetch_page(client, config, since=None, position="3", page_number=3, auth=None)
    assert failed.value.message == "page 3: vendor answered HTTP 503"


def test_a_body_without_the_records_list_is_refused() -> None:
    config = parse_config({"url": URL, "records_path": "data.items"})
    client = _client(httpx.Response(200, json={"data": {}}), [])
    with pytest.raises(PermanentError, match=r"no list of records at 'data\.items'"):
        fetch_page(client, config, since=None, position=None, page_number=1, auth=None)


def test_hmac_auth_signs_timestamp_method_and_path_with_query() -> None:
    seen: list[httpx.Request] = []
    auth = HmacAuth(
        "s3cret", signature_header="X-Sig", timestamp_header="X-Ts", clock=lambda: 1_700_000_000
    )
    client = _client(httpx.Response(200, json=[]), seen)
    client.get(f"{URL}?page=2", auth=auth)
    message = b"1700000000.GET./api/returns?page=2"
    expected = hmac.new(b"s3cret", message, hashlib.sha256).hexdigest()
    assert seen[0].headers["X-Ts"] == "1700000000"
    assert seen[0].headers["X-Sig"] == f"sha256={expected}"


def test_bearer_and_basic_auth_headers() -> None:
    seen: list[httpx.Request] = []
    client = _client(httpx.Response(200, json=[]), seen)
    bearer = build_auth(parse_config({"url": URL, "auth": "bearer"}), {"token": "t1"})
    basic = build_auth(
        parse_config({"url": URL, "auth": "basic"}), {"username": "u", "password": "p"}
    )
    client.get(URL, auth=bearer)
    client.get(URL, auth=basic)
    assert seen[0].headers["Authorization"] == "Bearer t1"
    assert seen[1].headers["Authorization"] == "Basic dTpw"


def test_poll_keys_name_source_record_and_revision_and_stay_storable() -> None:
    assert poll_key("src_1", "RMA-7", 3) == "poll:src_1:RMA-7:3"
    assert poll_key("src_1", "RMA-7", 3) != poll_key("src_1", "RMA-7", 4)
    long_key = poll_key("src_1", "x" * 300, 1)
    assert len(long_key) <= 255
    assert long_key != poll_key("src_1", "x" * 299, 1)
