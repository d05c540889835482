"""Which orders ``GET /orders`` lists: ``search``, ``status``, newest first."""

from __future__ import annotations

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


def select_orders(orders: list[Order], *, search: str | None, statuses: list[str]) -> list[Order]:
    """Matching orders, newest first (``orderby=date``, ``order=desc``)."""
    wanted = {s for s in statuses if s and s != ANY_STATUS}
    chosen = [
        o
        for o in orders
        if (search is None or matches_search(o, search))
        and (not wanted or o.status in wanted)
        and o.status != "trash"
    ]
    return sorted(chosen, key=lambda o: (o.date_created, o.id), reverse=True)
