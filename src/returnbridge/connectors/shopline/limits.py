"""SHOPLINE's leaky bucket, kept on our side so that we rarely meet its 429.

The REST Admin API gives each app a bucket of 40 requests per store that drains 4 per second;
a request that would overflow it is answered 429 `{"errors":"Too many request"}` (with a
`Retry-After` when SHOPLINE sends one). `LeakyBucket` models the same bucket for one
connection (one store) and makes a caller wait for room before sending; after a 429 it takes
the bucket as full and waits what SHOPLINE asked. Clock and sleep are injected (tests record
waits instead of sleeping). One bucket per connection, shared by its threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]
Sleep = Callable[[float], None]

CAPACITY = 40
LEAK_PER_SECOND = 4.0
DEFAULT_RETRY_AFTER = 1.0
"""A 429 without `Retry-After`: one request's worth of draining, rounded up to a second."""


class LeakyBucket:
    """Waits before a request until the store's bucket has room for it.

    `reserve` slots are left free for the merchant's other tools on the same app (and for
    our clock drifting from SHOPLINE's).
    """

    def __init__(
        self,
        *,
        capacity: int = CAPACITY,
        leak_per_second: float = LEAK_PER_SECOND,
        reserve: int = 2,
        max_retries: int = 3,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        if capacity <= reserve or leak_per_second <= 0:
            raise ValueError("the bucket needs room beyond its reserve and a positive leak")
        self.capacity = capacity
        self.leak_per_second = leak_per_second
        self.reserve = reserve
        self.max_retries = max_retries
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._level = 0.0
        self._at = clock()

    def headroom(self) -> str:
        """Free room in the bucket as this process sees it, for people (the dashboard)."""
        with self._lock:
            self._drain(self._clock())
            free = self.capacity - self._level
        return f"{free:.0f} of {self.capacity} calls free"

    def _drain(self, now: float) -> None:
        if now <= self._at:
            return  # a 429's pause is still running: nothing drains before it ends
        self._level = max(0.0, self._level - (now - self._at) * self.leak_per_second)
        self._at = now

    @property
    def level(self) -> float:
        """Requests in the bucket now, as we count them."""
        with self._lock:
            self._drain(self._clock())
            return self._level

    def wait_turn(self) -> float:
        """Take a slot, first sleeping until one has drained when the bucket is full.

        Returns the seconds slept. The slot is taken before sleeping, so threads queue up
        behind each other instead of all waking at once.
        """
        with self._lock:
            now = self._clock()
            self._drain(now)
            room = self.capacity - self.reserve
            delay = max(0.0, (self._level + 1 - room) / self.leak_per_second)
            self._level += 1
        if delay > 0:
            self._sleep(delay)
        return delay

    def throttled(self, retry_after: float | None) -> float:
        """A 429 arrived: the bucket is full on SHOPLINE's side. Returns the seconds to wait
        before the next try (SHOPLINE's `Retry-After`, else one second)."""
        wait = retry_after if retry_after is not None and retry_after > 0 else DEFAULT_RETRY_AFTER
        with self._lock:
            # Full now; after the wait there is room for exactly one more request.
            self._level = float(self.capacity - self.reserve - 1)
            self._at = max(self._at, self._clock() + wait)
        return wait

    def backoff(self, seconds: float) -> None:
        """Sleep `seconds` after a 429; the bucket drains meanwhile."""
        self._sleep(seconds)
