"""Cursor pagination shared by every connection the sandbox serves."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from graphql import GraphQLError

MAX_PAGE_SIZE = 250
T = TypeVar("T")


def cursor_for(item_id: int) -> str:
    """Opaque cursor of an item."""
    return base64.urlsafe_b64encode(json.dumps({"last_id": item_id}).encode()).decode()


def _decode(cursor: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return int(data["last_id"])
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        msg = "Invalid cursor for current pagination sort."
        raise GraphQLError(msg) from exc


def page_size(first: int | None) -> int:
    """Validate ``first`` the way the platform does."""
    if first is None:
        msg = "you must provide one of first or last"
        raise GraphQLError(msg)
    if first < 0 or first > MAX_PAGE_SIZE:
        msg = f"The requested page size must be between 0 and {MAX_PAGE_SIZE}."
        raise GraphQLError(msg)
    return first


def connection(
    items: Sequence[T],
    *,
    first: int | None,
    after: str | None,
    item_id: Callable[[T], int],
    view: Callable[[T], dict[str, Any]],
) -> dict[str, Any]:
    """A connection page (``nodes``, ``edges``, ``pageInfo``) of ``items`` in their order."""
    size = page_size(first)
    start = 0
    if after is not None:
        last_id = _decode(after)
        positions = [i for i, item in enumerate(items) if item_id(item) == last_id]
        if not positions:
            msg = "Invalid cursor for current pagination sort."
            raise GraphQLError(msg)
        start = positions[0] + 1
    page = list(items[start : start + size])
    edges = [{"cursor": cursor_for(item_id(item)), "node": view(item)} for item in page]
    return {
        "nodes": [edge["node"] for edge in edges],
        "edges": edges,
        "pageInfo": {
            "hasNextPage": start + size < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }
