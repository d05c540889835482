"""The Shopify sandbox ASGI app: Admin GraphQL API 2026-01 and the ``/_sandbox`` controls."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import FastAPI

from returnbridge.sandbox.shopify.control import router as control_router
from returnbridge.sandbox.shopify.endpoint import API_VERSION, graphql_endpoint
from returnbridge.sandbox.shopify.install import control as install_control_router
from returnbridge.sandbox.shopify.install import router as install_router
from returnbridge.sandbox.shopify.simulator import Simulator


def create_app(
    *,
    restore_rate: float = 100.0,
    bucket_size: int = 2000,
    clock: Callable[[], float] | None = None,
) -> FastAPI:
    """A fresh, empty sandbox; ``clock`` (seconds) drives rate limits and timestamps."""
    app = FastAPI(title="returnbridge Shopify sandbox", version=API_VERSION)
    app.state.simulator = Simulator(
        clock=clock or time.time, restore_rate=restore_rate, bucket_size=bucket_size
    )
    app.add_api_route(
        "/admin/api/{version}/graphql.json",
        graphql_endpoint,
        methods=["POST"],
        include_in_schema=False,
    )
    app.include_router(install_router)
    app.include_router(install_control_router)
    app.include_router(control_router)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
