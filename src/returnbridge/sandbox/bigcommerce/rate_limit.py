"""BigCommerce's per-store quota: ``quota`` requests in a rolling window (30 s by default)."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Quota:
    """The rate-limit headers' values after one request."""

    allowed: bool
    window_ms: int
    reset_ms: int
    quota: int
    left: int

    def headers(self) -> dict[str, str]:
        """``X-Rate-Limit-*`` headers (plus ``X-Retry-After`` when refused)."""
        headers = {
            "X-Rate-Limit-Time-Window-Ms": str(self.window_ms),
            "X-Rate-Limit-Time-Reset-Ms": str(self.reset_ms),
            "X-Rate-Limit-Requests-Quota": str(self.quota),
            "X-Rate-Limit-Requests-Left": str(self.left),
        }
        if not self.allowed:
            headers["X-Retry-After"] = str(max(1, math.ceil(self.reset_ms / 1000)))
        return headers


@dataclass
class RollingWindow:
    """Timestamps of the requests counted in the last ``window_seconds``."""

    quota: int
    window_seconds: float = 30.0
    _stamps: deque[float] = field(default_factory=deque)

    def _forget(self, now: float) -> None:
        while self._stamps and self._stamps[0] <= now - self.window_seconds:
            self._stamps.popleft()

    def _reset_ms(self, now: float) -> int:
        if not self._stamps:
            return int(self.window_seconds * 1000)
        return max(0, math.ceil((self._stamps[0] + self.window_seconds - now) * 1000))

    def take(self, now: float) -> Quota:
        """Count a request if the window has room; refused requests are not counted."""
        self._forget(now)
        allowed = len(self._stamps) < self.quota
        if allowed:
            self._stamps.append(now)
        return self.peek(now, allowed=allowed)

    def peek(self, now: float, *, allowed: bool = True) -> Quota:
        """The current state without counting anything."""
        self._forget(now)
        return Quota(
            allowed=allowed,
            window_ms=int(self.window_seconds * 1000),
            reset_ms=self._reset_ms(now),
            quota=self.quota,
            left=max(0, self.quota - len(self._stamps)),
        )
