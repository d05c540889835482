"""The Loop connector against the Loop sandbox over real HTTP: a return opened once even when
asked twice, Loop's refusals (also inside HTTP 200) in our words, the 429 waited out, the
detailed list paged, webhooks verified on the raw body as the sandbox signs them."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from returnbridge.connectors.base.returns_system import ReturnLine, ReturnsSystemRequest
from returnbridge.connectors.loop.connector import LoopConnector, LoopRefused
from returnbridge.connectors.loop.limits import MinuteBudget
from returnbridge.connectors.loop.webhooks import parse_event, verify_signature
from returnbridge.domain.errors import AuthError, NotFound, RateLimited, Rejected, TransientError
from returnbridge.sandbox.loop import BackgroundServer
from support.receiver import ReceivingServer

KEY = "k-secret-loop-key"
SECRET = "whsec-loop"


class FakeTime:
    """A monotonic clock that only sleeping moves; records the sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


@pytest.fixture
def server() -> Iterator[str]:
    with BackgroundServer() as running:
        control = httpx.Client(base_url=running.url, timeout=10)
        control.post(
            "/_sandbox/shops",
            json={"name": "acme", "api_key": KEY, "auto_process_seconds": None,
                  "unavailable_orders": ["#2"]},
        ).raise_for_status()  # fmt: skip
        for number in range(1, 7):
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


def _request(
    name: str = "#1", key: str = "rb-ret_1-1-sync", units: int = 3
) -> ReturnsSystemRequest:
    return ReturnsSystemRequest(
        key=key,
        order_name=name,
        order_id="gid://shopify/Order/9001",
        secondary_input="jane@example.com",
        lines=(ReturnLine("gid://shopify/LineItem/11", units, "chipped"),),
        note="return TCK-1",
    )


def _journal(url: str, operation: str) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = httpx.get(
        f"{url}/_sandbox/journal", params={"operation": operation}
    ).json()
    return body


def _fault(url: str, **fault: Any) -> None:
    httpx.post(f"{url}/_sandbox/faults", json=fault).raise_for_status()


def _returns(url: str) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = httpx.get(f"{url}/_sandbox/shops/acme/returns").json()
    return body


def _quick(url: str) -> LoopConnector:
    """A connector whose waits (after a 429 or a failed key note) take no real time."""
    fake = FakeTime()
    return LoopConnector(url, KEY, budget=MinuteBudget(sleep=fake.sleep, clock=fake.clock))


def test_a_return_is_opened_once_even_when_asked_again(server: str) -> None:
    loop = LoopConnector(server, KEY, page_size=1)
    loop.open_return(_request(name="#3", key="other"))  # another order's return, on page 1
    opened = loop.open_return(_request())
    again = loop.open_return(_request())
    assert again.id == opened.id
    assert (opened.state, str(opened.total), str(opened.refund)) == ("open", "32.55", "0.00")
    assert (opened.order_name, opened.currency) == ("#1", "USD")
    assert (str(opened.product_total), str(opened.tax_total), str(opened.discount_total)) == (
        "36.00", "1.55", "5.00"
    )  # fmt: skip
    assert opened.lines == (ReturnLine("11", 3, "chipped"),)
    assert len(_journal(server, "submitDraftReturn")) == 2  # #3 and #1, once each
    assert len([r for r in _returns(server) if r["order_name"] == "#1"]) == 1


def test_a_key_note_lost_to_a_server_error_is_added_again(server: str) -> None:
    _fault(server, kind="server_error", count=1, operation="createReturnNote")
    loop = _quick(server)
    opened = loop.open_return(_request())
    assert loop.open_return(_request()).id == opened.id
    assert len(_returns(server)) == 1


def test_a_submit_that_timed_out_after_loop_committed_is_asked_again(server: str) -> None:
    _fault(server, kind="timeout_after_commit", count=1, operation="submitDraftReturn", delay=0.6)
    loop = LoopConnector(server, KEY, timeout=0.4)
    opened = loop.open_return(_request())
    assert len(_returns(server)) == 1
    assert loop.open_return(_request()).id == opened.id


def test_processing_is_queued_then_loop_refuses_inside_a_200(server: str) -> None:
    loop = LoopConnector(server, KEY)
    opened = loop.open_return(_request())
    loop.process(opened.id, note="returnbridge: goods received " + "x" * 400)
    assert loop.get_return(opened.id).state == "open"  # queued only
    httpx.post(f"{server}/_sandbox/shops/acme/process_pending").raise_for_status()
    done = loop.get_return(opened.id)
    assert (done.state, str(done.refund), str(done.total)) == ("closed", "32.55", "32.55")
    with pytest.raises(LoopRefused, match="Return is closed and therefore cannot be processed"):
        loop.process(opened.id)
    notes = done.raw["notes"]
    assert all(len(n["content"]) < 255 for n in notes)
    assert len(notes) == 2


def test_close_ends_the_return_without_a_refund(server: str) -> None:
    loop = LoopConnector(server, KEY)
    opened = loop.open_return(_request())
    loop.close(opened.id, note="handled in the store")
    closed = loop.get_return(opened.id)
    assert (closed.state, str(closed.refund)) == ("closed", "0.00")
    with pytest.raises(LoopRefused, match="close return"):
        loop.close(opened.id)


def test_cancel_frees_the_items_and_is_refused_once_closed(server: str) -> None:
    loop = LoopConnector(server, KEY)
    opened = loop.open_return(_request())
    loop.cancel(opened.id, note="customer kept the mug")
    assert loop.get_return(opened.id).state == "cancelled"
    assert loop.open_return(_request()).id == opened.id  # our key: still that return
    second = loop.open_return(_request(key="rb-ret_1-2-sync"))
    assert second.id != opened.id
    assert second.state == "open"
    loop.close(second.id)
    with pytest.raises(LoopRefused):
        loop.cancel(second.id)


def test_an_order_no_policy_covers_is_refused_for_good_in_our_words(server: str) -> None:
    loop = LoopConnector(server, KEY)
    with pytest.raises(Rejected, match="Loop has no return policy covering this order") as info:
        loop.open_return(_request(name="#2"))
    assert info.value.code == "RETURNS_UNAVAILABLE_FOR_ORDER"
    refused = _journal(server, "refused")
    assert [e["status"] for e in refused if str(e["path"]).endswith("/submit")] == [422]


def test_more_units_than_remain_is_refused_in_our_words(server: str) -> None:
    loop = LoopConnector(server, KEY)
    loop.open_return(_request(units=2))
    with pytest.raises(Rejected, match="more units than remain returnable") as info:
        loop.open_return(_request(key="rb-ret_9-1-sync", units=2))
    assert info.value.code == "LOOP_QUANTITY_UNAVAILABLE"


def test_an_unknown_return_is_not_found(server: str) -> None:
    with pytest.raises(NotFound, match="read return 999"):
        LoopConnector(server, KEY).get_return("999")


def test_a_wrong_key_is_an_auth_error_that_never_shows_the_key(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-key-12345"
    with pytest.raises(AuthError) as info:
        LoopConnector(server, wrong).get_return("1")
    assert info.value.code == "LOOP_UNAUTHORIZED"
    assert wrong not in str(info.value)
    assert wrong not in json.dumps(info.value.details, default=str)
    _fault(server, kind="server_error", count=1, operation="createReturnNote")
    loop = _quick(server)
    opened = loop.open_return(_request())
    _fault(server, kind="server_error", count=1, operation="createReturnNote")
    loop.close(opened.id, note="a note that fails, logged")
    assert "the note was not added" in caplog.text
    assert wrong not in caplog.text
    assert KEY not in caplog.text


def test_server_errors_are_transient_and_writes_ambiguous(server: str) -> None:
    loop = LoopConnector(server, KEY)
    opened = loop.open_return(_request())
    _fault(server, kind="server_error", count=1, operation="getReturnDetails")
    with pytest.raises(TransientError) as read:
        loop.get_return(opened.id)
    assert read.value.details["ambiguous"] is False
    _fault(server, kind="server_error", count=1, operation="processReturn")
    with pytest.raises(TransientError) as write:
        loop.process(opened.id)
    assert write.value.details["ambiguous"] is True


def test_a_429_holds_the_connection_and_is_retried(server: str) -> None:
    _fault(server, kind="rate_limit", count=2, operation="getReturnDetails")
    fake = FakeTime()
    budget = MinuteBudget(sleep=fake.sleep, clock=fake.clock)
    loop = LoopConnector(server, KEY, budget=budget)
    opened = loop.open_return(_request())
    assert fake.slept == [1.0, 2.0]  # opening ends by reading the details
    assert loop.get_return(opened.id).id == opened.id
    _fault(server, kind="rate_limit", count=9, operation="getReturnDetails")
    with pytest.raises(RateLimited, match="rate limit"):
        loop.get_return(opened.id)
    assert fake.slept[2:] == [1.0, 2.0, 4.0, 8.0]


def test_changed_since_reads_every_page_and_splits_long_ranges(server: str) -> None:
    loop = LoopConnector(server, KEY, page_size=2)
    ids = {loop.open_return(_request(name=f"#{n}", key=f"k{n}")).id for n in (1, 3, 4, 5, 6)}
    before = len(_journal(server, "getDetailedReturnsList"))
    now = datetime.now(UTC)
    changed = loop.changed_since(now - timedelta(minutes=5), now + timedelta(minutes=1))
    assert {r.id for r in changed} == ids
    assert len(changed) == 5
    assert len(_journal(server, "getDetailedReturnsList")) - before == 3  # 2 + 2 + 1
    year = loop.changed_since(now - timedelta(days=365), now + timedelta(minutes=1))
    assert {r.id for r in year} == ids  # four windows Loop accepts, not one it refuses


def test_webhooks_from_the_sandbox_verify_on_the_raw_body(server: str) -> None:
    with ReceivingServer() as receiver:
        httpx.post(
            f"{server}/_sandbox/shops/acme/webhooks", json={"url": receiver.url, "secret": SECRET}
        ).raise_for_status()
        _fault(server, kind="processing_failed", count=1, operation="processing")
        loop = LoopConnector(server, KEY)
        opened = loop.open_return(_request())
        loop.process(opened.id)
        httpx.post(f"{server}/_sandbox/shops/acme/process_pending").raise_for_status()
        deadline = time.monotonic() + 5
        while len(receiver.receiver.received()) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        created, failed = receiver.receiver.received()[:2]
    for delivery in (created, failed):
        header = delivery.headers["x-loop-signature"]
        assert verify_signature(delivery.body, header, SECRET)
        assert not verify_signature(delivery.body, header, "forged-secret")
        assert not verify_signature(delivery.body.replace(b'"open"', b'"closed"'), header, SECRET)
    assert parse_event(created.body)[0] == "return.created"
    trigger, reported = parse_event(failed.body)
    assert (trigger, reported.id, reported.state) == ("return.processing.failed", opened.id, "open")
    assert reported.processing_error
