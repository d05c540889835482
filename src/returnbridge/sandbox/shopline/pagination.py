"""Cursor pagination as SHOPLINE (like Shopify) does it: an opaque ``page_info`` in a ``Link``
header, ``rel="next"`` and ``rel="previous"``. The cursor carries the filters, so a request
with ``page_info`` takes only ``limit`` besides it."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from returnbridge.sandbox.shopline.errors import bad_request

Item = TypeVar("Item")
MAX_LIMIT = 100
DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after ``last`` (next) or before ``first`` (previous)."""

    filters: dict[str, str]
    direction: str
    edge: int

    def encode(self) -> str:
        """The opaque ``page_info`` value."""
        raw = json.dumps({"f": self.filters, "d": self.direction, "e": self.edge})
        return base64.urlsafe_b64encode(raw.encode()).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """A cursor from ``page_info``; 400 when it is not one of ours."""
        try:
            padded = token + "=" * (-len(token) % 4)
            raw: Any = json.loads(base64.urlsafe_b64decode(padded.encode()))
            filters, direction, edge = raw["f"], raw["d"], raw["e"]
        except (binascii.Error, ValueError, KeyError, TypeError) as exc:
            raise bad_request("invalid page_info") from exc
        if (
            not isinstance(filters, dict)
            or direction not in ("next", "previous")
            or not isinstance(edge, int)
        ):
            raise bad_request("invalid page_info")
        return cls({str(k): str(v) for k, v in filters.items()}, direction, edge)


def parse_limit(raw: str | None) -> int:
    """``limit``: 1..100, default 50; anything else is a 400."""
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise bad_request(f"limit must be between 1 and {MAX_LIMIT}")
    return int(raw)


@dataclass(frozen=True)
class Page(Generic[Item]):
    """One page of items and the cursors around it."""

    items: list[Item]
    next: Cursor | None
    previous: Cursor | None

    def link_header(self, url: Callable[[str], str], limit: int) -> str | None:
        """The ``Link`` header value, or None when there is no other page; ``url`` makes
        the page's URL from a query string."""
        links = []
        for cursor, rel in ((self.previous, "previous"), (self.next, "next")):
            if cursor is not None:
                query = urlencode({"limit": str(limit), "page_info": cursor.encode()})
                links.append(f'<{url(query)}>; rel="{rel}"')
        return ", ".join(links) or None


def paginate(
    items: Sequence[Item],
    key: Callable[[Item], int],
    *,
    limit: int,
    filters: dict[str, str],
    cursor: Cursor | None,
) -> Page[Item]:
    """The page of ``items`` (sorted by ascending ``key``) that ``cursor`` points at."""
    ordered = sorted(items, key=key)
    if cursor is None:
        chosen = ordered[:limit]
    elif cursor.direction == "next":
        chosen = [i for i in ordered if key(i) > cursor.edge][:limit]
    else:
        chosen = [i for i in ordered if key(i) < cursor.edge][-limit:]
    if not chosen:
        return Page([], None, None)
    first, last = key(chosen[0]), key(chosen[-1])
    has_next = any(key(i) > last for i in ordered)
    has_previous = any(key(i) < first for i in ordered)
    return Page(
        chosen,
        Cursor(filters, "next", last) if has_next else None,
        Cursor(filters, "previous", first) if has_previous else None,
    )
