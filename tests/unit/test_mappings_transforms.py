"""The named transforms on their own, with a property test of money against an oracle."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from returnbridge.mappings.transforms import (
    TransformError,
    to_datetime,
    to_integer,
    to_minor,
    to_status,
)

# Oracle: ISO 4217 minor-unit digits, written out here rather than read from the domain.
CURRENCY_DIGITS = {"JPY": 0, "KRW": 0, "USD": 2, "EUR": 2, "KWD": 3, "BHD": 3, "CLF": 4}


@given(
    currency=st.sampled_from(sorted(CURRENCY_DIGITS)),
    whole=st.integers(min_value=0, max_value=10**9),
    data=st.data(),
)
def test_money_within_the_exponent_round_trips_to_minor_units(
    currency: str, whole: int, data: st.DataObject
) -> None:
    digits = CURRENCY_DIGITS[currency]
    places = data.draw(st.integers(min_value=0, max_value=digits))
    fraction = data.draw(st.integers(min_value=0, max_value=10**places - 1))
    text = f"{whole}.{fraction:0{places}d}" if places else str(whole)
    minor = to_minor(text, currency)
    assert minor == whole * 10**digits + fraction * 10 ** (digits - places)


@given(
    currency=st.sampled_from(sorted(CURRENCY_DIGITS)),
    whole=st.integers(min_value=0, max_value=10**9),
    extra=st.integers(min_value=1, max_value=3),
    last=st.integers(min_value=1, max_value=9),
)
def test_money_with_more_decimals_than_the_exponent_is_refused(
    currency: str, whole: int, extra: int, last: int
) -> None:
    text = f"{whole}.{'0' * (CURRENCY_DIGITS[currency] + extra - 1)}{last}"
    with pytest.raises(TransformError, match=f"more decimals than {currency} allows"):
        to_minor(text, currency)


@pytest.mark.parametrize("value", ["19,99", "-5", "1e3", "", True, None, [1]])
def test_money_refuses_what_is_not_a_plain_amount(value: object) -> None:
    with pytest.raises(TransformError, match="not a money amount"):
        to_minor(value, "USD")


def test_money_takes_exact_json_numbers() -> None:
    assert to_minor(Decimal("19.99"), "USD") == 1999
    assert to_minor(1500, "JPY") == 1500


@pytest.mark.parametrize("value", ["two", 2.0, "2.5", False, "-1"])
def test_integer_refuses_non_integers(value: object) -> None:
    with pytest.raises(TransformError, match="not an integer"):
        to_integer(value)


def test_dates_from_unix_times_are_utc() -> None:
    expected = datetime(2026, 3, 14, 18, 40, tzinfo=UTC)
    assert to_datetime(1773513600, "unix", None) == expected
    assert to_datetime("1773513600000", "unix_ms", None) == expected


def test_a_date_in_the_wrong_format_says_which_format() -> None:
    with pytest.raises(TransformError, match="not a date in the format '%d/%m/%Y'"):
        to_datetime("2026-03-14", "%d/%m/%Y", UTC)


def test_unknown_status_lists_the_known_ones() -> None:
    with pytest.raises(TransformError) as error:
        to_status("pending_review", {"open": "requested", "solved": "approved"})
    assert str(error.value) == (
        "unknown status 'pending_review'; the status table knows: 'open', 'solved'"
    )
