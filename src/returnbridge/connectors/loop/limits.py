"""Loop's budget: 300 requests a minute per API key, kept on our side with `limits`.

A moving one-minute window per connection (a few requests are left for the merchant's other
tools); a caller waits for room instead of meeting Loop's 429. After a 429 the whole
connection holds (`hold`): every thread sharing the budget waits out the pause, which is
Loop's `Retry-After` when it sends one (it documents none) or exponential backoff.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

PER_MINUTE = 300
RESERVE = 10
MAX_RETRIES = 4
"""429s in a row a call waits out before giving up (a transient error for the engine)."""


def backoff(attempt: int, retry_after: float | None = None) -> float:
    """Seconds to pause after the `attempt`-th 429 (0-based): 1, 2, 4, 8 s, or longer when
    Loop's `Retry-After` asks for more."""
    return max(2.0**attempt, retry_after or 0.0)


class MinuteBudget:
    """Waits before a request until the key's last minute has room for it."""

    def __init__(
        self,
        *,
        per_minute: int = PER_MINUTE,
        reserve: int = RESERVE,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute <= reserve:
            raise ValueError("the budget needs room beyond its reserve")
        self._item = RateLimitItemPerMinute(per_minute - reserve)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._resume_at = 0.0

    def headroom(self, key: str = "loop") -> str:
        """Requests left this minute, for people (the dashboard)."""
        stats = self._limiter.get_window_stats(self._item, key)
        return f"{stats.remaining} of {self._item.amount} requests left this minute"

    def hold(self, seconds: float) -> None:
        """Send nothing more for `seconds` (after a 429), whoever asks."""
        with self._lock:
            self._resume_at = max(self._resume_at, self._clock() + seconds)

    def wait_turn(self, key: str = "loop") -> float:
        """Take a slot, sleeping first while held or while the minute is full; seconds slept."""
        with self._lock:
            slept = max(0.0, self._resume_at - self._clock())
        if slept:
            self._sleep(slept)
        while not self._limiter.hit(self._item, key):
            stats = self._limiter.get_window_stats(self._item, key)
            pause = max(0.05, stats.reset_time - time.time())
            self._sleep(pause)
            slept += pause
        return slept
