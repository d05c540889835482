"""Cost-point limiter: waits before sending, THROTTLED -> RateLimited, bounded retries."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from returnbridge.connectors.base.http import parse_retry_after
from returnbridge.connectors.shopify.limits import (
    CostBucket,
    CostLimiter,
    RetryPolicy,
    ThrottleStatus,
    throttled_error,
)
from returnbridge.domain.errors import RateLimited


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def cost(
    requested: float, available: float, *, maximum: float = 1000, rate: float = 50
) -> dict[str, Any]:
    return {
        "requestedQueryCost": requested,
        "actualQueryCost": None,
        "throttleStatus": {
            "maximumAvailable": maximum,
            "currentlyAvailable": available,
            "restoreRate": rate,
        },
    }


def test_bucket_sends_without_waiting_while_points_last() -> None:
    t = FakeTime()
    bucket = CostBucket(maximum=100, restore_rate=10, clock=t.clock, sleep=t.sleep)
    assert bucket.acquire(60) == 0
    assert bucket.acquire(40) == 0
    assert t.sleeps == []


def test_bucket_waits_for_the_deficit_at_the_restore_rate() -> None:
    t = FakeTime()
    bucket = CostBucket(maximum=100, restore_rate=10, clock=t.clock, sleep=t.sleep)
    bucket.acquire(80)
    assert bucket.acquire(50) == pytest.approx(3.0)  # 20 left, 30 short, 10 points/s
    assert t.sleeps == [pytest.approx(3.0)]


def test_bucket_refills_with_time_up_to_its_maximum() -> None:
    t = FakeTime()
    bucket = CostBucket(maximum=100, restore_rate=10, clock=t.clock, sleep=t.sleep)
    bucket.acquire(100)
    t.now += 4
    assert bucket.available == pytest.approx(40)
    t.now += 100
    assert bucket.available == pytest.approx(100)


def test_bucket_follows_the_platform_throttle_status() -> None:
    t = FakeTime()
    bucket = CostBucket(maximum=1000, restore_rate=50, clock=t.clock, sleep=t.sleep)
    bucket.observe(
        ThrottleStatus(maximum_available=2000, currently_available=100, restore_rate=100)
    )
    assert (bucket.maximum, bucket.restore_rate) == (2000, 100)
    assert bucket.acquire(300) == pytest.approx(2.0)


def test_cost_above_bucket_size_waits_for_a_full_bucket_only() -> None:
    t = FakeTime()
    bucket = CostBucket(maximum=100, restore_rate=10, available=0, clock=t.clock, sleep=t.sleep)
    assert bucket.acquire(5000) == pytest.approx(10.0)


def test_concurrent_acquires_never_overdraw_together() -> None:
    t = FakeTime()
    lock = threading.Lock()
    waits: list[float] = []
    bucket = CostBucket(maximum=100, restore_rate=10, clock=lambda: 0.0, sleep=lambda s: None)

    def take() -> None:
        wait = bucket.acquire(10)
        with lock:
            waits.append(wait)
        bucket.settle(None)  # answered: the next thread's turn (as every caller does)

    threads = [threading.Thread(target=take) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Ten fit in the bucket; the other ten queue at 1 s, 2 s, ... 10 s.
    assert sorted(waits) == [0.0] * 10 + [pytest.approx(float(i)) for i in range(1, 11)]
    assert t.sleeps == []


def test_throttled_error_retry_after_is_deficit_over_restore_rate() -> None:
    error = throttled_error(
        502, ThrottleStatus(maximum_available=1000, currently_available=2, restore_rate=50)
    )
    assert isinstance(error, RateLimited)
    assert error.code == "THROTTLED"
    assert error.retry_after == pytest.approx(10.0)
    assert error.details["ambiguous"] is False


def test_throttled_error_without_status_uses_a_default_hint() -> None:
    assert throttled_error(10, None).retry_after == 1.0


def test_limiter_learns_requested_cost_per_operation() -> None:
    t = FakeTime()
    limiter = CostLimiter(clock=t.clock, sleep=t.sleep, default_cost=50)
    assert limiter.expected_cost("Order") == 50
    limiter.after_response("Order", cost(222, 700))
    assert limiter.expected_cost("Order") == 222
    # not answered yet: as costly as the costliest known, so its first call is not THROTTLED
    assert limiter.expected_cost("Locations") == 222
    limiter.after_response("Locations", cost(12, 690))
    assert limiter.expected_cost("Locations") == 12
    assert limiter.bucket.available == pytest.approx(690)


def test_limiter_throttled_uses_cost_extension() -> None:
    limiter = CostLimiter(clock=FakeTime().clock, sleep=FakeTime().sleep)
    error = limiter.throttled("Order", cost(300, 100, rate=100))
    assert error.retry_after == pytest.approx(2.0)


def test_limiter_retries_rate_limited_then_succeeds() -> None:
    t = FakeTime()
    limiter = CostLimiter(clock=t.clock, sleep=t.sleep)
    outcomes: list[Exception | str] = [
        RateLimited(retry_after=2.5),
        RateLimited(retry_after=0.5),
        "ok",
    ]

    def attempt() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert limiter.call("Order", attempt) == "ok"
    assert t.sleeps == [2.5, 0.5]


def test_limiter_gives_up_after_max_attempts() -> None:
    t = FakeTime()
    limiter = CostLimiter(retry=RetryPolicy(max_attempts=3), clock=t.clock, sleep=t.sleep)
    calls = 0

    def attempt() -> str:
        nonlocal calls
        calls += 1
        raise RateLimited(retry_after=1.0)

    with pytest.raises(RateLimited):
        limiter.call("Order", attempt)
    assert calls == 3
    assert t.sleeps == [1.0, 1.0]


def test_limiter_returns_long_hints_to_the_caller_instead_of_blocking() -> None:
    t = FakeTime()
    limiter = CostLimiter(retry=RetryPolicy(max_wait=5.0), clock=t.clock, sleep=t.sleep)

    def attempt() -> str:
        raise RateLimited(retry_after=60.0)

    with pytest.raises(RateLimited) as caught:
        limiter.call("Order", attempt)
    assert caught.value.retry_after == 60.0
    assert t.sleeps == []


def test_limiter_waits_before_sending_when_bucket_is_short() -> None:
    t = FakeTime()
    limiter = CostLimiter(clock=t.clock, sleep=t.sleep)
    limiter.after_response("Order", cost(400, 100, rate=100))
    assert limiter.before_request("Order") == pytest.approx(3.0)
    assert t.sleeps == [pytest.approx(3.0)]


@pytest.mark.parametrize(
    ("header", "expected"),
    [("2", 2.0), ("2.5", 2.5), (" 0 ", 0.0), ("", None), (None, None), ("soon", None), ("-3", 0.0)],
)
def test_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_retry_after_http_date_is_relative_to_now() -> None:
    now = 1_767_225_600.0  # 2026-01-01T00:00:00Z
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now=lambda: now) == pytest.approx(30)


def in_another_thread(call: Callable[[], object]) -> tuple[threading.Thread, threading.Event]:
    """Start `call` in a thread; the event is set once it returned."""
    done = threading.Event()

    def run() -> None:
        call()
        done.set()

    worker = threading.Thread(target=run)
    worker.start()
    return worker, done


def test_calls_of_one_connection_take_turns_until_answered() -> None:
    """Shopify holds a running call's whole requested cost: one call in flight per store."""
    t = FakeTime()
    bucket = CostBucket(maximum=2000, restore_rate=100, clock=t.clock, sleep=t.sleep)
    limiter = CostLimiter(bucket=bucket, clock=t.clock, sleep=t.sleep)
    limiter._costs.update({"Order": 50, "Refund": 50})
    assert limiter.before_request("Order") == 0  # out at once: nothing known, nothing waits
    worker, done = in_another_thread(lambda: limiter.before_request("Refund"))
    assert not done.wait(0.2)  # held until the Order is answered
    # The answer says another app drained the bucket: 5 points left.
    limiter.after_response("Order", cost(50, 5, maximum=2000, rate=100))
    assert done.wait(10)
    worker.join()
    assert t.sleeps == [pytest.approx(0.45)]  # the Refund waited for 45 more points


def test_a_request_without_an_answer_ends_its_turn() -> None:
    t = FakeTime()
    limiter = CostLimiter(clock=t.clock, sleep=t.sleep)
    limiter.before_request("Order")
    limiter.after_response("Order", None)  # the connection broke: nothing learned
    worker, done = in_another_thread(lambda: limiter.before_request("Refund"))
    assert done.wait(10)
    worker.join()


def test_a_call_books_its_actual_cost_but_waits_for_its_requested_cost() -> None:
    t = FakeTime()
    bucket = CostBucket(maximum=100, restore_rate=10, available=100, clock=t.clock, sleep=t.sleep)
    assert bucket.acquire(80, consumes=20) == 0  # 80 must be there; 20 will be taken
    assert bucket.acquire(80, consumes=20) == 0  # 80 still there
    assert bucket.acquire(80, consumes=20) == pytest.approx(2.0)  # 60 left: 20 short


def test_a_call_waiting_its_turn_uses_what_the_call_before_taught() -> None:
    t = FakeTime()
    bucket = CostBucket(maximum=2000, restore_rate=100, clock=t.clock, sleep=t.sleep)
    limiter = CostLimiter(bucket=bucket, clock=t.clock, sleep=t.sleep, default_cost=50)
    limiter.before_request("Order")  # unknown cost and bucket: sent on a guess
    worker, done = in_another_thread(lambda: limiter.before_request("Order"))
    assert not done.wait(0.2)
    # THROTTLED: the Order asks 195 points, the bucket holds 20
    limiter.after_response("Order", cost(195, 20, maximum=2000, rate=100))
    assert done.wait(10)
    worker.join()
    assert t.sleeps == [pytest.approx(1.75)]  # waited for 195, not the guessed 50
