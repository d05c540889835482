"""What every API call goes through: store, ``X-Auth-Token``, rate window, faults, journal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import Request, Response
from fastapi.responses import JSONResponse

from returnbridge.sandbox.bigcommerce.errors import Version, error_body
from returnbridge.sandbox.bigcommerce.faults import Fault
from returnbridge.sandbox.bigcommerce.journal import Effect
from returnbridge.sandbox.bigcommerce.rate_limit import Quota
from returnbridge.sandbox.bigcommerce.simulator import Simulator
from returnbridge.sandbox.bigcommerce.state import Store

_FAULT_STATUS = {"http_429": 429, "http_500": 500, "http_503": 503}


@dataclass
class Call:
    """An admitted call: it answers through :meth:`respond`, which journals it."""

    simulator: Simulator
    request: Request
    store: Store
    operation: str
    version: Version
    now: float
    quota: Quota
    fault: Fault | None
    effect: Effect | None = None
    refund_id: int | None = None

    def respond(self, body: Any, status: int = 200) -> Response:
        """Journal the call and answer with the rate-limit headers."""
        _journal(
            self.simulator,
            self.request,
            self.store.store_hash,
            self.operation,
            self.now,
            status=status,
            effect=self.effect,
            refund_id=self.refund_id,
            fault=self.fault.kind if self.fault else None,
        )
        headers = self.quota.headers()
        if body is None:
            return Response(status_code=status, headers=headers)
        return JSONResponse(body, status_code=status, headers=headers)

    def error(self, status: int, message: str | None = None) -> Response:
        """An error in this API version's shape."""
        if status in (409, 422):
            self.effect = "rejected"
        return self.respond(error_body(self.version, status, message), status)

    async def hold(self, kind: str) -> None:
        """Sleep if this call's fault is of ``kind`` (latency before, timeout after commit)."""
        if self.fault is not None and self.fault.kind == kind:
            await anyio.sleep(self.fault.hold_seconds)


def _journal(
    simulator: Simulator,
    request: Request,
    store: str,
    operation: str,
    now: float,
    *,
    status: int,
    effect: Effect | None = None,
    refund_id: int | None = None,
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
    )


def admit(request: Request, store_hash: str, operation: str, version: Version) -> Call | Response:
    """The admitted call, or the refusal (404 store, 401 token, 429, injected error)."""
    simulator: Simulator = request.app.state.simulator
    now = simulator.clock()
    with simulator.world.lock:
        store = simulator.world.stores.get(store_hash)
    if store is None:
        _journal(simulator, request, store_hash, operation, now, status=404)
        return JSONResponse(error_body(version, 404, "Store not found"), status_code=404)
    if request.headers.get("X-Auth-Token") != store.access_token:
        _journal(simulator, request, store_hash, operation, now, status=401)
        return JSONResponse(error_body(version, 401, "Unauthorized"), status_code=401)
    with simulator.world.lock:
        quota = simulator.window(store).take(now)
    if not quota.allowed:
        _journal(simulator, request, store_hash, operation, now, status=429, rate_limited=True)
        body = error_body(version, 429, "You have exceeded the rate limit")
        return JSONResponse(body, status_code=429, headers=quota.headers())
    fault = simulator.faults.take(operation=operation, scope=store_hash)
    if fault is not None and fault.kind in _FAULT_STATUS:
        status = _FAULT_STATUS[fault.kind]
        if status == 429:
            # `delay` given: the window is said to reset that soon (a short throttle to test)
            reset_ms = quota.reset_ms if fault.delay is None else round(fault.delay * 1000)
            quota = Quota(False, quota.window_ms, reset_ms, quota.quota, 0)
        _journal(
            simulator,
            request,
            store_hash,
            operation,
            now,
            status=status,
            rate_limited=status == 429,
            fault=fault.kind,
        )
        return JSONResponse(
            error_body(version, status), status_code=status, headers=quota.headers()
        )
    return Call(simulator, request, store, operation, version, now, quota, fault)
