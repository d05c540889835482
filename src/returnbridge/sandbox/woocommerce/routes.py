"""The wc/v3 routes: orders (read, search) and order refunds (list, read, create)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from returnbridge.sandbox.woocommerce.endpoint import Answer, Call, serve_call
from returnbridge.sandbox.woocommerce.errors import WooError, invalid_order_id
from returnbridge.sandbox.woocommerce.pagination import paginate, read_page
from returnbridge.sandbox.woocommerce.refunds import create_refund, parse_refund_request
from returnbridge.sandbox.woocommerce.search import parse_after, select_orders
from returnbridge.sandbox.woocommerce.state import Order
from returnbridge.sandbox.woocommerce.views import order_json, refund_json

BASE_PATH = "/wp-json/wc/v3"
router = APIRouter(prefix=BASE_PATH, include_in_schema=False)


def _order(call: Call, order_id: int) -> Order:
    order = call.store.orders.get(order_id)
    if order is None:
        raise invalid_order_id()
    return order


def _statuses(request: Request) -> list[str]:
    raw = request.query_params.getlist("status") + request.query_params.getlist("status[]")
    return [s.strip() for value in raw for s in value.split(",")]


@router.get("/orders")
async def list_orders(request: Request) -> Response:
    """``GET /orders``: ``search``, ``status``, ``after``, ``page``, ``per_page``, ``offset``."""

    def handle(call: Call) -> Answer:
        page = read_page(dict(request.query_params))
        orders = select_orders(
            list(call.store.orders.values()),
            search=request.query_params.get("search"),
            statuses=_statuses(request),
            after=parse_after(request.query_params.get("after")),
        )
        chosen, headers = paginate(orders, page, request.url)
        return Answer([order_json(o) for o in chosen], headers=headers)

    return await serve_call(request, handle, operation="orders.list", action="view")


@router.get("/orders/{order_id}")
async def read_order(order_id: int, request: Request) -> Response:
    """``GET /orders/{id}``."""

    def handle(call: Call) -> Answer:
        return Answer(order_json(_order(call, order_id)))

    return await serve_call(
        request, handle, operation="orders.get", action="view", order_id=order_id
    )


@router.get("/refunds")
async def list_all_refunds(request: Request) -> Response:
    """``GET /refunds`` (WC 9.0+): every order's refunds, newest first, with ``parent_id``."""

    def handle(call: Call) -> Answer:
        pairs = [(r, o) for o in call.store.orders.values() for r in o.refunds]
        pairs.sort(key=lambda pair: (pair[0].date_created, pair[0].id), reverse=True)
        chosen, headers = paginate(pairs, read_page(dict(request.query_params)), request.url)
        body = [{**refund_json(r, o), "parent_id": o.id} for r, o in chosen]
        return Answer(body, headers=headers)

    return await serve_call(request, handle, operation="refunds.list_all", action="view")


@router.get("/orders/{order_id}/refunds")
async def list_refunds(order_id: int, request: Request) -> Response:
    """``GET /orders/{id}/refunds``, newest first, paginated."""

    def handle(call: Call) -> Answer:
        order = _order(call, order_id)
        refunds = list(reversed(order.refunds))
        chosen, headers = paginate(refunds, read_page(dict(request.query_params)), request.url)
        return Answer([refund_json(r, order) for r in chosen], headers=headers)

    return await serve_call(
        request, handle, operation="refunds.list", action="view", order_id=order_id
    )


@router.get("/orders/{order_id}/refunds/{refund_id}")
async def read_refund(order_id: int, refund_id: int, request: Request) -> Response:
    """``GET /orders/{id}/refunds/{refund_id}``."""

    def handle(call: Call) -> Answer:
        order = _order(call, order_id)
        for refund in order.refunds:
            if refund.id == refund_id:
                return Answer(refund_json(refund, order))
        raise WooError(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")

    return await serve_call(
        request, handle, operation="refunds.get", action="view", order_id=order_id
    )


@router.post("/orders/{order_id}/refunds")
async def create_order_refund(order_id: int, request: Request) -> Response:
    """``POST /orders/{id}/refunds``: no idempotency, every accepted call is a new refund."""

    def handle(call: Call) -> Answer:
        order = call.store.orders.get(order_id)
        if order is None:
            raise WooError(404, "woocommerce_rest_invalid_order_id", "Invalid order ID.")
        refund_request = parse_refund_request(call.body)
        simulator = call.simulator
        refund = create_refund(
            call.store, order, refund_request, ids=simulator.world.ids, now=call.now
        )
        simulator.webhooks.order_refunded(
            call.store, simulator.subscriptions_of(call.store.name), order
        )
        return Answer(
            refund_json(refund, order), status=201, effect="refund_created", refund_id=refund.id
        )

    return await serve_call(
        request, handle, operation="refunds.create", action="create", order_id=order_id
    )
