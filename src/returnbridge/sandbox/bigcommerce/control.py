"""The ``/_sandbox/`` control surface: stores, orders, stock, faults, journal, reset.

No authentication: it is for tests, demos and benchmarks on loopback.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Response, status

from returnbridge.sandbox.bigcommerce.faults import FaultKind
from returnbridge.sandbox.bigcommerce.seeding import (
    OrderSeed,
    SeedError,
    StockSeed,
    StoreSeed,
    build_order,
    build_store,
)
from returnbridge.sandbox.bigcommerce.simulator import Simulator
from returnbridge.sandbox.bigcommerce.state import Store
from returnbridge.sandbox.bigcommerce.views import order_state
from returnbridge.sandbox.common.control import (
    control_router,
    fault_seed_model,
    faults_and_journal_routes,
    simulator_of,
    tenant,
)

FaultSeed = fault_seed_model(
    FaultKind,
    scope="store",
    doc="``POST /_sandbox/faults``: the next ``count`` matching calls fail this way.",
)


SimulatorDep = Annotated[Simulator, Depends(simulator_of)]
router = control_router()


def _store(simulator: Simulator, store_hash: str) -> Store:
    return tenant(simulator.world.stores, store_hash, "store")


def _store_state(store: Store) -> dict[str, Any]:
    return {
        "store_hash": store.store_hash,
        "rate_quota": store.rate_quota,
        "rate_window_seconds": store.rate_window_seconds,
        "order_ids": sorted(store.orders),
        "locations": [
            {"id": loc.id, "code": loc.code, "label": loc.label, "enabled": loc.enabled}
            for loc in store.locations.values()
        ],
        "stock": {str(loc): dict(sorted(levels.items())) for loc, levels in store.stock.items()},
    }


@router.post("/stores", status_code=status.HTTP_201_CREATED)
def create_store(seed: StoreSeed, simulator: SimulatorDep) -> dict[str, Any]:
    """Create or replace a store."""
    with simulator.world.lock:
        clash = next(
            (s for s in simulator.world.stores.values() if s.access_token == seed.access_token),
            None,
        )
        if clash is not None and clash.store_hash != seed.store_hash:
            raise HTTPException(status.HTTP_409_CONFLICT, "access token used by another store")
        store = build_store(seed)
        simulator.put_store(store)
        return _store_state(store)


@router.get("/stores/{store_hash}")
def read_store(store_hash: str, simulator: SimulatorDep) -> dict[str, Any]:
    """A store's settings, order ids and stock."""
    with simulator.world.lock:
        return _store_state(_store(simulator, store_hash))


@router.post("/stores/{store_hash}/orders", status_code=status.HTTP_201_CREATED)
def create_order(store_hash: str, seed: OrderSeed, simulator: SimulatorDep) -> dict[str, Any]:
    """Seed an order; the answer carries the product and address ids refunds refer to."""
    with simulator.world.lock:
        store = _store(simulator, store_hash)
        try:
            order = build_order(seed, store=store, ids=simulator.world.ids)
        except SeedError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
        store.orders[order.id] = order
        return order_state(order, store_hash)


@router.get("/stores/{store_hash}/orders/{order_id}")
def read_order(store_hash: str, order_id: int, simulator: SimulatorDep) -> dict[str, Any]:
    """Internal state of an order, refunds included."""
    with simulator.world.lock:
        order = _store(simulator, store_hash).orders.get(order_id)
        if order is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown order {order_id}")
        return order_state(order, store_hash)


@router.post("/stores/{store_hash}/stock")
def set_stock(store_hash: str, seed: StockSeed, simulator: SimulatorDep) -> dict[str, Any]:
    """Set the stock level of a SKU at a location (refunds never change it)."""
    with simulator.world.lock:
        store = _store(simulator, store_hash)
        if seed.location_id not in store.locations:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown location {seed.location_id}")
        store.stock.setdefault(seed.location_id, {})[seed.sku] = seed.level
        return seed.model_dump()


@router.get("/stores/{store_hash}/stock")
def read_stock(store_hash: str, simulator: SimulatorDep, location_id: int = 1) -> dict[str, int]:
    """Stock level per SKU at a location (the default location 1 unless told)."""
    with simulator.world.lock:
        return dict(sorted(_store(simulator, store_hash).stock.get(location_id, {}).items()))


@router.get("/stores/{store_hash}/adjustments")
def read_adjustments(store_hash: str, simulator: SimulatorDep) -> list[dict[str, Any]]:
    """Inventory adjustments accepted by the API, oldest first."""
    with simulator.world.lock:
        return [
            {
                "transaction_id": a.transaction_id,
                "reason": a.reason,
                "items": [
                    {"location_id": loc, "sku": sku, "quantity": qty} for loc, sku, qty in a.items
                ],
            }
            for a in _store(simulator, store_hash).adjustments
        ]


@router.get("/stores/{store_hash}/webhooks/deliveries")
def read_deliveries(store_hash: str, simulator: SimulatorDep) -> list[dict[str, Any]]:
    """Webhook deliveries made for the store, oldest first: scope, headers and the raw body."""
    with simulator.world.lock:
        return list(_store(simulator, store_hash).deliveries)


@router.post("/reset", status_code=status.HTTP_204_NO_CONTENT)
def reset(simulator: SimulatorDep) -> Response:
    """Forget all state: stores, orders, rate windows, faults, journal."""
    simulator.reset()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


router.include_router(faults_and_journal_routes(FaultSeed, scope="store", calls="API"))
