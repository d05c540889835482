"""The ``/_sandbox/`` control surface: seed stores, orders and stock, inject faults, read journal.

No authentication: it is for tests, demos and benchmarks on loopback.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Response, status

from returnbridge.sandbox.common.control import (
    control_router,
    fault_seed_model,
    faults_and_journal_routes,
    simulator_of,
    tenant,
)
from returnbridge.sandbox.woocommerce.faults import FaultKind
from returnbridge.sandbox.woocommerce.seeding import (
    OrderSeed,
    SeedError,
    StockSeed,
    StoreSeed,
    _Seed,
    build_order,
    build_store,
)
from returnbridge.sandbox.woocommerce.simulator import Simulator
from returnbridge.sandbox.woocommerce.state import Store
from returnbridge.sandbox.woocommerce.views import order_state
from returnbridge.sandbox.woocommerce.webhooks import Topic, Webhook

FaultSeed = fault_seed_model(
    FaultKind,
    scope="store",
    doc="""``POST /_sandbox/faults``; operations are ``orders.list``, ``orders.get``,
    ``refunds.list``, ``refunds.get`` and ``refunds.create``.""",
)


class WebhookSeed(_Seed):
    """``POST /_sandbox/stores/{name}/webhooks``."""

    topic: Topic
    delivery_url: str
    secret: str = ""


def _webhook_state(webhook: Webhook) -> dict[str, Any]:
    return {
        "id": webhook.id,
        "topic": webhook.topic,
        "delivery_url": webhook.delivery_url,
        "status": webhook.status,
        "failures": webhook.failures,
    }


SimulatorDep = Annotated[Simulator, Depends(simulator_of)]
router = control_router()


def _store(simulator: Simulator, name: str) -> Store:
    return tenant(simulator.world.stores, name, "store")


@router.post("/stores", status_code=status.HTTP_201_CREATED)
def create_store(seed: StoreSeed, simulator: SimulatorDep) -> dict[str, Any]:
    """Create or replace a store (its orders and stock start empty)."""
    with simulator.world.lock:
        clash = simulator.world.store_for_key(seed.consumer_key)
        if clash is not None and clash.name != seed.name:
            raise HTTPException(status.HTTP_409_CONFLICT, "consumer key used by another store")
        simulator.world.stores[seed.name] = build_store(seed)
        return {"name": seed.name, "permissions": seed.permissions, "user_id": seed.user_id}


@router.post("/stores/{name}/orders", status_code=status.HTTP_201_CREATED)
def create_order(name: str, seed: OrderSeed, simulator: SimulatorDep) -> dict[str, Any]:
    """Seed an order; stock is not touched (seed it with ``/stock``)."""
    with simulator.world.lock:
        store = _store(simulator, name)
        try:
            order = build_order(seed, ids=simulator.world.ids)
        except SeedError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
        store.orders[order.id] = order
        return order_state(order, store.stock)


@router.get("/stores/{name}/orders/{order_id}")
def read_order(name: str, order_id: int, simulator: SimulatorDep) -> dict[str, Any]:
    """An order's REST view plus refunded totals, quantities, stock and full refunds."""
    with simulator.world.lock:
        store = _store(simulator, name)
        order = store.orders.get(order_id)
        if order is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown order {order_id}")
        return order_state(order, store.stock)


@router.post("/stores/{name}/stock")
def set_stock(name: str, seed: StockSeed, simulator: SimulatorDep) -> dict[str, Any]:
    """Make a product manage stock, with this quantity."""
    with simulator.world.lock:
        _store(simulator, name).stock[seed.product_id] = seed.stock_quantity
        return seed.model_dump()


@router.get("/stores/{name}/stock")
def read_stock(name: str, simulator: SimulatorDep) -> dict[str, int]:
    """Stock quantity per product id."""
    with simulator.world.lock:
        return {str(pid): qty for pid, qty in sorted(_store(simulator, name).stock.items())}


@router.post("/stores/{name}/webhooks", status_code=status.HTTP_201_CREATED)
def create_webhook(name: str, seed: WebhookSeed, simulator: SimulatorDep) -> dict[str, Any]:
    """Subscribe a URL to a topic (no creation ping is sent)."""
    with simulator.world.lock:
        _store(simulator, name)
        webhook = Webhook(simulator.world.ids.next(), seed.topic, seed.delivery_url, seed.secret)
        simulator.subscriptions_of(name).webhooks.append(webhook)
        return _webhook_state(webhook)


@router.get("/stores/{name}/webhooks")
def list_webhooks(name: str, simulator: SimulatorDep) -> list[dict[str, Any]]:
    """A store's webhooks with status and consecutive failures."""
    with simulator.world.lock:
        _store(simulator, name)
        return [_webhook_state(w) for w in simulator.subscriptions_of(name).webhooks]


@router.get("/stores/{name}/webhooks/deliveries")
def list_deliveries(name: str, simulator: SimulatorDep) -> list[dict[str, Any]]:
    """Finished delivery attempts, oldest first."""
    with simulator.world.lock:
        _store(simulator, name)
        return [
            {
                "id": d.id,
                "webhook_id": d.webhook_id,
                "topic": d.topic,
                "http_status": d.http_status,
                "error": d.error,
            }
            for d in simulator.subscriptions_of(name).deliveries
        ]


@router.post("/reset", status_code=status.HTTP_204_NO_CONTENT)
def reset(simulator: SimulatorDep) -> Response:
    """Forget all state: stores, orders, faults, journal."""
    simulator.reset()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


router.include_router(faults_and_journal_routes(FaultSeed, scope="store", calls="REST"))
