"""Id sources: prefixed, time-sortable, and deterministic in tests."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from returnbridge.store.clock import SteppingClock
from returnbridge.store.ids import SequentialIds, new_id


def test_new_ids_are_prefixed_crockford_and_unique() -> None:
    made = [new_id("ret") for _ in range(200)]
    assert all(re.fullmatch(r"ret_[0-9A-HJKMNP-TV-Z]{26}", value) for value in made)
    assert len(set(made)) == 200


def test_new_ids_sort_by_creation_millisecond() -> None:
    first = new_id("ret")
    # The next millisecond is reached without sleeping by generating until the prefix changes.
    later = first
    while later[4:14] == first[4:14]:
        later = new_id("ret")
    assert first < later


def test_sequential_ids_are_sortable_and_unique_across_threads() -> None:
    ids = SequentialIds()
    with ThreadPoolExecutor(max_workers=4) as pool:
        made = list(pool.map(lambda _: ids("ret"), range(400)))
    assert len(set(made)) == 400
    in_order = [ids("ret") for _ in range(100)]
    assert sorted(in_order) == in_order
    assert SequentialIds()("ten") == "ten_" + "0" * 25 + "1"


def test_stepping_clock_steps_and_refuses_naive_start() -> None:
    clock = SteppingClock(datetime(2026, 1, 1, tzinfo=UTC), step=timedelta(seconds=2))
    assert clock() == datetime(2026, 1, 1, tzinfo=UTC)
    clock.advance(timedelta(minutes=1))
    assert clock() == datetime(2026, 1, 1, 0, 1, 2, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        SteppingClock(datetime(2026, 1, 1))
