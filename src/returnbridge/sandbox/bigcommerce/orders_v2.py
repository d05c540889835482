"""Orders v2 (read side): orders, order products, shipping addresses; empty lists answer 204."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from fastapi import APIRouter, Request, Response

from returnbridge.sandbox.bigcommerce.gateway import Call, admit
from returnbridge.sandbox.bigcommerce.state import Order, parse_id
from returnbridge.sandbox.bigcommerce.views import v2_address, v2_order, v2_product

router = APIRouter(prefix="/stores/{store_hash}/v2")
DEFAULT_LIMIT = 50
MAX_LIMIT = 250
_INT_FILTERS = ("customer_id", "min_id", "max_id", "status_id")


class _BadQuery(ValueError):
    pass


def _int_param(request: Request, name: str, default: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise _BadQuery(f"The field '{name}' is invalid.") from exc


def _page(request: Request, items: list[Any]) -> list[Any]:
    page = _int_param(request, "page", 1) or 1
    limit = min(max(_int_param(request, "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT, 1), MAX_LIMIT)
    start = (max(page, 1) - 1) * limit
    return items[start : start + limit]


def _date_param(request: Request, name: str) -> datetime | None:
    """A date filter: RFC 2822 or ISO 8601 (a bare date is midnight UTC), as v2 accepts."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return _aware(parsedate_to_datetime(raw))
    except (TypeError, ValueError):
        pass
    try:
        return _aware(datetime.fromisoformat(raw.replace("Z", "+00:00")))
    except ValueError as exc:
        raise _BadQuery(f"The field '{name}' is invalid.") from exc


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _created(order: Order) -> datetime:
    return _aware(parsedate_to_datetime(order.date_created))


def _sorted(orders: list[Order], request: Request) -> list[Order]:
    """``sort``: ``id`` or ``date_created``, ``:asc`` (default) or ``:desc``; else by id."""
    field, _, direction = request.query_params.get("sort", "id").partition(":")
    if field not in _SORTS or direction not in ("", "asc", "desc"):
        raise _BadQuery("The field 'sort' is invalid.")
    return sorted(orders, key=_SORTS[field], reverse=direction == "desc")


_SORTS: dict[str, Callable[[Order], Any]] = {
    "id": lambda o: o.id,
    "date_created": lambda o: (_created(o), o.id),
}


def _matches(order: Order, request: Request) -> bool:
    created_from = _date_param(request, "min_date_created")
    created_to = _date_param(request, "max_date_created")
    if created_from is not None and _created(order) < created_from:
        return False
    if created_to is not None and _created(order) > created_to:
        return False
    email = request.query_params.get("email")
    if email is not None and order.email.lower() != email.lower():
        return False
    wanted = {name: _int_param(request, name) for name in _INT_FILTERS}
    checks = (
        wanted["customer_id"] is None or order.customer_id == wanted["customer_id"],
        wanted["min_id"] is None or order.id >= wanted["min_id"],
        wanted["max_id"] is None or order.id <= wanted["max_id"],
        wanted["status_id"] is None or order.status_id == wanted["status_id"],
    )
    return all(checks)


async def _serve(
    request: Request, store_hash: str, operation: str, answer: Callable[[Call], Response]
) -> Response:
    call = admit(request, store_hash, operation, "v2")
    if isinstance(call, Response):
        return call
    await call.hold("latency")
    try:
        with call.simulator.world.lock:
            response = answer(call)
    except _BadQuery as exc:
        response = call.error(400, str(exc))
    await call.hold("timeout_after_commit")
    return response


def _collection(call: Call, items: list[Any]) -> Response:
    page = _page(call.request, items)
    return call.respond(page) if page else call.respond(None, 204)


def _order(call: Call, order_id: str) -> Order | None:
    number = parse_id(order_id)
    return None if number is None else call.store.orders.get(number)


@router.get("/orders")
async def get_orders(request: Request, store_hash: str) -> Response:
    """``getOrders``: email, customer_id, min/max_id, status_id, min/max_date_created; sort;
    page, limit."""

    def answer(call: Call) -> Response:
        orders = _sorted(list(call.store.orders.values()), request)
        found = [v2_order(o, store_hash) for o in orders if _matches(o, request)]
        return _collection(call, found)

    return await _serve(request, store_hash, "getOrders", answer)


@router.get("/orders/{order_id}")
async def get_order(request: Request, store_hash: str, order_id: str) -> Response:
    """``getOrder``."""

    def answer(call: Call) -> Response:
        order = _order(call, order_id)
        if order is None:
            return call.error(404, "The requested resource was not found.")
        return call.respond(v2_order(order, store_hash))

    return await _serve(request, store_hash, "getOrder", answer)


@router.get("/orders/{order_id}/products")
async def get_order_products(request: Request, store_hash: str, order_id: str) -> Response:
    """``getOrderProducts``."""

    def answer(call: Call) -> Response:
        order = _order(call, order_id)
        if order is None:
            return call.error(404, "The requested resource was not found.")
        return _collection(call, [v2_product(p, order.id) for p in order.products])

    return await _serve(request, store_hash, "getOrderProducts", answer)


@router.get("/orders/{order_id}/shipping_addresses")
async def get_order_shipping_addresses(
    request: Request, store_hash: str, order_id: str
) -> Response:
    """``getOrderShippingAddresses``."""

    def answer(call: Call) -> Response:
        order = _order(call, order_id)
        if order is None:
            return call.error(404, "The requested resource was not found.")
        return _collection(call, [v2_address(a, order) for a in order.addresses])

    return await _serve(request, store_hash, "getOrderShippingAddresses", answer)
