"""BigCommerce's rolling rate window, followed from the headers of every answer.

Each store has a quota of requests per window (150 per 30 s on Standard/Plus) shared by every
app. Every answer says how many requests are left (`X-Rate-Limit-Requests-Left`) and when the
window refills (`X-Rate-Limit-Time-Reset-Ms`); a 429 says the same. `WindowLimiter` keeps the
last report and, once the requests left fall to the reserve, waits for the refill before
sending; after a 429 it tells how long to wait. Sleep and clock are injected (tests record
waits instead of sleeping). One limiter per connection (per store), shared by its threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

Clock = Callable[[], float]
Sleep = Callable[[float], None]

LEFT = "X-Rate-Limit-Requests-Left"
RESET_MS = "X-Rate-Limit-Time-Reset-Ms"
RETRY_AFTER = "X-Retry-After"
LOAD_SHEDDING_WAIT = 1.0
"""A 429 without the window headers is load shedding: back off briefly (the docs name no time)."""


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if value >= 0 else None


@dataclass(frozen=True, slots=True)
class WindowReport:
    """What one answer said about the window: requests left, seconds until it refills."""

    left: int | None
    reset_seconds: float | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> WindowReport:
        left = _number(_header(headers, LEFT))
        reset_ms = _number(_header(headers, RESET_MS))
        return cls(
            left=None if left is None else int(left),
            reset_seconds=None if reset_ms is None else reset_ms / 1000.0,
        )


def retry_after(headers: Mapping[str, str]) -> float:
    """Seconds to wait after a 429: the window's reset, else `X-Retry-After`, else a short pause."""
    report = WindowReport.from_headers(headers)
    if report.reset_seconds is not None:
        return report.reset_seconds
    seconds = _number(_header(headers, RETRY_AFTER))
    return seconds if seconds is not None else LOAD_SHEDDING_WAIT


class WindowLimiter:
    """Waits before a request when the store's window is (nearly) used up."""

    def __init__(
        self,
        *,
        reserve: int = 1,
        max_retries: int = 3,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        self.reserve = reserve
        self.max_retries = max_retries
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._left: int | None = None
        self._refill_at = 0.0
        self._last_retry_after = LOAD_SHEDDING_WAIT

    def headroom(self) -> str:
        """The store's window as its last answer gave it, for people (the dashboard)."""
        with self._lock:
            left = self._left
        if left is None:
            return "a fresh window (no answer since it refilled)"
        return f"{left} requests left in the window"

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Take in an answer's window headers (any status; a 429 empties the window)."""
        report = WindowReport.from_headers(headers)
        with self._lock:
            if status == 429:
                self._last_retry_after = retry_after(headers)
                self._left = 0
                self._refill_at = self._clock() + self._last_retry_after
                return
            if report.left is None:
                return
            self._left = report.left
            if report.reset_seconds is not None:
                self._refill_at = self._clock() + report.reset_seconds

    def observe_response(self, response: httpx.Response) -> None:
        """httpx response hook: `observe` the answer's status and headers."""
        self.observe(response.status_code, response.headers)

    def wait_turn(self) -> float:
        """Sleep until the window refills when no more than `reserve` requests are left."""
        with self._lock:
            if self._left is None or self._left > self.reserve:
                if self._left is not None:
                    self._left -= 1
                return 0.0
            delay = max(self._refill_at - self._clock(), 0.0)
            self._left = None  # the next answer reports the new window
        if delay > 0:
            self._sleep(delay)
        return delay

    @property
    def last_retry_after(self) -> float:
        """The wait the last 429 asked for, in seconds."""
        with self._lock:
            return self._last_retry_after

    def backoff(self) -> None:
        """Sleep as the last 429 asked."""
        self._sleep(self.last_retry_after)
        with self._lock:
            self._left = None
