"""Loop's minute budget: waits for room, holds the connection after a 429."""

from __future__ import annotations

import pytest

from returnbridge.connectors.loop.limits import MinuteBudget, backoff


class Stop(Exception):
    pass


def test_backoff_doubles_and_honours_a_longer_retry_after() -> None:
    assert [backoff(n) for n in range(4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff(0, 30.0) == 30.0
    assert backoff(3, 1.0) == 8.0


def test_a_hold_is_waited_out_by_the_next_caller() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    budget = MinuteBudget(sleep=sleep, clock=lambda: now[0])
    assert budget.wait_turn() == 0.0
    budget.hold(2.5)
    budget.hold(1.0)  # a shorter hold never shortens a longer one
    assert budget.wait_turn() == 2.5
    assert slept == [2.5]
    assert budget.wait_turn() == 0.0


def test_a_full_minute_makes_the_caller_wait() -> None:
    def sleep(seconds: float) -> None:
        assert 0 < seconds <= 60
        raise Stop

    budget = MinuteBudget(per_minute=3, reserve=1, sleep=sleep)
    budget.wait_turn()
    budget.wait_turn()
    with pytest.raises(Stop):
        budget.wait_turn()
    assert budget.wait_turn(key="another key") == 0.0


def test_a_budget_needs_room_beyond_its_reserve() -> None:
    with pytest.raises(ValueError, match="reserve"):
        MinuteBudget(per_minute=5, reserve=5)
