"""When a failed callback is tried again, and when an endpoint that keeps failing is disabled.

Pure: the clock reading and the random source are passed in. Attempt n (1-based) failed ->
wait `DELAYS[n-1]` seconds, scaled by a random factor in [1 - JITTER, 1 + JITTER] so endpoints
that failed together are not all retried together. After the last delay's attempt fails, the
delivery has been retried for at least `MIN_RETRY_SPAN` and is given up (it can still be
replayed).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

DELAYS: tuple[int, ...] = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800, 28800)
JITTER = 0.2
MIN_RETRY_SPAN = timedelta(hours=24)
MAX_ATTEMPTS = len(DELAYS) + 1
"""The first attempt, then one after each delay."""


def retry_delay(failed_attempts: int, rng: random.Random) -> float | None:
    """Seconds to wait after `failed_attempts` failures, or None when it is time to give up."""
    if failed_attempts < 1:
        raise ValueError("a delay follows at least one failed attempt")
    if failed_attempts > len(DELAYS):
        return None
    base = DELAYS[failed_attempts - 1]
    return base * rng.uniform(1 - JITTER, 1 + JITTER)


def next_attempt_at(failed_attempts: int, *, now: datetime, rng: random.Random) -> datetime | None:
    """When to try again after `failed_attempts` failures, the last at `now`; None: give up."""
    delay = retry_delay(failed_attempts, rng)
    return None if delay is None else now + timedelta(seconds=delay)


def shortest_span() -> timedelta:
    """The least time from the first attempt to giving up (every jitter at its minimum)."""
    return timedelta(seconds=sum(DELAYS) * (1 - JITTER))


@dataclass(frozen=True, slots=True)
class DisablePolicy:
    """An endpoint is disabled once its attempts have failed without a success in between
    for at least `after` AND at least `failures` times: a long outage, not one bad minute or
    one unlucky attempt an hour. A success ends the run (`failing_since` is cleared)."""

    after: timedelta = timedelta(hours=24)
    failures: int = 10

    def should_disable(self, *, failing_since: datetime, failures: int, now: datetime) -> bool:
        return now - failing_since >= self.after and failures >= self.failures
