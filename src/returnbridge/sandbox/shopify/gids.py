"""Shopify global ids: ``gid://shopify/{Type}/{number}``."""

from __future__ import annotations

_PREFIX = "gid://shopify/"


def gid(kind: str, number: int) -> str:
    """The global id of a record."""
    return f"{_PREFIX}{kind}/{number}"


def parse_gid(value: object, kind: str) -> int | None:
    """The number inside a global id of ``kind``, or None when it is not one."""
    if not isinstance(value, str) or not value.startswith(f"{_PREFIX}{kind}/"):
        return None
    number = value.removeprefix(f"{_PREFIX}{kind}/").split("?", 1)[0]
    return int(number) if number.isdigit() else None
