"""Money as integer minor units (cents) inside; v2 strings with 4 decimals, v3 numbers outside."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


class AmountError(ValueError):
    """A value that is not a usable amount."""


def parse_cents(value: object) -> int:
    """Cents of a number or decimal string (half-up to 2 places); floats go through ``str``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise AmountError(f"not an amount: {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise AmountError(f"not an amount: {value!r}") from exc
    if not amount.is_finite():
        raise AmountError(f"not an amount: {value!r}")
    return int(amount.quantize(CENT, rounding=ROUND_HALF_UP) * 100)


def v2_money(cents: int) -> str:
    """The v2 form: a string with 4 decimals, e.g. ``"225.0000"``."""
    return f"{Decimal(cents) / 100:.4f}"


def v3_amount(cents: int) -> float:
    """The v3 form: a JSON number with 2-decimal semantics (only built for output)."""
    return float(Decimal(cents) / 100)


def share(cents: int, numerator: int, denominator: int) -> int:
    """``cents * numerator / denominator`` rounded half-up, in integers."""
    if denominator == 0:
        return 0
    return (cents * numerator * 2 + denominator) // (2 * denominator)
