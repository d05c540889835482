"""What every API call goes through: version, ``X-Authorization``, the per-key minute
window, due processings, faults, and the journal."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from returnbridge.sandbox.loop import processing
from returnbridge.sandbox.loop.errors import (
    NOT_FOUND,
    SERVER_ERROR,
    TOO_MANY,
    UNAUTHORIZED,
    UNAVAILABLE,
    ApiError,
)
from returnbridge.sandbox.loop.faults import Fault
from returnbridge.sandbox.loop.journal import REFUSED, Effect
from returnbridge.sandbox.loop.simulator import Simulator
from returnbridge.sandbox.loop.state import Shop

VERSIONS = frozenset({"2026-07", "2026-10", "v1", "unstable"})
"""Dated versions served, the legacy alias ``v1`` (= 2026-07) and ``unstable`` [docs]."""
API_PREFIX = "/api/{version}"
_FAULT_ANSWERS = {"rate_limit": (429, TOO_MANY), "server_error": (500, SERVER_ERROR)}
_FAULT_ANSWERS["unavailable"] = (503, UNAVAILABLE)


class ConnectionReset(Exception):
    """Raised by a route to break the connection (a ``reset`` fault)."""


class BrokenResponse(Response):
    """Starts a 200, sends a fragment of its body, then fails: the server drops the
    connection and the client sees it cut mid-answer."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"64")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"', "more_body": True})
        raise ConnectionReset


@dataclass
class Call:
    """An admitted call; it answers through :meth:`respond`, which journals it."""

    sim: Simulator
    request: Request
    shop: Shop
    operation: str
    version: str
    fault: Fault | None

    async def respond(
        self, body: Any, *, effect: Effect | None = None, status: int = 200, hal: bool = False
    ) -> Response:
        """Journal the call, then answer ``body`` (held first on ``timeout_after_commit``)."""
        record(
            self.sim,
            self.request,
            self.operation,
            self.shop.name,
            status=status,
            effect=effect,
            fault=self.fault,
        )
        if self.fault is not None and self.fault.kind == "timeout_after_commit":
            await anyio.sleep(self.fault.hold_seconds)
        media = "application/prs.hal-forms+json" if hal else "application/json"
        return JSONResponse(body, status_code=status, media_type=media)

    async def body(self) -> dict[str, Any]:
        """The JSON object sent, or ``{}``."""
        try:
            parsed = json.loads(await self.request.body() or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            return {}
        return parsed if isinstance(parsed, dict) else {}

    def api_url(self, path: str) -> str:
        """An absolute URL under this call's API root (hypermedia ``href``/``target``)."""
        base = str(self.request.base_url).rstrip("/")
        return f"{base}/api/{self.version}/{path.lstrip('/')}"


def record(
    sim: Simulator,
    request: Request,
    operation: str,
    shop: str | None,
    *,
    status: int,
    effect: Effect | None = None,
    fault: Fault | None = None,
) -> None:
    """One journal entry; an error status is journalled under ``refused``."""
    sim.journal.record(
        at=sim.clock(),
        shop=shop,
        operation=REFUSED if status >= 400 or status == 0 else operation,
        attempted=operation,
        method=request.method,
        path=request.url.path,
        status=status,
        effect=effect,
        fault=fault.kind if fault else None,
    )


async def admit(request: Request, version: str, operation: str) -> Call:
    """The admitted call, or :class:`ApiError` (404 version, 401, 429, injected error)."""
    sim: Simulator = request.app.state.simulator
    request.state.loop_call = (operation, None)
    if version not in VERSIONS:
        raise ApiError(404, NOT_FOUND)
    with sim.world.lock:
        shop = sim.world.shop_by_key(request.headers.get("x-authorization"))
    if shop is None:
        raise ApiError(401, UNAUTHORIZED)
    request.state.loop_call = (operation, shop.name)
    key = request.headers["x-authorization"]
    wait = sim.window.take(key, sim.clock())
    if wait is not None:
        raise ApiError(429, TOO_MANY, {"Retry-After": str(wait)} if shop.retry_after else None)
    processing.finish_due(sim, shop=shop.name)
    fault = sim.faults.take(operation=operation, scope=shop.name)
    if fault is not None:
        request.state.loop_fault = fault
        if fault.kind in _FAULT_ANSWERS:
            status, body = _FAULT_ANSWERS[fault.kind]
            raise ApiError(status, body)
        if fault.kind == "reset":
            raise ConnectionReset
        if fault.kind == "latency":
            await anyio.sleep(fault.hold_seconds)
    return Call(sim, request, shop, operation, version, fault)


def refusal(request: Request, error: ApiError) -> Response:
    """The error answer, journalled (the exception handler of the API's refusals)."""
    sim: Simulator = request.app.state.simulator
    operation, shop = getattr(request.state, "loop_call", ("unknown", None))
    fault = getattr(request.state, "loop_fault", None)
    record(sim, request, operation, shop, status=error.status, fault=fault)
    return JSONResponse(error.body, status_code=error.status, headers=error.headers)


def broken(request: Request) -> Response:
    """The answer to a ``reset`` fault, journalled with status 0 (no answer)."""
    sim: Simulator = request.app.state.simulator
    operation, shop = getattr(request.state, "loop_call", ("unknown", None))
    record(
        sim, request, operation, shop, status=0, fault=getattr(request.state, "loop_fault", None)
    )
    return BrokenResponse()
