"""Return Create API routes (``/draft-returns``), answered in HAL-Forms: ``draft_return``,
``context``, ``_links`` and ``_templates`` keyed by relation, ``errors`` [docs]."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from returnbridge.sandbox.loop import drafts
from returnbridge.sandbox.loop.errors import ApiError
from returnbridge.sandbox.loop.gateway import API_PREFIX, Call, admit
from returnbridge.sandbox.loop.money import ZERO, minor_units, money
from returnbridge.sandbox.loop.state import Draft

router = APIRouter(prefix=API_PREFIX)
HAL_FORMS = "application/prs.hal-forms+json"
ADD = "add-returning-item"
REMOVE = "remove-returning-item"
SUBMIT = "submit-draft-return"
_ADD_PROPERTIES = [
    {"name": "line_item_id", "type": "number", "required": True},
    {"name": "quantity", "type": "number", "required": False},
    {"name": "reason", "type": "text", "required": False},
]


def _template(call: Call, method: str, title: str, path: str, props: list[Any]) -> dict[str, Any]:
    return {
        "method": method,
        "title": title,
        "contentType": "application/json",
        "target": call.api_url(path),
        "properties": props,
    }


def draft_json(call: Call, draft: Draft) -> dict[str, Any]:
    """A draft with the controls its state allows: add/remove items while ``created``,
    submit once it has items (Loop's readiness signal), none once ``submitted``."""
    base = f"draft-returns/{draft.id}"
    links: dict[str, Any] = {"self": {"href": call.api_url(base)}}
    templates: dict[str, Any] = {}
    if draft.state == "created":
        templates[ADD] = _template(
            call, "POST", "Add a returning item", f"{base}/returning-items", _ADD_PROPERTIES
        )
        if draft.lines:
            templates[SUBMIT] = _template(call, "POST", "Submit", f"{base}/submit", [])
    for name, template in templates.items():
        links[name] = {"href": template["target"]}
    total = sum((rl.line.price * rl.quantity for rl in draft.lines), ZERO)
    total -= sum((rl.share(rl.line.discount) - rl.share(rl.line.tax) for rl in draft.lines), ZERO)
    left = drafts.returnable(call.sim, draft)
    order = draft.order
    return {
        "draft_return": {
            "id": draft.id,
            "return_id": draft.return_id,
            "state": draft.state,
            "currency": order.currency,
            "language": "en",
            "is_gift": draft.is_gift,
            "order_name": order.name,
            "customer": {"email": order.email},
            "shipping_address": {"zip": order.zip},
            "totals": {"return_total": {"amount": minor_units(total), "currency": order.currency}},
            "returning_items": [
                {
                    "id": rl.id,
                    "order_line_item_id": rl.line.id,
                    "quantity": rl.quantity,
                    "reason": {"name": rl.reason} if rl.reason else None,
                }
                for rl in draft.lines
            ],
        },
        "context": {
            "order": {
                "name": order.name,
                "provider_order_id": order.provider_order_id,
                "line_items": [
                    {
                        "id": line.id,
                        "sku": line.sku,
                        "title": line.title,
                        "quantity": line.quantity,
                        "returnable_quantity": left[line.id],
                        "price": money(line.price),
                    }
                    for line in order.lines
                ],
            }
        },
        "_links": links,
        "_templates": templates,
        "errors": [],
    }


@router.get("/draft-returns")
async def list_drafts(version: str, request: Request) -> Response:
    """The entry point: the ``initialize`` template and the shop's drafts (``_embedded``).
    Before 2026-10 (and on ``v1``) it needs ``Accept: application/prs.hal-forms+json``."""
    call = await admit(request, version, "listDraftReturns")
    if version in ("2026-07", "v1") and HAL_FORMS not in request.headers.get("accept", ""):
        raise ApiError(
            400,
            {"errors": [{"code": "unsupported-feature", "message": f"Accept {HAL_FORMS}."}]},
        )
    with call.sim.world.lock:
        found = [d for d in call.sim.world.drafts.values() if d.shop == call.shop.name]
        embedded = [draft_json(call, d) for d in found]
    initialize = _template(call, "POST", "Initialize", "draft-returns", _INIT_PROPERTIES)
    body = {
        "_links": {"self": {"href": call.api_url("draft-returns")}},
        "_templates": {"initialize": initialize},
        "_embedded": {"draft_returns": embedded},
    }
    return await call.respond(body, hal=True)


_INIT_PROPERTIES = [
    {"name": "order_name", "type": "text", "required": True},
    {"name": "secondary_input", "type": "text", "required": True},
    {"name": "is_gift", "type": "checkbox", "required": False},
]


@router.post("/draft-returns")
async def initialize(version: str, request: Request) -> Response:
    """``{order_name, secondary_input, is_gift}`` -> 201 and the draft."""
    call = await admit(request, version, "createDraftReturn")
    body = await call.body()
    with call.sim.world.lock:
        draft = drafts.initialize(call.sim, call.shop, body)
        answer = draft_json(call, draft)
    return await call.respond(answer, effect="draft_created", status=201, hal=True)


@router.get("/draft-returns/{draft_id}")
async def read_draft(version: str, draft_id: int, request: Request) -> Response:
    call = await admit(request, version, "getDraftReturn")
    with call.sim.world.lock:
        answer = draft_json(call, drafts.find(call.sim, call.shop, draft_id))
    return await call.respond(answer, hal=True)


@router.post("/draft-returns/{draft_id}/returning-items")
@router.post("/draft-returns/{draft_id}/line-items", include_in_schema=False)
async def add_item(version: str, draft_id: int, request: Request) -> Response:
    """``{line_item_id, quantity?, reason?}`` (``line-items`` is the sandbox's older alias)."""
    call = await admit(request, version, "addDraftLineItem")
    body = await call.body()
    with call.sim.world.lock:
        draft = drafts.find(call.sim, call.shop, draft_id)
        drafts.add_item(call.sim, draft, body)
        answer = draft_json(call, draft)
    return await call.respond(answer, effect="draft_item_added", hal=True)


@router.delete("/draft-returns/{draft_id}/returning-items/{item_id}")
async def remove_item(version: str, draft_id: int, item_id: int, request: Request) -> Response:
    call = await admit(request, version, "removeDraftLineItem")
    with call.sim.world.lock:
        draft = drafts.find(call.sim, call.shop, draft_id)
        drafts.remove_item(draft, item_id)
        answer = draft_json(call, draft)
    return await call.respond(answer, hal=True)


@router.post("/draft-returns/{draft_id}/submit")
async def submit(version: str, draft_id: int, request: Request) -> Response:
    """Submit: the draft, ``submitted`` with its ``return_id``; again: the same answer."""
    call = await admit(request, version, "submitDraftReturn")
    with call.sim.world.lock:
        draft = drafts.find(call.sim, call.shop, draft_id)
        created = drafts.submit(call.sim, call.shop, draft)
        answer = draft_json(call, draft)
    return await call.respond(answer, effect="return_created" if created else None, hal=True)
