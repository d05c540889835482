"""Inventory v3 (relative adjustments, items) and Locations v3 (list), per ``inventory.v3.yml``
and ``locations.v3.yml``.

Stock is kept per location and SKU; an item named by ``variant_id`` or ``product_id`` is
resolved to its SKU through the store's ordered products. A batch is applied whole or not at
all; each accepted batch answers a ``transaction_id`` and is kept for the control surface.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from returnbridge.sandbox.bigcommerce.errors import v3_error
from returnbridge.sandbox.bigcommerce.gateway import Call, admit
from returnbridge.sandbox.bigcommerce.state import Adjustment, Store, parse_id

router = APIRouter(prefix="/stores/{store_hash}/v3/inventory")
_IDENTITIES = ("sku", "variant_id", "product_id")
MAX_ITEMS = 2000


class AdjustmentError(Exception):
    """A batch the API answers with 422."""

    def __init__(self, title: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(title)
        self.title = title
        self.errors = errors or {}


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _item(store: Store, item: Any, where: str) -> tuple[int, str, int]:
    if not isinstance(item, dict):
        raise AdjustmentError("Payload contains invalid fields", {where: "must be an object"})
    named = [key for key in _IDENTITIES if key in item]
    if len(named) != 1:
        raise AdjustmentError(
            "Payload contains invalid fields",
            {where: "exactly one of sku, variant_id or product_id is required"},
        )
    location_id, quantity = item.get("location_id"), item.get("quantity")
    if (
        not isinstance(location_id, int)
        or not isinstance(quantity, int)
        or not (_integer(location_id) and _integer(quantity))
    ):
        raise AdjustmentError(
            "Payload contains invalid fields",
            {where: "location_id and quantity must be integers"},
        )
    if location_id not in store.locations:
        raise AdjustmentError(f"Location with id {location_id} not found")
    key = named[0]
    value = item[key]
    if key == "sku":
        sku = value if isinstance(value, str) and value else None
    elif _integer(value):
        sku = store.sku_of(**{key: value})
    else:
        sku = None
    if sku is None:
        raise AdjustmentError(f"[Item with {key} {value} not found]")
    return location_id, sku, quantity


def adjust(store: Store, body: Any) -> Adjustment:
    """Check a relative-adjustment batch, then apply every item; raises AdjustmentError."""
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items or len(items) > MAX_ITEMS:
        raise AdjustmentError("Payload contains invalid fields", {"items": "1 to 2000 items"})
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise AdjustmentError("Payload contains invalid fields", {"reason": "must be a string"})
    parsed = [_item(store, item, f"items.{i}") for i, item in enumerate(items)]
    for location_id, sku, quantity in parsed:
        levels = store.stock.setdefault(location_id, {})
        levels[sku] = levels.get(sku, 0) + quantity
    adjustment = Adjustment(transaction_id=str(uuid.uuid4()), reason=reason, items=parsed)
    store.adjustments.append(adjustment)
    return adjustment


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


@router.post("/adjustments/relative")
async def post_relative_adjustment(request: Request, store_hash: str) -> Response:
    """``post-relative-adjustment``: 200 ``{"transaction_id"}``; no idempotency."""
    call = admit(request, store_hash, "post-relative-adjustment", "v3")
    if isinstance(call, Response):
        return call
    body = await _json(request)
    await call.hold("latency")
    try:
        with call.simulator.world.lock:
            adjustment = adjust(call.store, body)
    except AdjustmentError as error:
        call.effect = "rejected"
        return call.respond(v3_error(422, error.title, error.errors), 422)
    call.effect = "inventory_adjusted"
    response = call.respond({"transaction_id": adjustment.transaction_id})
    await call.hold("timeout_after_commit")
    return response


def _ids(request: Request, name: str) -> set[int] | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    return {number for part in raw.split(",") if (number := parse_id(part.strip())) is not None}


def _pagination(request: Request, total: int) -> tuple[slice, dict[str, Any]]:
    page = parse_id(request.query_params.get("page", "1")) or 1
    limit = min(parse_id(request.query_params.get("limit", "50")) or 50, 1000)
    pages = max((total + limit - 1) // limit, 1)
    window = slice((page - 1) * limit, page * limit)
    count = len(range(total)[window])
    meta = {
        "pagination": {
            "total": total,
            "count": count,
            "per_page": limit,
            "current_page": page,
            "total_pages": pages,
            "links": {"current": f"?limit={limit}&page={page}"}
            | ({"next": f"?limit={limit}&page={page + 1}"} if page < pages else {}),
        }
    }
    return window, meta


def _location(store: Store, location_id: int) -> dict[str, Any]:
    location = store.locations[location_id]
    return {
        "id": location.id,
        "code": location.code,
        "label": location.label,
        "description": "",
        "managed_by_external_source": False,
        "type_id": "PHYSICAL",
        "enabled": location.enabled,
        "time_zone": "Etc/UTC",
        "storefront_visibility": True,
    }


@router.get("/locations")
async def get_locations(request: Request, store_hash: str) -> Response:
    """``getLocations``: ``location_id:in``, ``is_active``, page, limit."""
    call = admit(request, store_hash, "getLocations", "v3")
    if isinstance(call, Response):
        return call
    await call.hold("latency")
    wanted = _ids(request, "location_id:in")
    active = request.query_params.get("is_active")
    with call.simulator.world.lock:
        found = [
            _location(call.store, loc.id)
            for loc in sorted(call.store.locations.values(), key=lambda loc: loc.id)
            if (wanted is None or loc.id in wanted)
            and (active is None or loc.enabled == (active.lower() == "true"))
        ]
    window, meta = _pagination(request, len(found))
    response = call.respond({"data": found[window], "meta": meta})
    await call.hold("timeout_after_commit")
    return response


def _inventory_item(call: Call, sku: str, location_ids: set[int] | None) -> dict[str, Any]:
    store = call.store
    identity: dict[str, Any] = {"sku": sku}
    product = next((p for o in store.orders.values() for p in o.products if p.sku == sku), None)
    if product is not None:
        identity |= {"variant_id": product.variant_id, "product_id": product.product_id}
    locations = [
        {
            "location_id": loc.id,
            "location_code": loc.code,
            "location_name": loc.label,
            "available_to_sell": store.level(loc.id, sku),
            "total_inventory_onhand": store.level(loc.id, sku),
            "location_enabled": loc.enabled,
            "settings": {"safety_stock": 0, "is_in_stock": True, "warning_level": 0},
        }
        for loc in sorted(store.locations.values(), key=lambda loc: loc.id)
        if location_ids is None or loc.id in location_ids
    ]
    return {"identity": identity, "locations": locations}


@router.get("/items")
async def get_inventory_items(request: Request, store_hash: str) -> Response:
    """``get-inventory-items``: ``sku:in``, ``location_id:in``, page, limit."""
    call = admit(request, store_hash, "get-inventory-items", "v3")
    if isinstance(call, Response):
        return call
    await call.hold("latency")
    raw_skus = request.query_params.get("sku:in")
    skus = None if raw_skus is None else {s.strip() for s in raw_skus.split(",") if s.strip()}
    location_ids = _ids(request, "location_id:in")
    with call.simulator.world.lock:
        known = sorted({sku for levels in call.store.stock.values() for sku in levels})
        data = [
            _inventory_item(call, sku, location_ids) for sku in known if skus is None or sku in skus
        ]
    window, meta = _pagination(request, len(data))
    response = call.respond({"data": data[window], "meta": meta})
    await call.hold("timeout_after_commit")
    return response
