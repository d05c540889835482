"""Which orders ``GET /orders`` lists: ``search``, ``status``, newest first."""

from __future__ import annotations

from datetime import datetime

from returnbridge.sandbox.woocommerce.errors import invalid_param
from returnbridge.sandbox.woocommerce.state import Order

ANY_STATUS = "any"


def _haystack(order: Order) -> list[str]:
    billing = order.billing
    return [
        str(order.id),
        order.number,
        billing.get("email", ""),
        billing.get("first_name", ""),
        billing.get("last_name", ""),
        billing.get("phone", ""),
        *(li.name for li in order.line_items),
    ]


def matches_search(order: Order, search: str) -> bool:
    """Case-insensitive substring match on the fields core's order search covers (roughly)."""
    needle = search.strip().removeprefix("#").lower()
    if not needle:
        return True
    return any(needle in value.lower() for value in _haystack(order))


def parse_after(value: str | None) -> datetime | None:
    """``after`` (ISO 8601): orders created strictly after it; an offset is dropped, as the
    sandbox keeps one clock for site and GMT dates."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError as exc:
        raise invalid_param("after", "Invalid date.") from exc


def _created(order: Order) -> datetime:
    return datetime.fromisoformat(order.date_created).replace(tzinfo=None)


def select_orders(
    orders: list[Order],
    *,
    search: str | None,
    statuses: list[str],
    after: datetime | None = None,
) -> list[Order]:
    """Matching orders, newest first (``orderby=date``, ``order=desc``)."""
    wanted = {s for s in statuses if s and s != ANY_STATUS}
    chosen = [
        o
        for o in orders
        if (search is None or matches_search(o, search))
        and (not wanted or o.status in wanted)
        and (after is None or _created(o) > after)
        and o.status != "trash"
    ]
    return sorted(chosen, key=lambda o: (o.date_created, o.id), reverse=True)
