"""Largest-remainder allocation and the per-unit split S(m) (refund-math §3.2, §3.3)."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from returnbridge.domain.allocation import UnitSplit, largest_remainder


def test_spec_example_order_discount_tie_goes_to_the_first_line() -> None:
    assert largest_remainder(250, [3000, 1000]) == [188, 62]


def test_shopify_fixture_ten_dollars_over_three_equal_lines() -> None:
    assert largest_remainder(1000, [19900, 19900, 19900]) == [334, 333, 333]


def test_leftover_goes_to_the_largest_fractional_part_not_the_first_line() -> None:
    # exact 33.33 / 66.67: floors 33/66, the leftover unit goes to the .67
    assert largest_remainder(100, [1, 2]) == [33, 67]


def test_zero_weights_receive_nothing() -> None:
    assert largest_remainder(5, [0, 3, 0, 2]) == [0, 3, 0, 2]
    assert largest_remainder(0, [0, 0]) == [0, 0]


@pytest.mark.parametrize(("total", "weights"), [(-1, [1]), (1, [0, 0]), (1, [2, -1])])
def test_invalid_allocations_are_refused(total: int, weights: list[int]) -> None:
    with pytest.raises(ValueError, match=r"allocat|weights"):
        largest_remainder(total, weights)


@settings(max_examples=200, deadline=None)
@given(
    total=st.integers(min_value=0, max_value=10**9),
    weights=st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=8).filter(
        lambda w: sum(w) > 0
    ),
)
def test_allocation_sums_to_the_total_and_stays_within_one_unit_of_exact(
    total: int, weights: list[int]
) -> None:
    parts = largest_remainder(total, weights)
    assert sum(parts) == total
    for part, weight in zip(parts, weights, strict=True):
        exact = Fraction(total * weight, sum(weights))
        assert exact - 1 < part < exact + 1
        if total <= sum(weights):
            assert part <= weight


def test_unit_split_matches_the_spec_examples() -> None:
    discount = UnitSplit(500, 3)  # P02: 167/167/166
    assert [discount.share(already=j, quantity=1) for j in range(3)] == [167, 167, 166]
    tax = UnitSplit(101, 2)  # P06: 51/50, second return takes 50
    assert tax.share(already=1, quantity=1) == 50
    assert tax.remaining(already=1) == 50


@pytest.mark.parametrize(("component", "units"), [(-1, 2), (5, 0)])
def test_unit_split_refuses_negative_components_and_empty_lines(component: int, units: int) -> None:
    with pytest.raises(ValueError, match=r"must be|needs"):
        UnitSplit(component, units)


@settings(max_examples=200, deadline=None)
@given(
    component=st.integers(min_value=0, max_value=10**8),
    units=st.integers(min_value=1, max_value=50),
    data=st.data(),
)
def test_unit_split_is_exact_and_path_independent(
    component: int, units: int, data: st.DataObject
) -> None:
    split = UnitSplit(component, units)
    assert split.carried(units) == component
    cut = data.draw(st.integers(min_value=0, max_value=units))
    assert split.share(already=0, quantity=cut) + split.share(
        already=cut, quantity=units - cut
    ) == split.share(already=0, quantity=units)
    shares = [split.share(already=j, quantity=1) for j in range(units)]
    assert shares == sorted(shares, reverse=True)  # the extra minor units sit on the first units
    assert max(shares) - min(shares) <= 1


@pytest.mark.parametrize(
    ("total", "weights", "message"),
    [
        (-1, [1], "cannot allocate a negative total (-1)"),
        (1, [2, -1], "allocation weights must be >= 0"),
        (3, [0, 0], "cannot allocate 3 over weights that sum to zero"),
    ],
)
def test_a_refused_allocation_says_why(total: int, weights: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        largest_remainder(total, weights)


@pytest.mark.parametrize("units", [-1, 4])
def test_carried_units_outside_the_line_are_refused_with_the_range(units: int) -> None:
    # a line of 3 units carries S(0)..S(3); m = −1 or 4 is no number of its units.
    with pytest.raises(ValueError, match=rf"^m must be within 0\.\.3, got {units}$"):
        UnitSplit(10, 3).carried(units)


def test_carried_units_at_both_ends_of_the_line() -> None:
    # 10 over 3 units: base 3, one extra unit on the first: S(0) = 0, S(3) = 10.
    split = UnitSplit(10, 3)
    assert (split.base, split.extra) == (3, 1)
    assert [split.carried(m) for m in range(4)] == [0, 4, 7, 10]
