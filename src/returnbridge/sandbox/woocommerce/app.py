"""The WooCommerce sandbox ASGI app: REST API wc/v3 and the ``/_sandbox`` controls."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from returnbridge.sandbox.woocommerce.control import router as control_router
from returnbridge.sandbox.woocommerce.key_delivery import router as key_delivery_router
from returnbridge.sandbox.woocommerce.routes import router as rest_router
from returnbridge.sandbox.woocommerce.simulator import Simulator

NO_ROUTE = {
    "code": "rest_no_route",
    "message": "No route was found matching the URL and request method.",
    "data": {"status": 404},
}


def create_app(*, clock: Callable[[], float] | None = None) -> FastAPI:
    """A fresh, empty sandbox; ``clock`` (seconds) drives timestamps."""
    app = FastAPI(title="returnbridge WooCommerce sandbox", version="wc/v3")
    app.state.simulator = Simulator(clock=clock or time.time)
    app.include_router(rest_router)
    app.include_router(control_router)
    app.include_router(key_delivery_router)

    @app.api_route(
        "/wp-json/{path:path}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    def no_route(path: str, request: Request) -> JSONResponse:
        return JSONResponse(NO_ROUTE, status_code=404)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
