"""Orders v3 payment actions: refund quotes, refunds (sequential per order), refund reads."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response

from returnbridge.sandbox.bigcommerce import webhooks
from returnbridge.sandbox.bigcommerce.errors import v3_error
from returnbridge.sandbox.bigcommerce.gateway import Call, admit
from returnbridge.sandbox.bigcommerce.refunds import RefundError, create_refund, quote
from returnbridge.sandbox.bigcommerce.state import Order, parse_id
from returnbridge.sandbox.bigcommerce.views import v3_refund

router = APIRouter(prefix="/stores/{store_hash}/v3/orders")
CONCURRENT_REFUND = "A refund is already being processed for this order"


async def _body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _refused(call: Call, error: RefundError, *, wrapped: bool = False) -> Response:
    """The 422: a problem object; for createOrderRefund wrapped in ``{"data": [...]}`` as the
    spec's 422 response of that operation has it."""
    call.effect = "rejected"
    problem = v3_error(error.status, error.title, error.errors)
    return call.respond({"data": [problem]} if wrapped else problem, error.status)


def _order(call: Call, order_id: str) -> Order | None:
    number = parse_id(order_id)
    with call.simulator.world.lock:
        return None if number is None else call.store.orders.get(number)


def _not_found(call: Call, order_id: str) -> Response:
    return call.respond(v3_error(404, f"Order {order_id} not found"), 404)


@router.post("/{order_id}/payment_actions/refund_quotes")
async def create_order_refund_quotes(request: Request, store_hash: str, order_id: str) -> Response:
    """``createOrderRefundQuotes``: 201 with the quote in ``data``."""
    call = admit(request, store_hash, "createOrderRefundQuotes", "v3")
    if isinstance(call, Response):
        return call
    body = await _body(request)
    await call.hold("latency")
    order = _order(call, order_id)
    if order is None:
        return _not_found(call, order_id)
    try:
        with call.simulator.world.lock:
            answer = quote(order, body)
    except RefundError as error:
        return _refused(call, error)
    call.effect = "quote_created"
    response = call.respond({"data": answer.as_json(), "meta": {}}, 201)
    await call.hold("timeout_after_commit")
    return response


@router.post("/{order_id}/payment_actions/refunds")
async def create_order_refund(request: Request, store_hash: str, order_id: str) -> Response:
    """``createOrderRefund``: payments must match a quote's refund method; no idempotency."""
    call = admit(request, store_hash, "createOrderRefund", "v3")
    if isinstance(call, Response):
        return call
    body = await _body(request)
    order = _order(call, order_id)
    if order is None:
        return _not_found(call, order_id)
    with call.simulator.world.lock:
        if order.refund_in_progress:
            return _refused(call, RefundError(CONCURRENT_REFUND), wrapped=True)
        order.refund_in_progress = True
    try:
        await call.hold("latency")
        with call.simulator.world.lock:
            refund = create_refund(
                order, body, ids=call.simulator.world.ids, created=call.simulator.timestamp()
            )
            webhooks.refund_created(
                call.store, order_id=order.id, refund_id=refund.id, now=call.now
            )
    except RefundError as error:
        return _refused(call, error, wrapped=True)
    finally:
        with call.simulator.world.lock:
            order.refund_in_progress = False
    call.effect = "refund_created"
    call.refund_id = refund.id
    response = call.respond({"data": v3_refund(refund), "meta": {}}, 201)
    await call.hold("timeout_after_commit")
    return response


@router.get("/{order_id}/payment_actions/refunds")
async def get_order_refunds(request: Request, store_hash: str, order_id: str) -> Response:
    """``getOrderRefunds``: the order's refunds by ascending id."""
    call = admit(request, store_hash, "getOrderRefunds", "v3")
    if isinstance(call, Response):
        return call
    await call.hold("latency")
    order = _order(call, order_id)
    if order is None:
        return _not_found(call, order_id)
    with call.simulator.world.lock:
        refunds = [v3_refund(r) for r in sorted(order.refunds, key=lambda r: r.id)]
    response = call.respond({"data": refunds, "meta": {}})
    await call.hold("timeout_after_commit")
    return response


@router.get("/payment_actions/refunds/{refund_id}")
async def get_order_refund(request: Request, store_hash: str, refund_id: str) -> Response:
    """``getOrderRefund``: one refund by id."""
    call = admit(request, store_hash, "getOrderRefund", "v3")
    if isinstance(call, Response):
        return call
    await call.hold("latency")
    with call.simulator.world.lock:
        number = parse_id(refund_id)
        found = next(
            (r for o in call.store.orders.values() for r in o.refunds if r.id == number), None
        )
        body = None if found is None else {"data": v3_refund(found), "meta": {}}
    if body is None:
        return call.respond(v3_error(404, f"Refund {refund_id} not found"), 404)
    response = call.respond(body)
    await call.hold("timeout_after_commit")
    return response


def _id_set(request: Request, name: str) -> set[int] | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    return {number for part in raw.split(",") if (number := parse_id(part.strip())) is not None}


@router.get("/payment_actions/refunds")
async def get_orders_refunds(request: Request, store_hash: str) -> Response:
    """``getOrdersRefunds``: all refunds by id; ``order_id:in``, ``id:in``, page, limit."""
    call = admit(request, store_hash, "getOrdersRefunds", "v3")
    if isinstance(call, Response):
        return call
    await call.hold("latency")
    order_ids, refund_ids = _id_set(request, "order_id:in"), _id_set(request, "id:in")
    page = parse_id(request.query_params.get("page", "1")) or 1
    limit = min(parse_id(request.query_params.get("limit", "50")) or 50, 250)
    with call.simulator.world.lock:
        refunds = sorted(
            (
                r
                for o in call.store.orders.values()
                for r in o.refunds
                if (order_ids is None or r.order_id in order_ids)
                and (refund_ids is None or r.id in refund_ids)
            ),
            key=lambda r: r.id,
        )
        data = [v3_refund(r) for r in refunds[(page - 1) * limit : page * limit]]
    response = call.respond({"data": data, "meta": {}})
    await call.hold("timeout_after_commit")
    return response
