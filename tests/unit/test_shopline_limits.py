"""The SHOPLINE leaky bucket (40 requests, 4 per second), on an injected clock."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from returnbridge.connectors.shopline.limits import LeakyBucket


@dataclass
class Clock:
    now: float = 1000.0
    waits: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def bucket(clock: Clock, **options: int) -> LeakyBucket:
    return LeakyBucket(sleep=clock.sleep, clock=clock, **options)


def test_a_burst_up_to_the_bucket_less_the_reserve_goes_without_waiting() -> None:
    clock = Clock()
    limiter = bucket(clock, reserve=2)
    for _ in range(38):
        assert limiter.wait_turn() == 0.0
    assert clock.waits == []
    assert limiter.wait_turn() == pytest.approx(0.25)  # one slot drains in 1/4 s
    assert limiter.wait_turn() == pytest.approx(0.25)


def test_the_bucket_drains_four_per_second() -> None:
    clock = Clock()
    limiter = bucket(clock, reserve=0)
    for _ in range(40):
        limiter.wait_turn()
    clock.now += 2.0
    assert limiter.level == pytest.approx(32.0)
    for _ in range(8):
        assert limiter.wait_turn() == 0.0
    assert limiter.wait_turn() > 0


def test_after_a_429_the_wait_is_shoplines_and_then_one_request_goes() -> None:
    clock = Clock()
    limiter = bucket(clock)
    assert limiter.throttled(3.0) == 3.0
    assert limiter.throttled(None) == 1.0
    limiter.backoff(1.0)
    assert limiter.wait_turn() == 0.0  # room for exactly one after the wait
    assert limiter.wait_turn() > 0


def test_a_bucket_without_room_beyond_its_reserve_is_refused() -> None:
    with pytest.raises(ValueError, match="room"):
        LeakyBucket(capacity=2, reserve=2)
