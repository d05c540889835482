"""Money as integer minor units with the currency's ISO 4217 exponent.

Decimal strings are parsed exactly; an amount with more decimals than the currency allows is
rejected rather than rounded. Rounding, where a rule calls for it, always names its mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction
from typing import Self

from returnbridge.domain.currencies import ISO_4217
from returnbridge.domain.errors import DomainError

# ISO 4217 minor-unit exponents that differ from the default of 2.
_EXPONENTS: dict[str, int] = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "CLF": 4, "UYW": 4,
}  # fmt: skip


class Rounding(StrEnum):
    """How a derived amount is rounded to minor units (refund-math §3.10)."""

    HALF_UP = "HALF_UP"
    HALF_EVEN = "HALF_EVEN"


def exponent(currency: str) -> int:
    """Number of decimals of the currency's minor unit (ISO 4217; default 2)."""
    code = currency.upper()
    if len(code) != 3 or not code.isalpha():
        raise DomainError("INVALID_CURRENCY", f"'{currency}' is not an ISO 4217 currency code")
    return _EXPONENTS.get(code, 2)


def is_iso_currency(code: str) -> bool:
    """Whether ``code`` is a current ISO 4217 currency that money can be counted in.

    From the maintained ISO table (`currencies.py`); codes without minor units, such as
    ``XXX`` (no currency), ``XTS`` (testing) and the metals, are not money.
    """
    return code in ISO_4217


def round_fraction(value: Fraction, mode: Rounding) -> int:
    """Round an exact rational to an integer with the named mode (ties away from zero or even)."""
    sign = -1 if value < 0 else 1
    magnitude = abs(value)
    whole, rest = divmod(magnitude.numerator, magnitude.denominator)
    twice = 2 * rest
    tie = twice == magnitude.denominator
    if twice > magnitude.denominator or (tie and (mode is Rounding.HALF_UP or whole % 2 == 1)):
        whole += 1
    return sign * whole


def parse_minor(text: str | int | Decimal, currency: str, *, field: str = "amount") -> int:
    """Parse a decimal amount ("12.34", Decimal or int major units) into minor units, exactly."""
    try:
        value = Decimal(str(text).strip()) if not isinstance(text, Decimal) else text
    except InvalidOperation as exc:
        raise DomainError(
            "INVALID_AMOUNT", f"{field}: '{text}' is not a decimal amount", field=field
        ) from exc
    if not value.is_finite():
        raise DomainError(
            "INVALID_AMOUNT", f"{field}: '{text}' is not a finite amount", field=field
        )
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise DomainError(
            "INVALID_AMOUNT",
            f"{field}: '{text}' has more decimals than {currency.upper()} allows",
            field=field,
        )
    return int(scaled)


def format_minor(minor: int, currency: str) -> str:
    """Render minor units as a plain decimal string with the currency's exponent ("12.30")."""
    exp = exponent(currency)
    value = Decimal(minor).scaleb(-exp)
    return f"{value:.{exp}f}"


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in integer minor units of one currency."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise DomainError(
                "INVALID_AMOUNT", f"minor units must be an integer, got {self.minor!r}"
            )
        object.__setattr__(self, "currency", self.currency.upper())
        exponent(self.currency)

    @classmethod
    def parse(cls, text: str | int | Decimal, currency: str) -> Self:
        return cls(parse_minor(text, currency), currency)

    @classmethod
    def zero(cls, currency: str) -> Self:
        return cls(0, currency)

    @property
    def exponent(self) -> int:
        return exponent(self.currency)

    @property
    def amount(self) -> Decimal:
        """The exact decimal value in major units."""
        return Decimal(self.minor).scaleb(-self.exponent)

    def format(self) -> str:
        return format_minor(self.minor, self.currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise DomainError(
                "CURRENCY_MISMATCH", f"cannot combine {self.currency} with {other.currency}"
            )

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __str__(self) -> str:
        return f"{self.format()} {self.currency}"


__all__ = [
    "ROUND_HALF_EVEN",
    "ROUND_HALF_UP",
    "Money",
    "Rounding",
    "exponent",
    "format_minor",
    "parse_minor",
    "round_fraction",
]
