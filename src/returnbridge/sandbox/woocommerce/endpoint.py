"""Serving one REST call: auth, faults, body, the handler under the world lock, journal."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import anyio
from fastapi import Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from returnbridge.sandbox.woocommerce.auth import authenticate
from returnbridge.sandbox.woocommerce.dropped import DroppedConnection
from returnbridge.sandbox.woocommerce.errors import WooError
from returnbridge.sandbox.woocommerce.faults import Fault
from returnbridge.sandbox.woocommerce.journal import Effect
from returnbridge.sandbox.woocommerce.simulator import Simulator
from returnbridge.sandbox.woocommerce.state import Store

_HOST_ERRORS = {
    "http_429": (429, "Too Many Requests"),
    "http_500": (500, "Internal Server Error"),
    "http_502": (502, "Bad Gateway"),
    "http_503": (503, "Service Unavailable"),
}
INVALID_JSON = WooError(400, "rest_invalid_json", "Invalid JSON body passed.")


@dataclass
class Answer:
    """What a handler answers, and what the journal should say about it."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    effect: Effect | None = None
    refund_id: int | None = None


@dataclass
class Call:
    """One call as the handler sees it."""

    request: Request
    simulator: Simulator
    store: Store
    body: Any
    now: str


Handler = Callable[[Call], Answer]


@dataclass
class _Record:
    operation: str
    order_id: int | None
    store: str | None = None
    body: Any = None
    fault: str | None = None


def _journal(
    simulator: Simulator, request: Request, record: _Record, answer: Answer, at: float
) -> None:
    simulator.journal.record(
        at=at,
        store=record.store,
        operation=record.operation,
        method=request.method,
        path=request.url.path,
        order_id=record.order_id,
        body=record.body,
        http_status=answer.status,
        effect=answer.effect,
        refund_id=answer.refund_id,
        fault=record.fault,
    )


def _error(error: WooError, effect: Effect | None = None) -> Answer:
    return Answer(error.body(), status=error.status, effect=effect)


def _host_error(fault: Fault) -> Response:
    status, text = _HOST_ERRORS[fault.kind]
    headers = {"Retry-After": "1"} if status in (429, 503) else {}
    return PlainTextResponse(text, status_code=status, headers=headers)


async def _body(request: Request) -> tuple[Any, Any]:
    """The body twice: with Decimal numbers (for money) and plain (for the journal)."""
    raw = await request.body()
    if not raw.strip():
        return {}, None
    try:
        return json.loads(raw, parse_float=Decimal), json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise INVALID_JSON from exc


def _run_locked(handler: Handler, call: Call) -> Answer:
    with call.simulator.world.lock:
        try:
            return handler(call)
        except WooError as error:
            return _error(error, "rejected" if call.request.method == "POST" else None)


async def serve_call(
    request: Request,
    handler: Handler,
    *,
    operation: str,
    action: str,
    order_id: int | None = None,
) -> Response:
    """Answer one REST call the way a WooCommerce site would."""
    simulator: Simulator = request.app.state.simulator
    at = simulator.clock()
    record = _Record(operation, order_id)
    try:
        store = authenticate(request, simulator.world, action=action, now=at)
    except WooError as error:
        answer = _error(error)
        _journal(simulator, request, record, answer, at)
        return JSONResponse(answer.body, status_code=answer.status)
    record.store = store.name
    fault = simulator.faults.take(operation=operation, scope=store.name)
    record.fault = fault.kind if fault else None
    if fault is not None and fault.kind in _HOST_ERRORS:
        response = _host_error(fault)
        _journal(simulator, request, record, Answer(None, status=response.status_code), at)
        return response
    if fault is not None and fault.kind == "connection_reset":
        _journal(simulator, request, record, Answer(None, status=0), at)
        return DroppedConnection()
    if fault is not None and fault.kind == "latency":
        await anyio.sleep(fault.hold_seconds)
    try:
        body, record.body = await _body(request)
    except WooError as error:
        answer = _error(error)
    else:
        call = Call(request, simulator, store, body, simulator.timestamp())
        answer = await anyio.to_thread.run_sync(_run_locked, handler, call)
    _journal(simulator, request, record, answer, at)
    if fault is not None and fault.kind == "connection_reset_after_commit":
        return DroppedConnection()
    if fault is not None and fault.kind == "timeout_after_commit":
        await anyio.sleep(fault.hold_seconds)
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)
