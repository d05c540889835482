"""Money as ``Decimal`` with two places; on the wire, decimal strings such as ``"18.33"``.

SHOPLINE sends amounts as strings with precision 2. Rounding is always half-up to the cent and
always named where it happens; floats are never accepted.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class AmountError(ValueError):
    """A value that is not a usable amount."""


def parse_amount(value: object) -> Decimal:
    """An amount from a decimal string (or an integer); at most 2 decimals, finite.

    Floats are refused: the wire form is a string, and a float has already lost exactness.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise AmountError(f"not an amount: {value!r}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise AmountError(f"not an amount: {value!r}") from exc
    if not amount.is_finite() or amount != amount.quantize(CENT, rounding=ROUND_HALF_UP):
        raise AmountError(f"not an amount with at most 2 decimals: {value!r}")
    return amount.quantize(CENT)


def parse_rate(value: object) -> Decimal:
    """A tax or exchange rate from a decimal string; any precision, not negative."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise AmountError(f"not a rate: {value!r}")
    try:
        rate = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise AmountError(f"not a rate: {value!r}") from exc
    if not rate.is_finite() or rate < 0:
        raise AmountError(f"not a rate: {value!r}")
    return rate


def to_cent(value: Decimal) -> Decimal:
    """``value`` rounded half-up to the cent."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def share(total: Decimal, numerator: int, denominator: int) -> Decimal:
    """``total * numerator / denominator`` rounded half-up to the cent (0 for an empty whole)."""
    if denominator == 0:
        return ZERO
    return to_cent(total * numerator / denominator)


def share_of_amount(total: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """``total * part / whole`` rounded half-up to the cent (0 for an empty whole)."""
    if whole == 0:
        return ZERO
    return to_cent(total * part / whole)


def wire(amount: Decimal) -> str:
    """The wire form: a decimal string with exactly 2 places."""
    return str(to_cent(amount))
