"""``GET locations/list.json`` (the SDK's path) and its alias ``locations.json``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from returnbridge.sandbox.shopline.gateway import API_PREFIX, admit
from returnbridge.sandbox.shopline.views import location_json

router = APIRouter(prefix=API_PREFIX)


async def _locations(request: Request, handle: str, version: str) -> Response:
    call = admit(request, handle, version, "get_locations")
    if isinstance(call, Response):
        return call
    await call.hold("latency")
    with call.simulator.world.lock:
        body = {"locations": [location_json(loc) for loc in call.store.locations.values()]}
    response = call.respond(body)
    await call.hold("timeout_after_commit")
    return response


router.add_api_route("/locations/list.json", _locations, methods=["GET"])
router.add_api_route("/locations.json", _locations, methods=["GET"])
