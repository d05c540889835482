"""Return orders: ``return/create.json``, ``return.json``, ``return/{id}/close.json``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from returnbridge.sandbox.shopline import returns, webhooks
from returnbridge.sandbox.shopline.errors import ApiError, bad_request
from returnbridge.sandbox.shopline.gateway import API_PREFIX, admit
from returnbridge.sandbox.shopline.views import return_json

router = APIRouter(prefix=API_PREFIX)


@router.post("/return/create.json")
async def create_return(request: Request, handle: str, version: str) -> Response:
    """Open a return on fulfilled units; records ``return/create``."""
    call = admit(request, handle, version, "create_return")
    if isinstance(call, Response):
        return call
    body = await call.body()
    await call.hold("latency")
    try:
        if not isinstance(body, dict):
            raise bad_request("invalid request body")
        world = call.simulator.world
        with world.lock:
            order, entry = returns.create(call.store, body, ids=world.ids, now=call.simulator.now())
            shown = return_json(order, entry)
            webhooks.deliver(
                call.store, webhooks.RETURN_CREATED, shown, webhook_id=world.ids.next("webhook")
            )
    except ApiError as error:
        return call.refuse(error)
    call.effect = "return_created"
    response = call.respond({"return": shown})
    await call.hold("timeout_after_commit")
    return response


@router.get("/return.json")
async def query_returns(request: Request, handle: str, version: str) -> Response:
    """Returns by ``id`` and/or ``order_id`` (at least one)."""
    call = admit(request, handle, version, "query_returns")
    if isinstance(call, Response):
        return call
    await call.hold("latency")
    return_id = request.query_params.get("id")
    order_id = request.query_params.get("order_id")
    if not return_id and not order_id:
        return call.refuse(bad_request("id or order_id is required"))
    with call.simulator.world.lock:
        found = [
            return_json(call.store.orders[r.order_id], r)
            for r in call.store.returns.values()
            if (not return_id or r.id == return_id) and (not order_id or r.order_id == order_id)
        ]
    response = call.respond({"returns": found})
    await call.hold("timeout_after_commit")
    return response


@router.post("/return/{return_id}/close.json")
async def close_return(request: Request, handle: str, version: str, return_id: str) -> Response:
    """Close an open return; records ``return/update``."""
    call = admit(request, handle, version, "close_return")
    if isinstance(call, Response):
        return call
    await call.hold("latency")
    try:
        world = call.simulator.world
        with world.lock:
            order, entry = returns.close(call.store, return_id)
            order.updated_at = call.simulator.now()
            shown = return_json(order, entry)
            webhooks.deliver(
                call.store, webhooks.RETURN_UPDATED, shown, webhook_id=world.ids.next("webhook")
            )
    except ApiError as error:
        return call.refuse(error)
    call.effect = "return_closed"
    response = call.respond({"return": shown})
    await call.hold("timeout_after_commit")
    return response
