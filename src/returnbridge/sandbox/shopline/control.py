"""The ``/_sandbox/`` control surface: stores, orders, stock, deliveries, reset, faults, journal.

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
from returnbridge.sandbox.shopline.faults import FaultKind
from returnbridge.sandbox.shopline.seeding import (
    OrderSeed,
    SeedError,
    StockSeed,
    StoreSeed,
    build_order,
    build_store,
)
from returnbridge.sandbox.shopline.simulator import Simulator
from returnbridge.sandbox.shopline.state import Store
from returnbridge.sandbox.shopline.views import location_json, order_json, return_json

FaultSeed = fault_seed_model(
    FaultKind,
    scope="store",
    doc="``POST /_sandbox/faults``: the next ``count`` matching calls fail this way.",
)
SimulatorDep = Annotated[Simulator, Depends(simulator_of)]
router = control_router()


def _store(simulator: Simulator, handle: str) -> Store:
    return tenant(simulator.world.stores, handle, "store")


def _store_state(store: Store) -> dict[str, Any]:
    return {
        "handle": store.handle,
        "domain": store.domain,
        "currency": store.currency,
        "store_id": store.store_id,
        "bucket_size": store.bucket_size,
        "leak_rate": store.leak_rate,
        "webhook_signature_encoding": store.signature_encoding,
        "order_ids": sorted(store.orders),
        "locations": [location_json(loc) for loc in store.locations.values()],
        "stock": {loc: dict(sorted(levels.items())) for loc, levels in store.stock.items()},
    }


def _location(store: Store, location_id: str | None) -> str:
    chosen = location_id or store.default_location.id
    if chosen not in store.locations:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown location {chosen}")
    return chosen


@router.post("/stores", status_code=status.HTTP_201_CREATED)
def create_store(seed: StoreSeed, simulator: SimulatorDep) -> dict[str, Any]:
    """Create or replace a store."""
    with simulator.world.lock:
        clash = next(
            (s for s in simulator.world.stores.values() if s.access_token == seed.access_token),
            None,
        )
        if clash is not None and clash.handle != seed.handle:
            raise HTTPException(status.HTTP_409_CONFLICT, "access token used by another store")
        try:
            store = build_store(seed, ids=simulator.world.ids, now=simulator.now())
        except SeedError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
        simulator.put_store(store)
        return _store_state(store)


@router.get("/stores/{handle}")
def read_store(handle: str, simulator: SimulatorDep) -> dict[str, Any]:
    """A store's settings, order ids, locations and stock."""
    with simulator.world.lock:
        return _store_state(_store(simulator, handle))


@router.post("/stores/{handle}/orders", status_code=status.HTTP_201_CREATED)
def create_order(handle: str, seed: OrderSeed, simulator: SimulatorDep) -> dict[str, Any]:
    """Seed an order; the answer is the order as the API shows it, with every id."""
    with simulator.world.lock:
        store = _store(simulator, handle)
        try:
            order = build_order(seed, store=store, ids=simulator.world.ids, now=simulator.now())
        except SeedError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
        store.orders[order.id] = order
        return order_json(order)


@router.get("/stores/{handle}/orders/{order_id}")
def read_order(handle: str, order_id: str, simulator: SimulatorDep) -> dict[str, Any]:
    """An order, its returns and the units refunded per line and type."""
    with simulator.world.lock:
        store = _store(simulator, handle)
        order = store.orders.get(order_id)
        if order is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown order {order_id}")
        return {
            "order": order_json(order),
            "returns": [
                return_json(order, r) for r in store.returns.values() if r.order_id == order.id
            ],
            "refunded": {line.id: dict(line.refunded) for line in order.line_items},
        }


@router.post("/stores/{handle}/stock")
def set_stock(handle: str, seed: StockSeed, simulator: SimulatorDep) -> dict[str, Any]:
    """Set the stock level of a SKU at a location (the first location unless told)."""
    with simulator.world.lock:
        store = _store(simulator, handle)
        location_id = _location(store, seed.location_id)
        store.stock.setdefault(location_id, {})[seed.sku] = seed.level
        return {"sku": seed.sku, "level": seed.level, "location_id": location_id}


@router.get("/stores/{handle}/stock")
def read_stock(
    handle: str, simulator: SimulatorDep, location_id: str | None = None
) -> dict[str, int]:
    """Stock level per SKU at a location (the first location unless told)."""
    with simulator.world.lock:
        store = _store(simulator, handle)
        return dict(sorted(store.stock.get(_location(store, location_id), {}).items()))


@router.get("/stores/{handle}/webhooks/deliveries")
def read_deliveries(handle: str, simulator: SimulatorDep) -> list[dict[str, Any]]:
    """Webhook deliveries recorded for the store, oldest first: topic, headers, raw body."""
    with simulator.world.lock:
        return list(_store(simulator, handle).deliveries)


@router.post("/reset", status_code=status.HTTP_204_NO_CONTENT)
def reset(simulator: SimulatorDep) -> Response:
    """Forget all state: stores, orders, buckets, faults, journal."""
    simulator.reset()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


router.include_router(faults_and_journal_routes(FaultSeed, scope="store", calls="API"))
