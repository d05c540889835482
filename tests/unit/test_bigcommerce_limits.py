"""The BigCommerce rate window followed from headers, on an injected clock and sleep."""

from __future__ import annotations

from returnbridge.connectors.bigcommerce.limits import WindowLimiter, WindowReport, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def headers(left: int, reset_ms: int) -> dict[str, str]:
    return {
        "X-Rate-Limit-Requests-Left": str(left),
        "X-Rate-Limit-Time-Reset-Ms": str(reset_ms),
        "X-Rate-Limit-Requests-Quota": "150",
        "X-Rate-Limit-Time-Window-Ms": "30000",
    }


def test_headers_are_read_case_insensitively() -> None:
    report = WindowReport.from_headers(
        {"x-rate-limit-requests-left": "7", "X-RATE-LIMIT-TIME-RESET-MS": "1500"}
    )
    assert (report.left, report.reset_seconds) == (7, 1.5)
    assert WindowReport.from_headers({}) == WindowReport(None, None)


def test_no_wait_while_requests_are_left() -> None:
    waits: list[float] = []
    limiter = WindowLimiter(sleep=waits.append, clock=Clock())
    assert limiter.wait_turn() == 0.0
    limiter.observe(200, headers(left=5, reset_ms=2000))
    assert limiter.wait_turn() == 0.0
    assert waits == []


def test_waits_for_the_refill_when_only_the_reserve_is_left() -> None:
    waits: list[float] = []
    clock = Clock()
    limiter = WindowLimiter(sleep=waits.append, clock=clock)
    limiter.observe(200, headers(left=1, reset_ms=4000))
    clock.now += 1.0
    assert limiter.wait_turn() == 3.0
    assert waits == [3.0]
    assert limiter.wait_turn() == 0.0  # the next answer reports the new window


def test_counts_down_between_answers() -> None:
    waits: list[float] = []
    limiter = WindowLimiter(sleep=waits.append, clock=Clock())
    limiter.observe(200, headers(left=3, reset_ms=1000))
    limiter.wait_turn()
    limiter.wait_turn()
    assert limiter.wait_turn() == 1.0


def test_a_429_names_the_wait() -> None:
    waits: list[float] = []
    limiter = WindowLimiter(sleep=waits.append, clock=Clock())
    limiter.observe(429, headers(left=0, reset_ms=2500))
    assert limiter.last_retry_after == 2.5
    limiter.backoff()
    assert waits == [2.5]


def test_a_429_without_window_headers_is_load_shedding() -> None:
    assert retry_after({}) == 1.0
    assert retry_after({"X-Retry-After": "4"}) == 4.0
    assert retry_after(headers(left=0, reset_ms=700)) == 0.7
