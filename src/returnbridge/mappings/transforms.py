"""The named transforms a mapping field may apply to the value its expression found.

Each takes the vendor's value and returns the canonical one, or raises `TransformError` with a
short reason ("not an integer: 'two'") that the caller pairs with the field and its source.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, Literal

from returnbridge.domain.errors import DomainError
from returnbridge.domain.money import exponent, format_minor, is_iso_currency, parse_minor

Status = Literal["requested", "approved", "received", "cancelled"]
"""The canonical statuses a status table may map onto."""

_INTEGER = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TransformError(ValueError):
    """The value cannot be transformed; the message says why, in a few words."""


def to_string(value: Any) -> str:
    """A string as is, an integer or decimal as its digits; nothing else."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    raise TransformError(f"not a string: {value!r}")


def to_integer(value: Any) -> int:
    """A JSON integer or a string of digits ("2"); floats and words are refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value.strip())
    raise TransformError(f"not an integer: {value!r}")


def to_lower(value: Any) -> str:
    return to_string(value).lower()


def to_upper(value: Any) -> str:
    return to_string(value).upper()


def to_currency(value: Any) -> str:
    """An ISO 4217 code, upper-cased ("usd" is USD)."""
    code = to_string(value).strip().upper()
    if not is_iso_currency(code):
        raise TransformError(f"not an ISO 4217 currency code: {value!r}")
    return code


def to_minor(value: Any, currency: str) -> int:
    """A money amount ("19.99", 1500) as integer minor units of `currency`, exactly.

    More decimals than the currency has is an error, never a rounding.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise TransformError(f"not a money amount: {value!r}")
    text = str(value).strip()
    if not _DECIMAL.fullmatch(text):
        raise TransformError(f"not a money amount: {value!r}")
    try:
        return parse_minor(text, currency)
    except DomainError as exc:
        places = exponent(currency)
        raise TransformError(
            f"{value!r} has more decimals than {currency} allows ({places})"
        ) from exc


def to_money_decimal(value: Any, currency: str) -> str:
    """A money amount checked against `currency` and written with its decimals ("19.90")."""
    return format_minor(to_minor(value, currency), currency)


def to_datetime(value: Any, fmt: str, zone: tzinfo | None) -> datetime:
    """An aware datetime from ISO 8601, Unix seconds or milliseconds, or a strptime format.

    A value without an offset takes `zone`; without one the value is refused, not guessed.
    """
    if fmt in {"unix", "unix_ms"}:
        count = to_integer(value)
        step = timedelta(milliseconds=count) if fmt == "unix_ms" else timedelta(seconds=count)
        return _EPOCH + step
    if not isinstance(value, str):
        raise TransformError(f"not a date: {value!r}")
    try:
        if fmt == "iso8601":
            parsed = datetime.fromisoformat(value)
        else:
            # The format may lack %z: a naive result takes the mapping's timezone below.
            parsed = datetime.strptime(value, fmt)  # noqa: DTZ007
    except ValueError as exc:
        expected = "an ISO 8601 date" if fmt == "iso8601" else f"a date in the format {fmt!r}"
        raise TransformError(f"not {expected}: {value!r}") from exc
    if parsed.tzinfo is not None:
        return parsed
    if zone is None:
        raise TransformError(f"{value!r} has no timezone and the mapping gives none")
    return parsed.replace(tzinfo=zone)


def to_status(value: Any, table: dict[str, Status]) -> Status:
    """The canonical status the table gives for the vendor's value."""
    key = to_string(value)
    if key not in table:
        known = ", ".join(repr(name) for name in table)
        raise TransformError(f"unknown status {key!r}; the status table knows: {known}")
    return table[key]
