"""Loop's limit: 300 requests a minute per API key [docs]; a sliding one-minute window on the
sandbox clock, so a test moves time instead of sleeping."""

from __future__ import annotations

import math
import threading
from collections import deque

LIMIT = 300
WINDOW = 60.0


class MinuteWindow:
    """Admitted calls per key over the last ``WINDOW`` seconds."""

    def __init__(self, limit: int = LIMIT, window: float = WINDOW) -> None:
        self.limit, self.window = limit, window
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float) -> int | None:
        """Admit a call (None) or refuse it: the whole seconds until one frees up.

        A refused call counts for nothing."""
        with self._lock:
            calls = self._calls.setdefault(key, deque())
            while calls and calls[0] <= now - self.window:
                calls.popleft()
            if len(calls) >= self.limit:
                return max(1, math.ceil(calls[0] + self.window - now))
            calls.append(now)
            return None

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
