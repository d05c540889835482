"""Cost-point limiter: waits before sending, THROTTLED -> RateLimited, bounded retries."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from returnbridge.connectors.base.http import parse_retry_after
from returnbridge.connectors.base.limits import (
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
    assert limiter.expected_cost("Locations") == 50
    assert limiter.bucket.available == pytest.approx(700)


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


def test_an_answer_does_not_forget_what_calls_still_in_flight_reserved() -> None:
    """Two calls of one store at once: the first answer must not hand out the second's points."""
    t = FakeTime()
    bucket = CostBucket(maximum=100, restore_rate=10, available=100, clock=t.clock, sleep=t.sleep)
    limiter = CostLimiter(bucket=bucket, clock=t.clock, sleep=t.sleep)
    limiter._costs.update({"Order": 60, "Refund": 30})  # learned from earlier answers
    # Another thread sends an Order read (60 reserved) and waits for its answer.
    worker = threading.Thread(target=limiter.before_request, args=("Order",))
    worker.start()
    worker.join()
    limiter.before_request("Refund")
    # The platform answers our Refund: it took 30 of its 100 but has not seen the Order yet.
    limiter.after_response("Refund", cost(30, 70, maximum=100, rate=10))
    assert bucket.available == pytest.approx(10)  # 70 less the Order's 60 still in flight
    assert bucket.acquire(20) == pytest.approx(1.0)  # so a third call waits for 10 more points


def test_a_request_without_an_answer_hands_its_reservation_back() -> None:
    t = FakeTime()
    bucket = CostBucket(maximum=100, restore_rate=10, available=100, clock=t.clock, sleep=t.sleep)
    limiter = CostLimiter(bucket=bucket, clock=t.clock, sleep=t.sleep)
    limiter._costs["Order"] = 60
    limiter.before_request("Order")
    limiter.after_response("Order", None)  # the connection broke: nothing learned
    limiter._costs["Refund"] = 30
    limiter.before_request("Refund")
    limiter.after_response("Refund", cost(30, 70, maximum=100, rate=10))
    assert bucket.available == pytest.approx(70)  # no reservation of the lost call lingers
