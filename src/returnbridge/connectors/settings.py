"""The connection settings the engine reads, checked when a connection is created.

Settings are a free-form object per connection; the ones listed here change how returns are
processed, so a wrong type is refused at creation rather than silently read as the default
when a return is planned. Keys not listed here pass through (platform-specific options).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from returnbridge.domain.errors import DomainError


def _flag(value: Any) -> bool:
    return isinstance(value, bool)


def _minor_units(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10**12


def _text(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value.strip()) <= 200


def _one_of(*choices: str) -> Callable[[Any], bool]:
    return lambda value: value in choices


CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "rounding": (_one_of("HALF_UP", "HALF_EVEN"), "HALF_UP or HALF_EVEN"),
    "on_cap_exceeded": (_one_of("reject", "clamp"), "reject or clamp"),
    "cross_check": (_flag, "true or false"),
    "cross_check_tolerance": (_minor_units, "a whole number of minor units, 0 or more"),
    "restock_location_id": (_text, "a location id"),
    "api_refund": (_flag, "true or false"),
    "shopify_returns": (_flag, "true or false"),
    "process_returns_on": (_one_of("approval", "receipt"), "approval or receipt"),
    "returns_system": (_text, "the id of the tenant's returns-system connection (loop)"),
}
"""Setting -> (check, what it must be)."""


def check_settings(settings: Mapping[str, Any]) -> None:
    """Refuse settings the engine would misread, naming the first wrong one."""
    for name, (check, expected) in CHECKS.items():
        if name in settings and not check(settings[name]):
            raise DomainError(
                "INVALID_SETTING",
                f"connection setting {name!r} must be {expected}",
                field=f"settings.{name}",
            )
