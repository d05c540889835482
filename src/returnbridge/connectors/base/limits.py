"""Client-side rate limiting for cost-point leaky buckets (Shopify GraphQL style).

The platform keeps a bucket of points per app and store: each request needs its requested cost
available up front, the actual cost is taken, and points flow back at `restoreRate` per second.
`CostBucket` mirrors that bucket locally so we wait *before* sending instead of being throttled,
and re-syncs from the `throttleStatus` the platform returns with every response. `CostLimiter`
adds what one connection needs around it: a learned cost per operation and bounded in-process
retries for `RateLimited` with an injectable sleep (tests pass a recorder, never real sleeps).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from returnbridge.domain.errors import RateLimited

Clock = Callable[[], float]
Sleep = Callable[[float], None]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ThrottleStatus:
    """The bucket as the platform reported it on the last response."""

    maximum_available: float
    currently_available: float
    restore_rate: float

    @classmethod
    def from_cost(cls, cost: Mapping[str, Any] | None) -> ThrottleStatus | None:
        """Read `extensions.cost.throttleStatus`; None when absent or malformed."""
        if not isinstance(cost, Mapping):
            return None
        status = cost.get("throttleStatus")
        if not isinstance(status, Mapping):
            return None
        try:
            return cls(
                maximum_available=float(status["maximumAvailable"]),
                currently_available=float(status["currentlyAvailable"]),
                restore_rate=float(status["restoreRate"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


def throttled_error(
    requested_cost: float, status: ThrottleStatus | None, *, message: str = "Throttled"
) -> RateLimited:
    """`RateLimited` whose `retry_after` is the time the bucket needs to cover the deficit."""
    if status is None or status.restore_rate <= 0:
        return RateLimited("THROTTLED", message, retry_after=1.0, ambiguous=False)
    needed = min(requested_cost, status.maximum_available)
    deficit = max(needed - status.currently_available, 0.0)
    retry_after = deficit / status.restore_rate if deficit > 0 else 1.0 / status.restore_rate
    return RateLimited(
        "THROTTLED",
        message,
        retry_after=retry_after,
        ambiguous=False,
        requested_cost=requested_cost,
        currently_available=status.currently_available,
        restore_rate=status.restore_rate,
    )


class CostBucket:
    """Thread-safe local mirror of one connection's cost-point bucket."""

    def __init__(
        self,
        *,
        maximum: float = 1000.0,
        restore_rate: float = 50.0,
        available: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self.maximum = maximum
        self.restore_rate = restore_rate
        self._available = maximum if available is None else available
        self._updated = clock()
        self._pending = 0.0  # reserved by calls not answered yet (waiting or in flight)

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(now - self._updated, 0.0)
        self._available = min(self.maximum, self._available + elapsed * self.restore_rate)
        self._updated = now

    @property
    def available(self) -> float:
        with self._lock:
            self._refill()
            return self._available

    def acquire(self, cost: float) -> float:
        """Reserve `cost` points, sleeping first if the bucket cannot cover them; returns the wait.

        The reservation is taken before sleeping, so concurrent callers queue behind each other
        instead of all waking at once. A cost above the bucket size waits for a full bucket.
        """
        with self._lock:
            self._refill()
            needed = min(cost, self.maximum)
            deficit = needed - self._available
            wait = deficit / self.restore_rate if deficit > 0 and self.restore_rate > 0 else 0.0
            self._available -= needed
            self._pending += needed
        if wait > 0:
            self._sleep(wait)
        return wait

    def observe(self, status: ThrottleStatus) -> None:
        """Adopt the platform's view of the bucket (less what calls not yet answered reserved)."""
        self.settle(0.0, status)

    def settle(self, reserved: float, status: ThrottleStatus | None) -> None:
        """A call that reserved `reserved` was answered (`status`: the bucket it reported).

        The platform's figure already counts that call but not the others still waiting or in
        flight, so their reservations are taken off it: several calls of one store at once
        never spend the same points twice. Without a status nothing is learned.
        """
        with self._lock:
            self._pending = max(self._pending - reserved, 0.0)
            if status is None:
                return
            self.maximum = status.maximum_available
            self.restore_rate = status.restore_rate
            available = min(status.currently_available, status.maximum_available)
            self._available = available - self._pending
            self._updated = self._clock()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long one call may wait out rate limits in-process before giving up to the caller."""

    max_attempts: int = 4
    max_wait: float = 30.0  # a longer hint is returned to the engine instead of blocking a worker


class CostLimiter:
    """The rate limiter of one connection: cost bucket, learned costs, bounded retries."""

    def __init__(
        self,
        *,
        bucket: CostBucket | None = None,
        retry: RetryPolicy | None = None,
        default_cost: float = 50.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.bucket = bucket if bucket is not None else CostBucket(clock=clock, sleep=sleep)
        self.retry = retry if retry is not None else RetryPolicy()
        self.default_cost = default_cost
        self._sleep = sleep
        self._costs: dict[str, float] = {}
        self._lock = threading.Lock()
        self._reserved = threading.local()  # what this thread's call in flight reserved

    def expected_cost(self, operation: str) -> float:
        with self._lock:
            return self._costs.get(operation, self.default_cost)

    def before_request(self, operation: str) -> float:
        """Wait until the bucket covers the operation's expected cost; returns the wait.

        Every call must be followed by `after_response` in the same thread, also when the
        request fails without an answer (with `cost=None`), to hand back the reservation.
        """
        cost = self.expected_cost(operation)
        wait = self.bucket.acquire(cost)
        self._reserved.value = min(cost, self.bucket.maximum)
        return wait

    def after_response(self, operation: str, cost: Mapping[str, Any] | None) -> None:
        """Learn the operation's requested cost and re-sync the bucket from `extensions.cost`."""
        if isinstance(cost, Mapping):
            requested = cost.get("requestedQueryCost")
            if isinstance(requested, int | float) and not isinstance(requested, bool):
                with self._lock:
                    self._costs[operation] = float(requested)
        reserved = getattr(self._reserved, "value", 0.0)
        self._reserved.value = 0.0
        self.bucket.settle(reserved, ThrottleStatus.from_cost(cost))

    def throttled(self, operation: str, cost: Mapping[str, Any] | None) -> RateLimited:
        """The error for a THROTTLED response, computed from the deficit and restore rate."""
        requested = self.expected_cost(operation)
        if isinstance(cost, Mapping):
            value = cost.get("requestedQueryCost")
            if isinstance(value, int | float) and not isinstance(value, bool):
                requested = float(value)
        return throttled_error(requested, ThrottleStatus.from_cost(cost))

    def call(self, operation: str, attempt: Callable[[], T]) -> T:
        """Run `attempt`, retrying `RateLimited` up to the policy's bounds."""
        tries = 1
        while True:
            try:
                return attempt()
            except RateLimited as exc:
                if tries >= self.retry.max_attempts or exc.retry_after > self.retry.max_wait:
                    raise
                # After this sleep the bucket has refilled by the deficit, so the next
                # `before_request` does not wait a second time (with a real clock).
                self._sleep(exc.retry_after)
                tries += 1
