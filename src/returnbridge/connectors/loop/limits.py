"""Loop's budget: 300 requests a minute per API key, kept on our side with `limits`.

A moving one-minute window per connection (a few requests are left for the merchant's other
tools); a caller waits for room instead of meeting Loop's 429. Loop documents no
`Retry-After`: after a 429 the client pauses with exponential backoff (`client.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

PER_MINUTE = 300
RESERVE = 10


class MinuteBudget:
    """Waits before a request until the key's last minute has room for it."""

    def __init__(
        self,
        *,
        per_minute: int = PER_MINUTE,
        reserve: int = RESERVE,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._item = RateLimitItemPerMinute(per_minute - reserve)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._sleep = sleep

    def wait_turn(self, key: str = "loop") -> float:
        """Take a slot, sleeping first while the minute is full; the seconds slept."""
        slept = 0.0
        while not self._limiter.hit(self._item, key):
            stats = self._limiter.get_window_stats(self._item, key)
            pause = max(0.05, stats.reset_time - time.time())
            self._sleep(pause)
            slept += pause
        return slept
