"""The ``/_sandbox/`` control surface: seed shops, orders and stock, inject faults, read journal.

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
from returnbridge.sandbox.shopify.faults import FaultKind
from returnbridge.sandbox.shopify.seeding import (
    InventorySeed,
    OrderSeed,
    SeedError,
    ShopSeed,
    build_order,
    build_shop,
    order_state,
    shop_state,
    store_credit_state,
)
from returnbridge.sandbox.shopify.simulator import Simulator
from returnbridge.sandbox.shopify.state import Shop

FaultSeed = fault_seed_model(
    FaultKind,
    scope="shop",
    doc="``POST /_sandbox/faults``.",
)


SimulatorDep = Annotated[Simulator, Depends(simulator_of)]
router = control_router()


def _shop(simulator: Simulator, domain: str) -> Shop:
    return tenant(simulator.world.shops, domain, "shop")


@router.post("/shops", status_code=status.HTTP_201_CREATED)
def create_shop(seed: ShopSeed, simulator: SimulatorDep) -> dict[str, Any]:
    """Create or replace a shop."""
    shop = build_shop(seed, restore_rate=simulator.restore_rate, bucket_size=simulator.bucket_size)
    with simulator.world.lock:
        clash = simulator.world.shop_for_token(seed.access_token)
        if clash is not None and clash.domain != seed.domain:
            raise HTTPException(status.HTTP_409_CONFLICT, "access token used by another shop")
        simulator.put_shop(shop)
        return shop_state(shop)


@router.post("/shops/{domain}/orders", status_code=status.HTTP_201_CREATED)
def create_order(domain: str, seed: OrderSeed, simulator: SimulatorDep) -> dict[str, Any]:
    """Seed an order (amounts in its presentment currency)."""
    with simulator.world.lock:
        shop = _shop(simulator, domain)
        try:
            order = build_order(seed, shop=shop, ids=simulator.world.ids)
        except SeedError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
        shop.orders[order.id] = order
        return order_state(order)


@router.get("/shops/{domain}/orders/{order_id}")
def read_order(domain: str, order_id: int, simulator: SimulatorDep) -> dict[str, Any]:
    """Internal state of an order, refunds included."""
    with simulator.world.lock:
        order = _shop(simulator, domain).orders.get(order_id)
        if order is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown order {order_id}")
        return order_state(order)


@router.post("/shops/{domain}/inventory")
def set_inventory(domain: str, seed: InventorySeed, simulator: SimulatorDep) -> dict[str, Any]:
    """Set the available stock of a SKU at a location."""
    with simulator.world.lock:
        shop = _shop(simulator, domain)
        if shop.location(seed.location_id) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown location {seed.location_id}")
        shop.stock[(seed.sku, seed.location_id)] = seed.available
        shop.stocked.add((seed.sku, seed.location_id))
        return seed.model_dump()


@router.get("/shops/{domain}/inventory")
def read_inventory(domain: str, simulator: SimulatorDep) -> dict[str, dict[str, int]]:
    """Stock per SKU per location id."""
    with simulator.world.lock:
        stock: dict[str, dict[str, int]] = {}
        for (sku, location_id), available in sorted(_shop(simulator, domain).stock.items()):
            stock.setdefault(sku, {})[str(location_id)] = available
        return stock


@router.get("/shops/{domain}/store_credit")
def read_store_credit(
    domain: str, simulator: SimulatorDep, email: str | None = None
) -> dict[str, Any]:
    """Store credit accounts: ``{email: {currency: {balance, account_id, credits}}}``."""
    with simulator.world.lock:
        return store_credit_state(_shop(simulator, domain), email)


@router.post("/reset", status_code=status.HTTP_204_NO_CONTENT)
def reset(simulator: SimulatorDep) -> Response:
    """Forget all state: shops, orders, faults, journal."""
    simulator.reset()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


router.include_router(
    faults_and_journal_routes(FaultSeed, scope="shop", calls="GraphQL", operation_name="root field")
)
