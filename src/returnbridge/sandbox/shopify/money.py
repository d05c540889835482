"""Money as the simulated platform keeps it: integer minor units, one pair per amount.

Shopify reports every amount twice, in the shop currency and in the presentment currency the
customer paid in; :class:`Bag` is that pair. Rounding is half-up, as in the platform's
money library.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

_ZERO_DECIMAL = frozenset(
    {
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    }
)
_THREE_DECIMAL = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})


def exponent(currency: str) -> int:
    """Number of minor-unit digits of an ISO 4217 currency."""
    if currency in _ZERO_DECIMAL:
        return 0
    if currency in _THREE_DECIMAL:
        return 3
    return 2


class AmountError(ValueError):
    """A decimal amount that is malformed or finer than the currency allows."""


def parse_amount(value: object, currency: str) -> int:
    """Exact minor units of a decimal string (or number) in ``currency``."""
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        msg = f"invalid amount {value!r}"
        raise AmountError(msg) from exc
    if not amount.is_finite():
        msg = f"invalid amount {value!r}"
        raise AmountError(msg)
    minor = amount.scaleb(exponent(currency))
    if minor != minor.to_integral_value():
        msg = f"{value!r} has more decimals than {currency} allows"
        raise AmountError(msg)
    return int(minor)


def format_amount(minor: int, currency: str) -> str:
    """Shopify's decimal rendering: trailing zeros dropped, at least one decimal (``"12.0"``)."""
    digits = exponent(currency)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**digits)
    frac_text = str(frac).rjust(digits, "0").rstrip("0") if digits else ""
    return f"{sign}{whole}.{frac_text or '0'}"


def round_half_up(value: Fraction) -> int:
    """Nearest integer, ties away from zero."""
    magnitude = (abs(value.numerator) * 2 + value.denominator) // (2 * value.denominator)
    return magnitude if value >= 0 else -magnitude


def convert(minor: int, rate: Fraction, *, source: str, target: str) -> int:
    """``minor`` units of ``source`` times ``rate``, in minor units of ``target``."""
    scale = Fraction(10) ** (exponent(target) - exponent(source))
    return round_half_up(minor * rate * scale)


def proportion(total: int, part: int, whole: int) -> int:
    """``total * part / whole`` rounded half-up; the whole total when ``part == whole``."""
    if whole == 0:
        return 0
    if part == whole:
        return total
    return round_half_up(Fraction(total * part, whole))


def unit_share(component: int, units: int, *, taken: int, count: int) -> int:
    """Share of ``component`` carried by units ``taken+1 .. taken+count`` of ``units``.

    The component is split evenly and the leftover minor units sit on the first units, which
    are consumed first (the platform takes "the higher-valued splits first").
    """
    base, remainder = divmod(component, units)

    def carried(m: int) -> int:
        return m * base + min(m, remainder)

    return carried(taken + count) - carried(taken)


def largest_remainder(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` by ``weights``; leftovers go to the largest remainders (ties: first)."""
    weight_sum = sum(weights)
    if weight_sum == 0:
        return [0 for _ in weights]
    exact = [Fraction(total * w, weight_sum) for w in weights]
    shares = [int(x) for x in exact]
    leftover = total - sum(shares)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
    for index in order[:leftover]:
        shares[index] += 1
    return shares


@dataclass(frozen=True, slots=True)
class Bag:
    """One amount in shop and presentment minor units."""

    shop: int
    presentment: int

    def __add__(self, other: Bag) -> Bag:
        return Bag(self.shop + other.shop, self.presentment + other.presentment)

    def __sub__(self, other: Bag) -> Bag:
        return Bag(self.shop - other.shop, self.presentment - other.presentment)

    def times(self, factor: int) -> Bag:
        """Both amounts multiplied by an integer."""
        return Bag(self.shop * factor, self.presentment * factor)

    def unit_share(self, units: int, *, taken: int, count: int) -> Bag:
        """:func:`unit_share` applied to both currencies."""
        return Bag(
            unit_share(self.shop, units, taken=taken, count=count),
            unit_share(self.presentment, units, taken=taken, count=count),
        )


ZERO = Bag(0, 0)


def total(bags: list[Bag]) -> Bag:
    """Sum of bags (zero for none)."""
    result = ZERO
    for bag in bags:
        result = result + bag
    return result


def format_fixed(minor: int, currency: str) -> str:
    """Decimal string with every minor digit (``"12.00"``), as the control surface answers."""
    digits = exponent(currency)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**digits)
    return f"{sign}{whole}.{str(frac).rjust(digits, '0')}" if digits else f"{sign}{whole}"
