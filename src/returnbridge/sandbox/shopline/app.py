"""The SHOPLINE sandbox app: Admin REST API ``v20251201`` under ``/stores/{handle}`` and the
``/_sandbox`` controls."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from returnbridge.sandbox.shopline.control import router as control_router
from returnbridge.sandbox.shopline.errors import error_body
from returnbridge.sandbox.shopline.gateway import TraceIds
from returnbridge.sandbox.shopline.locations_api import router as locations_router
from returnbridge.sandbox.shopline.orders_api import router as orders_router
from returnbridge.sandbox.shopline.refunds_api import router as refunds_router
from returnbridge.sandbox.shopline.returns_api import router as returns_router
from returnbridge.sandbox.shopline.simulator import Simulator


def create_app(*, clock: Callable[[], float] | None = None) -> FastAPI:
    """A fresh, empty sandbox; ``clock`` (seconds) drives the buckets and timestamps."""
    app = FastAPI(title="returnbridge SHOPLINE sandbox")
    app.state.simulator = Simulator(clock=clock or time.time)
    for router in (orders_router, refunds_router, returns_router, locations_router):
        app.include_router(router, include_in_schema=False)
    app.include_router(control_router)

    @app.exception_handler(StarletteHTTPException)
    async def platform_errors(request: Request, exc: StarletteHTTPException) -> Response:
        """Paths the API lacks answer in SHOPLINE's error shape; the controls keep FastAPI's."""
        if request.url.path.startswith("/stores/"):
            return JSONResponse(error_body(exc.status_code), status_code=exc.status_code)
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(TraceIds)
    return app
