"""The ``/_sandbox/`` control surface: shops, orders, policy, webhook endpoints and
deliveries (drop, re-send), queued processing, forced states, reset, faults, journal.

No authentication: it is for tests, demos and benchmarks on loopback.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Depends, HTTPException, Response, status

from returnbridge.sandbox.common.control import (
    control_router,
    fault_seed_model,
    faults_and_journal_routes,
    simulator_of,
    tenant,
)
from returnbridge.sandbox.loop import processing
from returnbridge.sandbox.loop.faults import FaultKind
from returnbridge.sandbox.loop.seeding import (
    OrderSeed,
    ShopSeed,
    WebhookSeed,
    build_order,
    build_shop,
)
from returnbridge.sandbox.loop.simulator import Simulator
from returnbridge.sandbox.loop.state import RETURN_STATES, Shop, Webhook
from returnbridge.sandbox.loop.views import details_json
from returnbridge.sandbox.loop.webhooks import delivery_json

FaultSeed = fault_seed_model(
    FaultKind,
    scope="shop",
    doc="``POST /_sandbox/faults``: the next ``count`` matching API calls of a shop (any when"
    " null) fail this way; operation ``processing`` for ``processing_failed``.",
)
SimulatorDep = Annotated[Simulator, Depends(simulator_of)]
router = control_router()


def _shop(sim: Simulator, name: str) -> Shop:
    return tenant(sim.world.shops, name, "shop")


def _shop_json(shop: Shop) -> dict[str, Any]:
    return {
        "name": shop.name,
        "shop_id": shop.shop_id,
        "api_keys": list(shop.api_keys),
        "currency": shop.currency,
        "auto_process_seconds": shop.auto_process_seconds,
        "unavailable_orders": sorted(shop.unavailable_orders),
        "unavailable_zips": sorted(shop.unavailable_zips),
        "drop_webhooks": shop.drop_webhooks,
        "orders": sorted(shop.orders),
        "webhooks": [{"id": h.id, "url": h.url, "status": h.status} for h in shop.webhooks],
    }


@router.post("/shops", status_code=status.HTTP_201_CREATED)
def create_shop(seed: ShopSeed, sim: SimulatorDep) -> dict[str, Any]:
    """Create or replace a shop; its keys must not belong to another shop (409)."""
    with sim.world.lock:
        keys = {seed.api_key, *seed.api_keys}
        if any(s.name != seed.name and keys & set(s.api_keys) for s in sim.world.shops.values()):
            raise HTTPException(status.HTTP_409_CONFLICT, "API key used by another shop")
        shop = build_shop(seed, sim.world)
        sim.world.shops[shop.name] = shop
        return _shop_json(shop)


@router.get("/shops/{name}")
def read_shop(name: str, sim: SimulatorDep) -> dict[str, Any]:
    with sim.world.lock:
        return _shop_json(_shop(sim, name))


@router.patch("/shops/{name}")
def update_policy(
    name: str,
    sim: SimulatorDep,
    unavailable_orders: Annotated[list[str] | None, Body()] = None,
    unavailable_zips: Annotated[list[str] | None, Body()] = None,
    auto_process_seconds: Annotated[float | None, Body()] = -1.0,
) -> dict[str, Any]:
    """Change the policy or the processing delay (fields left out stay)."""
    with sim.world.lock:
        shop = _shop(sim, name)
        if unavailable_orders is not None:
            shop.unavailable_orders = set(unavailable_orders)
        if unavailable_zips is not None:
            shop.unavailable_zips = set(unavailable_zips)
        if auto_process_seconds is None or auto_process_seconds >= 0:
            shop.auto_process_seconds = auto_process_seconds
        return _shop_json(shop)


@router.post("/shops/{name}/orders", status_code=status.HTTP_201_CREATED)
def create_order(name: str, seed: OrderSeed, sim: SimulatorDep) -> dict[str, Any]:
    """Seed (or replace, by name) a Shopify order."""
    with sim.world.lock:
        shop = _shop(sim, name)
        order = build_order(seed, shop, sim.world)
        shop.orders[order.name] = order
        return {"name": order.name, "order_id": str(order.loop_id)}


@router.post("/shops/{name}/webhooks", status_code=status.HTTP_201_CREATED)
def create_webhook(name: str, seed: WebhookSeed, sim: SimulatorDep) -> dict[str, Any]:
    """An active endpoint, for every trigger unless ``triggers`` says which."""
    with sim.world.lock:
        triggers = None if seed.triggers is None else frozenset(seed.triggers)
        hook = Webhook(sim.world.next_small_id(), seed.url, seed.secret, triggers=triggers)
        _shop(sim, name).webhooks.append(hook)
        return {"id": hook.id, "url": hook.url}


@router.post("/shops/{name}/drop_webhooks")
def drop_webhooks(
    name: str, sim: SimulatorDep, count: Annotated[int, Body(embed=True, ge=0)] = 1
) -> dict[str, int]:
    """The next ``count`` deliveries are recorded (``dropped: true``) but not sent."""
    with sim.world.lock:
        shop = _shop(sim, name)
        shop.drop_webhooks = count
        return {"drop_webhooks": count}


@router.get("/shops/{name}/webhook_deliveries")
def deliveries(name: str, sim: SimulatorDep) -> list[dict[str, Any]]:
    """Every delivery of the shop, oldest first."""
    with sim.world.lock:
        _shop(sim, name)
        return [delivery_json(d) for d in sim.world.deliveries if d.shop == name]


@router.post("/shops/{name}/webhook_deliveries/{delivery_id}/resend")
def resend(name: str, delivery_id: int, sim: SimulatorDep) -> dict[str, Any]:
    """Send a delivery (dropped or not) again, same body and signature."""
    with sim.world.lock:
        found = next(
            (d for d in sim.world.deliveries if d.shop == name and d.id == delivery_id), None
        )
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown delivery {delivery_id}")
        found.dropped = False
    sim.sender(found)
    return {"id": found.id}


@router.post("/shops/{name}/process_pending")
def process_shop(name: str, sim: SimulatorDep) -> dict[str, int]:
    """Complete every queued processing of the shop now, due or not."""
    with sim.world.lock:
        _shop(sim, name)
    return {"processed": processing.finish_due(sim, shop=name, everything=True)}


@router.post("/process_pending")
@router.post("/loop/process_pending", include_in_schema=False)
def process_all(sim: SimulatorDep) -> dict[str, int]:
    """Complete every queued processing of every shop now."""
    return {"processed": processing.finish_due(sim, everything=True)}


@router.get("/shops/{name}/returns")
def returns_of(name: str, sim: SimulatorDep) -> list[dict[str, Any]]:
    """The shop's returns as the details endpoint shows them, with ``processing_queued``."""
    with sim.world.lock:
        _shop(sim, name)
        return [
            {**details_json(sim, r), "processing_queued": r.processing_due is not None}
            for r in sim.world.returns.values()
            if r.shop == name
        ]


@router.post("/shops/{name}/returns/{return_id}/state")
def force_state(
    name: str,
    return_id: int,
    sim: SimulatorDep,
    state: Annotated[str, Body(embed=True)],
) -> dict[str, Any]:
    """Put a return in a state (e.g. ``expired``, which only time does in Loop); no webhook."""
    if state not in RETURN_STATES:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown state {state!r}")
    with sim.world.lock:
        found = sim.world.returns.get(return_id)
        if found is None or found.shop != name:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown return {return_id}")
        found.state, found.updated_at, found.processing_due = state, sim.clock(), None
        return details_json(sim, found)


@router.post("/reset", status_code=status.HTTP_204_NO_CONTENT)
def reset(sim: SimulatorDep) -> Response:
    """Forget everything: shops, drafts, returns, deliveries, windows, faults, journal."""
    sim.reset()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


router.include_router(faults_and_journal_routes(FaultSeed, scope="shop", calls="API"))
