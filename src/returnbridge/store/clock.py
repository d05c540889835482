"""Time as an injectable dependency: repositories take a clock so tests control timestamps."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]
"""Returns the current time as a timezone-aware UTC datetime."""


def utc_now() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


class SteppingClock:
    """Deterministic clock for tests: returns ``start``, then ``start + step``, and so on.

    ``step`` may be zero (every call returns the same instant); ``advance`` jumps ahead.
    Thread-safe.
    """

    def __init__(self, start: datetime, *, step: timedelta = timedelta(seconds=1)) -> None:
        if start.tzinfo is None:
            raise ValueError("SteppingClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)
        self._step = step
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            now = self._now
            self._now = now + self._step
        return now

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward by ``delta`` without a call."""
        with self._lock:
            self._now += delta
