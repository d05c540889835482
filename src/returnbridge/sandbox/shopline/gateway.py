"""What every API call goes through: store, version, bearer token, leaky bucket, faults, journal.

Also the ``traceId`` header every response carries, and the SHOPLINE-style 404 for paths the
API does not have.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from returnbridge.sandbox.shopline.errors import ApiError, error_body
from returnbridge.sandbox.shopline.faults import Fault
from returnbridge.sandbox.shopline.journal import Effect
from returnbridge.sandbox.shopline.simulator import Simulator
from returnbridge.sandbox.shopline.state import PINNED_VERSION, Store

_FAULT_STATUS = {"throttled": 429, "server_error": 500, "unavailable": 503}
API_PREFIX = "/stores/{handle}/admin/openapi/{version}"


class TraceIds:
    """ASGI middleware: a fresh ``traceId`` header on every response (kept in the scope)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trace_id = uuid.uuid4().hex
        scope["trace_id"] = trace_id

        async def send_traced(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"traceId", trace_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_traced)


def trace_id(request: Request) -> str:
    """The call's trace id (set by :class:`TraceIds`)."""
    return str(request.scope.get("trace_id", ""))


@dataclass
class Call:
    """An admitted call: it answers through :meth:`respond`, which journals it."""

    simulator: Simulator
    request: Request
    store: Store
    operation: str
    now: float
    fault: Fault | None
    effect: Effect | None = None
    refund_id: str | None = None

    def respond(
        self, body: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        """Journal the call and answer ``body`` as JSON."""
        _journal(
            self.simulator,
            self.request,
            self.store.handle,
            self.operation,
            self.now,
            status=status,
            effect=self.effect,
            refund_id=self.refund_id,
            fault=self.fault.kind if self.fault else None,
        )
        return JSONResponse(body, status_code=status, headers=headers)

    def refuse(self, error: ApiError) -> Response:
        """An error answer; a refusal of a write's content is journalled as ``rejected``."""
        if error.status in (400, 404, 409, 422) and self.request.method == "POST":
            self.effect = "rejected"
        return self.respond(error_body(error.status, error.message), error.status)

    async def hold(self, kind: str) -> None:
        """Sleep if this call's fault is of ``kind`` (latency before, timeout after commit)."""
        if self.fault is not None and self.fault.kind == kind:
            await anyio.sleep(self.fault.hold_seconds)

    async def body(self) -> Any:
        """The JSON body, or None when it is not JSON."""
        try:
            return json.loads(await self.request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None


def _journal(
    simulator: Simulator,
    request: Request,
    store: str,
    operation: str,
    now: float,
    *,
    status: int,
    effect: Effect | None = None,
    refund_id: str | None = None,
    rate_limited: bool = False,
    fault: str | None = None,
) -> None:
    simulator.journal.record(
        at=now,
        store=store,
        operation=operation,
        method=request.method,
        path=request.url.path,
        http_status=status,
        effect=effect,
        refund_id=refund_id,
        rate_limited=rate_limited,
        fault=fault,
        trace_id=trace_id(request),
    )


def _bearer(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def admit(request: Request, handle: str, version: str, operation: str) -> Call | Response:
    """The admitted call, or the refusal (404 store or version, 401, 429, injected error)."""
    simulator: Simulator = request.app.state.simulator
    now = simulator.clock()
    with simulator.world.lock:
        store = simulator.world.stores.get(handle)
    if store is None or version != PINNED_VERSION:
        message = "store not found" if store is None else f"API version {version} not found"
        _journal(simulator, request, handle, operation, now, status=404)
        return JSONResponse(error_body(404, message), status_code=404)
    if _bearer(request) != store.access_token:
        _journal(simulator, request, handle, operation, now, status=401)
        return JSONResponse(error_body(401, "Invalid API key or access token"), status_code=401)
    with simulator.world.lock:
        wait = simulator.bucket(store).take(now)
    if wait is not None:
        _journal(simulator, request, handle, operation, now, status=429, rate_limited=True)
        return JSONResponse(error_body(429), status_code=429, headers={"Retry-After": str(wait)})
    fault = simulator.faults.take(operation=operation, scope=handle)
    if fault is not None and fault.kind in _FAULT_STATUS:
        status = _FAULT_STATUS[fault.kind]
        _journal(
            simulator,
            request,
            handle,
            operation,
            now,
            status=status,
            rate_limited=status == 429,
            fault=fault.kind,
        )
        headers = {"Retry-After": "1"} if status == 429 else None
        return JSONResponse(error_body(status), status_code=status, headers=headers)
    return Call(simulator, request, store, operation, now, fault)
