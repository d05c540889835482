"""The Loop Returns sandbox app: the API under ``/api/{version}/``, the control surface under
``/_sandbox/``. Contract and sources: docs/sandbox-loop.md."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from returnbridge.sandbox.loop import processing
from returnbridge.sandbox.loop.control import router as control_router
from returnbridge.sandbox.loop.drafts_api import router as drafts_router
from returnbridge.sandbox.loop.errors import NOT_FOUND, ApiError
from returnbridge.sandbox.loop.gateway import ConnectionReset, broken, refusal
from returnbridge.sandbox.loop.returns_api import router as returns_router
from returnbridge.sandbox.loop.simulator import Simulator
from returnbridge.sandbox.loop.webhooks import post_in_thread
from returnbridge.sandbox.loop.webhooks_api import router as webhooks_router

DEFAULT_TICK = 0.05


def create_app(clock: Callable[[], float] | None = None, *, tick: float = DEFAULT_TICK) -> FastAPI:
    """A fresh, empty sandbox; ``clock()`` gives seconds (default ``time.time``) and drives
    timestamps, the minute window and queued processing (looked at every ``tick`` s)."""
    sim = Simulator(clock=clock or time.time, sender=post_in_thread)
    app = FastAPI(title="returnbridge Loop Returns sandbox", docs_url="/_sandbox/docs")
    app.state.simulator = sim
    for router in (drafts_router, returns_router, webhooks_router):
        app.include_router(router, include_in_schema=False)
    app.include_router(control_router)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> Response:
        return refusal(request, error)

    @app.exception_handler(ConnectionReset)
    async def reset(request: Request, _: ConnectionReset) -> Response:
        return broken(request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """Paths the API lacks answer Loop's 404 body; the controls keep FastAPI's."""
        if request.url.path.startswith("/api/"):
            return JSONResponse(NOT_FOUND if exc.status_code == 404 else {"message": exc.detail},
                                status_code=exc.status_code)  # fmt: skip
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    processing.start_ticker(sim, tick)
    return app
