"""SHOPLINE's REST limit: a leaky bucket per app per store (40 calls, leaking 4 per second)."""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_BUCKET_SIZE = 40
DEFAULT_LEAK_RATE = 4.0


@dataclass
class LeakyBucket:
    """Each admitted call adds one drop; drops leak at ``leak_rate`` per second.

    ``level`` and ``last`` are the state at the last call, read with the app's clock, so a test
    moves time instead of sleeping.
    """

    size: int = DEFAULT_BUCKET_SIZE
    leak_rate: float = DEFAULT_LEAK_RATE
    level: float = 0.0
    last: float | None = None

    def _drain(self, now: float) -> None:
        if self.last is not None and now > self.last:
            self.level = max(0.0, self.level - (now - self.last) * self.leak_rate)
        if self.last is None or now > self.last:
            self.last = now

    def take(self, now: float) -> int | None:
        """Admit a call (None) or refuse it with the seconds to wait before one drop leaks.

        A refused call adds nothing to the bucket.
        """
        self._drain(now)
        if self.level + 1 > self.size:
            wait = (self.level + 1 - self.size) / self.leak_rate if self.leak_rate > 0 else 60
            return max(1, math.ceil(wait))
        self.level += 1
        return None
