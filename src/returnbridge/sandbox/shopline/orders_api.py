"""``GET orders.json`` (filters, cursor pages) and ``GET orders/{id}.json``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from returnbridge.sandbox.shopline.errors import ApiError, bad_request, not_found
from returnbridge.sandbox.shopline.gateway import API_PREFIX, admit
from returnbridge.sandbox.shopline.pagination import Cursor, paginate, parse_limit
from returnbridge.sandbox.shopline.state import Order
from returnbridge.sandbox.shopline.views import order_json

router = APIRouter(prefix=API_PREFIX)

FILTERS = (
    "name",
    "email",
    "ids",
    "status",
    "financial_status",
    "created_at_min",
    "created_at_max",
    "updated_at_min",
    "updated_at_max",
    "since_id",
)
MAX_IDS = 100
STATUSES = ("open", "cancelled", "any")


def _moment(raw: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise bad_request(f"invalid {name}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _number(raw: str, name: str) -> int:
    if not raw.isdigit():
        raise bad_request(f"invalid {name}")
    return int(raw)


def _bound(attribute: str, bound: datetime, *, is_min: bool) -> Callable[[Order], bool]:
    def test(order: Order) -> bool:
        moment: datetime = getattr(order, attribute)
        return moment >= bound if is_min else moment <= bound

    return test


def order_filter(filters: Mapping[str, str]) -> Callable[[Order], bool]:
    """The predicate of ``orders.json``'s filters; a malformed one is a 400."""
    tests: list[Callable[[Order], bool]] = []
    if (name := filters.get("name")) is not None:
        tests.append(lambda o: o.name == name)
    if (email := filters.get("email")) is not None:
        tests.append(lambda o: o.email.casefold() == email.casefold())
    if (ids := filters.get("ids")) is not None:
        wanted = {part.strip() for part in ids.split(",") if part.strip()}
        if len(wanted) > MAX_IDS:
            raise bad_request(f"ids accepts at most {MAX_IDS} ids")
        tests.append(lambda o: o.id in wanted)
    status = filters.get("status", "open")
    if status not in STATUSES:
        raise bad_request("invalid status")
    if status != "any":
        tests.append(lambda o: o.status == status)
    financial = filters.get("financial_status")
    if financial is not None and financial != "any":
        tests.append(lambda o: o.financial_status == financial)
    for field, attribute, is_min in (
        ("created_at_min", "created_at", True),
        ("created_at_max", "created_at", False),
        ("updated_at_min", "updated_at", True),
        ("updated_at_max", "updated_at", False),
    ):
        if (raw := filters.get(field)) is not None:
            tests.append(_bound(attribute, _moment(raw, field), is_min=is_min))
    if (since := filters.get("since_id")) is not None:
        floor = _number(since, "since_id")
        tests.append(lambda o: int(o.id) > floor)
    return lambda order: all(test(order) for test in tests)


@router.get("/orders.json")
async def get_orders(request: Request, handle: str, version: str) -> Response:
    """Orders by ascending id, ``limit`` per page, more pages in the ``Link`` header."""
    call = admit(request, handle, version, "get_orders")
    if isinstance(call, Response):
        return call
    await call.hold("latency")
    query = request.query_params
    try:
        limit = parse_limit(query.get("limit"))
        token = query.get("page_info")
        if token is not None:
            if any(key not in ("limit", "page_info") for key in query):
                raise bad_request("page_info only accepts limit")
            cursor: Cursor | None = Cursor.decode(token)
            filters = cursor.filters if cursor else {}
        else:
            cursor = None
            filters = {key: query[key] for key in FILTERS if key in query}
        keep = order_filter(filters)
        with call.simulator.world.lock:
            chosen = [o for o in call.store.orders.values() if keep(o)]
            page = paginate(
                chosen, lambda o: int(o.id), limit=limit, filters=filters, cursor=cursor
            )
            body = {"orders": [order_json(o) for o in page.items]}
    except ApiError as error:
        return call.refuse(error)
    link = page.link_header(lambda q: str(request.url.replace(query=q)), limit)
    response = call.respond(body, headers={"Link": link} if link else None)
    await call.hold("timeout_after_commit")
    return response


@router.get("/orders/{order_id}.json")
async def get_order(request: Request, handle: str, version: str, order_id: str) -> Response:
    """One order; unknown ids are a 404."""
    call = admit(request, handle, version, "get_order")
    if isinstance(call, Response):
        return call
    await call.hold("latency")
    with call.simulator.world.lock:
        order = call.store.orders.get(order_id)
        body = None if order is None else {"order": order_json(order)}
    if body is None:
        return call.refuse(not_found("order not found"))
    response = call.respond(body)
    await call.hold("timeout_after_commit")
    return response
