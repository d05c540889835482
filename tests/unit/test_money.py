"""Money in minor units: exact parsing, formatting and explicit rounding."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from returnbridge.domain.errors import DomainError
from returnbridge.domain.money import (
    Money,
    Rounding,
    exponent,
    format_minor,
    parse_minor,
    round_fraction,
)


@pytest.mark.parametrize(("currency", "exp"), [("USD", 2), ("JPY", 0), ("KWD", 3), ("eur", 2)])
def test_exponents_follow_iso_4217(currency: str, exp: int) -> None:
    assert exponent(currency) == exp


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [("12.34", "USD", 1234), ("12", "USD", 1200), ("880", "JPY", 880), ("4.875", "KWD", 4875)],
)
def test_parse_is_exact(text: str, currency: str, minor: int) -> None:
    assert parse_minor(text, currency) == minor


@pytest.mark.parametrize(("text", "currency"), [("1.234", "USD"), ("1.5", "JPY"), ("abc", "USD")])
def test_too_many_decimals_or_garbage_is_rejected_not_rounded(text: str, currency: str) -> None:
    with pytest.raises(DomainError) as caught:
        parse_minor(text, currency, field="refund.amount")
    assert caught.value.code == "INVALID_AMOUNT"
    assert caught.value.field == "refund.amount"


@given(st.integers(min_value=-(10**12), max_value=10**12), st.sampled_from(["USD", "JPY", "KWD"]))
def test_format_then_parse_round_trips(minor: int, currency: str) -> None:
    assert parse_minor(format_minor(minor, currency), currency) == minor


@pytest.mark.parametrize(
    ("value", "half_up", "half_even"),
    [(Fraction(369, 2), 185, 184), (Fraction(371, 2), 186, 186), (Fraction(-5, 2), -3, -2)],
)
def test_rounding_modes_differ_only_on_ties(value: Fraction, half_up: int, half_even: int) -> None:
    assert round_fraction(value, Rounding.HALF_UP) == half_up
    assert round_fraction(value, Rounding.HALF_EVEN) == half_even


def test_money_refuses_mixing_currencies_and_floats() -> None:
    with pytest.raises(DomainError):
        Money(100, "USD") + Money(100, "EUR")
    with pytest.raises(DomainError):
        Money(1.5, "USD")  # type: ignore[arg-type]
    assert Money.parse("0.10", "usd").amount == Decimal("0.10")
    assert str(Money(1234, "KWD")) == "1.234 KWD"
