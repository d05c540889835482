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


TURN_WAIT = 60.0
"""Seconds a call waits for the one before it to be answered; longer than any HTTP timeout, so
only a caller that never reported its answer (a bug) is ever overtaken."""


class CostBucket:
    """Thread-safe local mirror of one connection's cost-point bucket.

    Calls of one connection take turns: each waits until the bucket holds its requested cost,
    goes out, and the next one starts when it is answered (`settle`). One call in flight per
    store keeps the mirror exact (Shopify holds a running call's whole requested cost), and a
    store's calls are short next to the time its bucket needs to refill, so turns cost no
    throughput; the returns themselves still run side by side. A thread may take its turn
    again before settling (tests, or one caller driving the bucket alone).
    """

    def __init__(
        self,
        *,
        maximum: float = 1000.0,
        restore_rate: float = 50.0,
        available: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self._lock = threading.Condition()
        self._clock = clock
        self._sleep = sleep
        self.maximum = maximum
        self.restore_rate = restore_rate
        self._available = maximum if available is None else available
        self._updated = clock()
        self._turn: int | None = None  # the thread whose call is waiting or in flight

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

    def acquire(self, cost: float, *, consumes: float | None = None) -> float:
        """Take this connection's turn, then wait until the bucket holds `cost` points (a
        call's requested cost), booking `consumes` (its actual cost, default `cost`) as
        taken; returns the wait. A cost above the bucket size waits for a full bucket.

        Shopify runs a call only with its requested cost available, and then takes its actual
        cost: booking the actual cost lets the next call go as soon as the platform would.
        """
        with self._lock:
            self._take_turn()
            self._refill()
            needed = min(cost, self.maximum)
            deficit = needed - self._available
            wait = deficit / self.restore_rate if deficit > 0 and self.restore_rate > 0 else 0.0
            self._available -= min(needed if consumes is None else consumes, needed)
        if wait > 0:
            self._sleep(wait)
        return wait

    def take_turn(self) -> None:
        """Wait until no other thread's call is waiting or in flight (see `acquire`)."""
        with self._lock:
            self._take_turn()

    def _take_turn(self) -> None:
        me = threading.get_ident()
        if self._turn not in (None, me):
            self._lock.wait_for(lambda: self._turn is None, TURN_WAIT)
        self._turn = me

    def observe(self, status: ThrottleStatus) -> None:
        """Adopt the platform's view of the bucket."""
        with self._lock:
            self._adopt(status)

    def settle(self, status: ThrottleStatus | None) -> None:
        """The call of the thread whose turn it is was answered (`status`: the bucket as the
        platform reported it; None when no answer came): the next call may go."""
        with self._lock:
            if status is not None:
                self._adopt(status)
            if self._turn == threading.get_ident():
                self._turn = None
                self._lock.notify_all()

    def _adopt(self, status: ThrottleStatus) -> None:
        self.maximum = status.maximum_available
        self.restore_rate = status.restore_rate
        self._available = min(status.currently_available, status.maximum_available)
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
        self._actual: dict[str, float] = {}
        self._lock = threading.Lock()

    def headroom(self) -> str:
        """The bucket as this process sees it, for people (the dashboard)."""
        return f"{self.bucket.available:.0f} of {self.bucket.maximum:.0f} cost points free"

    def expected_cost(self, operation: str) -> float:
        """The operation's requested cost, as last answered (what must be in the bucket); for
        an operation not yet answered, the largest of the others (a guess on the safe side)."""
        with self._lock:
            return self._requested(operation)

    def _requested(self, operation: str) -> float:
        known = self._costs.get(operation)
        if known is not None:
            return known
        return max(self._costs.values(), default=self.default_cost)

    def expected_actual_cost(self, operation: str) -> float:
        """What the operation last took from the bucket (its requested cost until known)."""
        with self._lock:
            requested = self._requested(operation)
            return min(self._actual.get(operation, requested), requested)

    def before_request(self, operation: str) -> float:
        """Wait until the bucket covers the operation's expected cost; returns the wait.

        Every call must be followed by `after_response` in the same thread, also when the
        request fails without an answer (with `cost=None`): that ends the connection's turn.
        """
        self.bucket.take_turn()  # first: the call before may teach this one's cost
        return self.bucket.acquire(
            self.expected_cost(operation), consumes=self.expected_actual_cost(operation)
        )

    def after_response(self, operation: str, cost: Mapping[str, Any] | None) -> None:
        """Learn the operation's requested cost and re-sync the bucket from `extensions.cost`."""
        if isinstance(cost, Mapping):
            requested = cost.get("requestedQueryCost")
            actual = cost.get("actualQueryCost")
            with self._lock:
                if isinstance(requested, int | float) and not isinstance(requested, bool):
                    self._costs[operation] = float(requested)
                if isinstance(actual, int | float) and not isinstance(actual, bool):
                    self._actual[operation] = float(actual)
        self.bucket.settle(ThrottleStatus.from_cost(cost))

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
