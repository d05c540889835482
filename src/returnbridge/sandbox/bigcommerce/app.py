"""The BigCommerce sandbox app: Orders v2, v3 payment actions, inventory and the controls."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import FastAPI

from returnbridge.sandbox.bigcommerce.control import router as control_router
from returnbridge.sandbox.bigcommerce.inventory import router as inventory_router
from returnbridge.sandbox.bigcommerce.orders_v2 import router as orders_v2_router
from returnbridge.sandbox.bigcommerce.payment_actions import router as payment_actions_router
from returnbridge.sandbox.bigcommerce.simulator import Simulator


def create_app(*, clock: Callable[[], float] | None = None) -> FastAPI:
    """A fresh, empty sandbox; ``clock`` (seconds) drives rate windows and timestamps."""
    app = FastAPI(title="returnbridge BigCommerce sandbox")
    app.state.simulator = Simulator(clock=clock or time.time)
    app.include_router(orders_v2_router, include_in_schema=False)
    app.include_router(payment_actions_router, include_in_schema=False)
    app.include_router(inventory_router, include_in_schema=False)
    app.include_router(control_router)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
