"""The Loop connector against the Loop sandbox over real HTTP: a return opened once even when
asked twice, Loop's refusals (also inside HTTP 200) in our words, the 429 waited out, the
detailed list paged, webhooks verified on the raw body."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from returnbridge.connectors.base.returns_system import ReturnLine, ReturnsSystemRequest
from returnbridge.connectors.loop.connector import LoopConnector, LoopRefused
from returnbridge.connectors.loop.webhooks import parse_event, signature, verify_signature
from returnbridge.domain.errors import AuthError, DomainError, Rejected
from returnbridge.sandbox.loop import BackgroundServer

KEY = "k-secret-loop-key"


@pytest.fixture
def server() -> Iterator[str]:
    with BackgroundServer() as running:
        control = httpx.Client(base_url=running.url, timeout=10)
        control.post(
            "/_sandbox/shops",
            json={"name": "acme", "api_key": KEY, "auto_process_seconds": None,
                  "unavailable_orders": ["#2"]},
        ).raise_for_status()  # fmt: skip
        for number in (1, 2, 3):
            control.post(
                "/_sandbox/shops/acme/orders",
                json={
                    "name": f"#{number}",
                    "provider_order_id": 9000 + number,
                    "email": "jane@example.com",
                    "line_items": [
                        {"id": 11, "sku": "MUG", "title": "Mug", "quantity": 3,
                         "price": "12.00", "tax": "1.55", "discount": "5.00"}
                    ],
                },
            ).raise_for_status()  # fmt: skip
        yield running.url


def _request(name: str = "#1", key: str = "rb-ret_1-1-sync") -> ReturnsSystemRequest:
    return ReturnsSystemRequest(
        key=key,
        order_name=name,
        order_id="gid://shopify/Order/9001",
        secondary_input="jane@example.com",
        lines=(ReturnLine("gid://shopify/LineItem/11", 3, "chipped"),),
        note="return TCK-1",
    )


def _journal(url: str, operation: str) -> list[dict[str, object]]:
    body: list[dict[str, object]] = httpx.get(
        f"{url}/_sandbox/journal", params={"operation": operation}
    ).json()
    return body


def test_a_return_is_opened_once_even_when_asked_again(server: str) -> None:
    loop = LoopConnector(server, KEY)
    opened = loop.open_return(_request())
    again = loop.open_return(_request())
    assert again.id == opened.id
    assert (opened.state, str(opened.total), str(opened.refund)) == ("open", "32.55", "0.00")
    assert opened.lines == (ReturnLine("11", 3, "chipped"),)
    assert len(_journal(server, "submitDraftReturn")) == 1
    other = loop.open_return(_request(key="rb-ret_2-1-sync", name="#3"))
    assert other.id != opened.id


def test_processing_then_loops_refusal_inside_a_200(server: str) -> None:
    loop = LoopConnector(server, KEY)
    opened = loop.open_return(_request())
    loop.process(opened.id, note="returnbridge: process")
    assert loop.get_return(opened.id).state == "open"  # queued only
    httpx.post(f"{server}/_sandbox/shops/acme/process_pending").raise_for_status()
    done = loop.get_return(opened.id)
    assert (done.state, str(done.refund)) == ("closed", "32.55")
    with pytest.raises(LoopRefused, match="Return is closed and therefore cannot be processed"):
        loop.process(opened.id)


def test_an_order_no_policy_covers_is_refused_for_good_in_our_words(server: str) -> None:
    loop = LoopConnector(server, KEY)
    with pytest.raises(Rejected, match="Loop has no return policy covering this order") as info:
        loop.open_return(_request(name="#2"))
    assert info.value.code == "RETURNS_UNAVAILABLE_FOR_ORDER"


def test_a_wrong_key_is_an_auth_error_that_never_shows_the_key(server: str) -> None:
    loop = LoopConnector(server, "not-the-key-12345")
    with pytest.raises(AuthError) as info:
        loop.get_return("1")
    assert "not-the-key-12345" not in str(info.value)
    assert "not-the-key-12345" not in json.dumps(info.value.details, default=str)


def test_a_429_is_waited_out_and_retried(server: str) -> None:
    httpx.post(
        f"{server}/_sandbox/faults",
        json={"kind": "rate_limit", "count": 2, "operation": "getReturnDetails"},
    ).raise_for_status()
    slept: list[float] = []
    loop = LoopConnector(server, KEY, sleep=slept.append)
    opened = loop.open_return(_request())
    assert loop.get_return(opened.id).id == opened.id
    assert slept == [1.0, 2.0]


def test_changed_since_reads_every_page_of_the_updated_list(server: str) -> None:
    loop = LoopConnector(server, KEY)
    ids = {loop.open_return(_request(name=f"#{n}", key=f"k{n}")).id for n in (1, 3)}
    now = datetime.now(UTC)
    changed = loop.changed_since(now - timedelta(minutes=5), now + timedelta(minutes=1))
    assert {r.id for r in changed} == ids
    assert len(changed) == 2


def test_webhook_signatures_are_checked_on_the_raw_body() -> None:
    body = b'{"topic":"return","trigger":"return.closed","id":7,"state":"closed","refund":"1.00"}'
    good = signature(body, "s3cret")
    assert verify_signature(body, good, "s3cret")
    assert not verify_signature(body + b" ", good, "s3cret")
    assert not verify_signature(body, good, "other")
    assert not verify_signature(body, None, "s3cret")
    trigger, reported = parse_event(body)
    assert (trigger, reported.id, reported.state, str(reported.refund)) == (
        "return.closed", "7", "closed", "1.00"
    )  # fmt: skip
    failed = b'{"trigger":"return.processing.failed","id":7,"state":"open","message":null}'
    assert parse_event(failed)[1].processing_error == "Loop reported that processing failed"
    with pytest.raises(DomainError):
        parse_event(b"[1, 2]")
