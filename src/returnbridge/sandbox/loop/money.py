"""Money as ``Decimal``; on the wire, decimal strings with two places (``"63.30"``), as Loop
sends them. Rounding is half-up to the cent, and only where named."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def cents(value: Decimal) -> Decimal:
    """``value`` rounded half-up to the cent."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal) -> str:
    """The wire form: ``Decimal("63.3")`` -> ``"63.30"``."""
    return str(cents(value))


def minor_units(value: Decimal) -> int:
    """Cents as an integer (the draft returns API's ``{amount, currency}`` totals)."""
    return int(cents(value) * 100)
