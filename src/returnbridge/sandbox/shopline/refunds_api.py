"""Refund trial, refund creation (``order/refund.json``, no idempotency) and refund reads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from returnbridge.sandbox.shopline import refunds, webhooks
from returnbridge.sandbox.shopline.errors import ApiError, bad_request, not_found, unprocessable
from returnbridge.sandbox.shopline.gateway import API_PREFIX, Call, admit
from returnbridge.sandbox.shopline.money import ZERO, wire
from returnbridge.sandbox.shopline.state import Order
from returnbridge.sandbox.shopline.views import money_set, refund_json

router = APIRouter(prefix=API_PREFIX)


def _order(call: Call, order_id: str) -> Order:
    order = call.store.orders.get(order_id)
    if order is None:
        raise not_found("order not found")
    return order


def _trial(order: Order, priced: refunds.Plan) -> dict[str, Any]:
    """The calculate answer (``transactons`` spelled as SHOPLINE spells it)."""
    return {
        "currency": order.currency,
        "refund_line_items": [
            {
                "line_item_id": p.line.id,
                "type": p.type,
                "quantity": p.quantity,
                "price": wire(p.line.price),
                "subtotal": wire(p.subtotal),
                "total_tax": wire(p.total_tax),
                "discount_total_amount": wire(p.discount_total),
            }
            for p in priced.lines
        ],
        "shipping": {
            "amount": wire(priced.shipping.amount),
            "maximum_refundable": wire(priced.shipping.maximum_refundable),
            "tax": wire(priced.shipping.tax),
        },
        "transactons": [
            {
                "gateway": s.gateway,
                "kind": "suggested_refund",
                "maximum_refundable": wire(s.maximum_refundable),
                "order_id": order.id,
                "parent_id": s.parent_id,
                "amount": wire(s.amount),
                "currency": order.currency,
            }
            for s in refunds.suggested_transactions(order, priced.total)
        ],
        "total_duties_set": money_set(order, ZERO),
    }


@router.post("/orders/{order_id}/refunds/calculate.json")
async def calculate_refund(request: Request, handle: str, version: str, order_id: str) -> Response:
    """Price a refund without making it."""
    call = admit(request, handle, version, "calculate_refund")
    if isinstance(call, Response):
        return call
    body = await call.body()
    await call.hold("latency")
    try:
        fields = refunds.unwrap(body)
        with call.simulator.world.lock:
            order = _order(call, order_id)
            answer = _trial(order, refunds.plan(order, call.store, fields, restock=False))
    except ApiError as error:
        return call.refuse(error)
    response = call.respond({"refund": answer})
    await call.hold("timeout_after_commit")
    return response


@router.post("/order/refund.json")
async def create_refund(request: Request, handle: str, version: str) -> Response:
    """Make a refund: validated whole, then money, stock and the ``refunds/create`` webhook."""
    call = admit(request, handle, version, "create_refund")
    if isinstance(call, Response):
        return call
    body = await call.body()
    await call.hold("latency")
    try:
        fields = refunds.unwrap(body)
        order_id = fields.get("order_id")
        if isinstance(order_id, int) and not isinstance(order_id, bool):
            order_id = str(order_id)
        if not isinstance(order_id, str) or not order_id:
            raise unprocessable("order_id is required")
        with call.simulator.world.lock:
            order = _order(call, order_id)
            world = call.simulator.world
            refund = refunds.create(
                order, call.store, fields, ids=world.ids, now=call.simulator.now()
            )
            shown = refund_json(order, refund)
            webhooks.deliver(
                call.store, webhooks.REFUND_CREATED, shown, webhook_id=world.ids.next("webhook")
            )
    except ApiError as error:
        return call.refuse(error)
    call.effect = "refund_created"
    call.refund_id = refund.id
    created_ms = str(int(refund.created_at.timestamp() * 1000))
    response = call.respond({"data": {**shown, "create_at": created_ms}})
    await call.hold("timeout_after_commit")
    return response


@router.get("/orders/{order_id}/refunds.json")
async def list_refunds(request: Request, handle: str, version: str, order_id: str) -> Response:
    """An order's refunds, oldest first (``limit`` ≤ 100, default 50)."""
    call = admit(request, handle, version, "list_refunds")
    if isinstance(call, Response):
        return call
    await call.hold("latency")
    try:
        raw = request.query_params.get("limit", "50")
        if not raw.isdigit() or not 1 <= int(raw) <= 100:
            raise bad_request("limit must be between 1 and 100")
        with call.simulator.world.lock:
            order = _order(call, order_id)
            body = {"refunds": [refund_json(order, r) for r in order.refunds[: int(raw)]]}
    except ApiError as error:
        return call.refuse(error)
    response = call.respond(body)
    await call.hold("timeout_after_commit")
    return response


@router.get("/orders/{order_id}/refunds/{refund_id}.json")
async def get_refund(
    request: Request, handle: str, version: str, order_id: str, refund_id: str
) -> Response:
    """One refund of an order."""
    call = admit(request, handle, version, "get_refund")
    if isinstance(call, Response):
        return call
    await call.hold("latency")
    try:
        with call.simulator.world.lock:
            order = _order(call, order_id)
            found = next((r for r in order.refunds if r.id == refund_id), None)
            if found is None:
                raise not_found("refund not found")
            body = {"refund": refund_json(order, found)}
    except ApiError as error:
        return call.refuse(error)
    response = call.respond(body)
    await call.hold("timeout_after_commit")
    return response
