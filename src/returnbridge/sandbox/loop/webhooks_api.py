"""Programmatic webhooks [spec3p]: ``GET``/``POST /webhooks``, ``PUT``/``DELETE
/webhooks/{id}``, with an API key. A subscription is one ``topic`` + ``trigger`` + ``url``;
``status`` defaults to ``inactive`` (as the reconstruction says), and only active ones are
sent. Deliveries are signed with the shop's webhook secret (Developer Tools shows one)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from returnbridge.sandbox.loop.errors import ApiError, not_found
from returnbridge.sandbox.loop.gateway import API_PREFIX, Call, admit
from returnbridge.sandbox.loop.state import Shop, Webhook

router = APIRouter(prefix=API_PREFIX)
TOPICS = frozenset({"return", "return.processing", "label", "restock", "label.request"})
TRIGGERS = frozenset(
    {"return.created", "return.updated", "return.closed", "return.processing.failed"}
    | {"label.created", "label.updated", "restock.requested", "giftcard.requested"}
)


def webhook_json(shop: Shop, hook: Webhook) -> dict[str, Any]:
    trigger = None if hook.triggers is None else ",".join(sorted(hook.triggers))
    return {
        "id": hook.id,
        "shop_id": shop.shop_id,
        "topic": hook.topic,
        "trigger": trigger,
        "url": hook.url,
        "status": hook.status,
    }


def _fields(body: dict[str, Any]) -> tuple[str, str, str, str | None]:
    topic, trigger, url = body.get("topic"), body.get("trigger"), body.get("url")
    status = body.get("status")
    problems = {
        "topic": topic not in TOPICS,
        "trigger": trigger not in TRIGGERS,
        "url": not isinstance(url, str) or not url.startswith(("http://", "https://")),
        "status": status not in (None, "active", "inactive"),
    }
    bad = [name for name, wrong in problems.items() if wrong]
    if bad:
        raise ApiError(422, {"errors": {name: [f"The {name} is invalid."] for name in bad}})
    return str(topic), str(trigger), str(url), status


def _find(call: Call, webhook_id: int) -> Webhook:
    found = next((h for h in call.shop.webhooks if h.id == webhook_id), None)
    if found is None:
        raise not_found("Webhook")
    return found


@router.get("/webhooks")
async def list_webhooks(version: str, request: Request) -> Response:
    call = await admit(request, version, "getWebhooks")
    with call.sim.world.lock:
        listed = [webhook_json(call.shop, h) for h in call.shop.webhooks]
    return await call.respond({"webhooks": listed})


@router.post("/webhooks")
async def create_webhook(version: str, request: Request) -> Response:
    """``{topic, trigger, url, status?}`` -> the subscription."""
    call = await admit(request, version, "createWebhook")
    topic, trigger, url, status = _fields(await call.body())
    with call.sim.world.lock:
        hook = Webhook(
            call.sim.world.next_small_id(),
            url,
            call.shop.webhook_secret,
            topic,
            frozenset({trigger}),
            "active" if status == "active" else "inactive",
        )
        call.shop.webhooks.append(hook)
        answer = webhook_json(call.shop, hook)
    return await call.respond(answer, effect="webhook_created")


@router.put("/webhooks/{webhook_id}")
async def update_webhook(version: str, webhook_id: int, request: Request) -> Response:
    call = await admit(request, version, "updateWebhook")
    topic, trigger, url, status = _fields(await call.body())
    with call.sim.world.lock:
        hook = _find(call, webhook_id)
        hook.topic, hook.triggers, hook.url = topic, frozenset({trigger}), url
        if status is not None:
            hook.status = "active" if status == "active" else "inactive"
    await call.respond(None, effect="webhook_updated", status=204)
    return Response(status_code=204)


@router.delete("/webhooks/{webhook_id}")
async def delete_webhook(version: str, webhook_id: int, request: Request) -> Response:
    call = await admit(request, version, "deleteWebhook")
    with call.sim.world.lock:
        hook = _find(call, webhook_id)
        call.shop.webhooks.remove(hook)
    await call.respond(None, effect="webhook_deleted", status=204)
    return Response(status_code=204)
