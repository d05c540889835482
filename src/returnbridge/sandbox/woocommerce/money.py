"""Money as integer cents inside; WooCommerce decimal strings (2 dp) on the wire."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


class MoneyError(ValueError):
    """A value that is not an amount of money."""


def to_cents(value: object) -> int:
    """Cents of a decimal string or JSON number (parsed as Decimal), rounded half-up."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        msg = f"not an amount: {value!r}"
        raise MoneyError(msg)
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation as exc:
        msg = f"not an amount: {value!r}"
        raise MoneyError(msg) from exc
    if not amount.is_finite():
        msg = f"not an amount: {value!r}"
        raise MoneyError(msg)
    return int((amount / CENT).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def fmt(cents: int) -> str:
    """``1234`` -> ``"12.34"``; ``-5`` -> ``"-0.05"``."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


def unit_price(cents: int, quantity: int) -> Decimal:
    """A line's unit price as WooCommerce's ``price`` number (not rounded to cents)."""
    if quantity == 0:
        return Decimal(0)
    return (Decimal(cents) / 100 / quantity).normalize()
