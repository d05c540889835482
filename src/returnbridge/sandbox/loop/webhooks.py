"""Outgoing webhooks: ``X-Loop-Signature`` = base64(HMAC-SHA256(secret, raw body)) [docs].

Bodies are compact JSON with slashes escaped (``\\/``), as Loop's PHP encoder writes them:
a receiver must verify the raw bytes, never re-encoded JSON. Every delivery is recorded;
while a shop's ``drop_webhooks`` count lasts, deliveries are recorded as dropped and not sent.
Sending is one POST from a thread, no retries [assumption: Loop's retry policy is not
documented].
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from typing import Any

import httpx

from returnbridge.sandbox.loop.simulator import Simulator
from returnbridge.sandbox.loop.state import Delivery, LoopReturn
from returnbridge.sandbox.loop.views import return_json

CREATED = "return.created"
UPDATED = "return.updated"
CLOSED = "return.closed"
PROCESSING_FAILED = "return.processing.failed"
TOPICS = {PROCESSING_FAILED: "return.processing"}
"""A trigger's topic when it is not ``return``."""


def sign(secret: str, body: bytes) -> str:
    """The ``X-Loop-Signature`` of ``body``."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def encode(payload: dict[str, Any]) -> bytes:
    """Compact JSON, slashes escaped."""
    return json.dumps(payload, separators=(",", ":")).replace("/", "\\/").encode()


def payload(
    sim: Simulator, r: LoopReturn, trigger: str, message: str | None = None
) -> dict[str, Any]:
    """The Return topic's body: topic, trigger, shop id, the return's fields [docs]."""
    shop = sim.world.shops[r.shop]
    body = {"topic": TOPICS.get(trigger, "return"), "trigger": trigger, "shop_id": shop.shop_id}
    body |= return_json(sim, r)
    body["edited_at"] = body["updated_at"]
    if trigger == PROCESSING_FAILED:
        body["message"] = message
    return body


def emit(sim: Simulator, r: LoopReturn, trigger: str, message: str | None = None) -> None:
    """Record (and send, unless dropped) ``trigger`` for ``r`` to every subscribed endpoint.

    The caller holds the world's lock."""
    world = sim.world
    shop = world.shops[r.shop]
    body = encode(payload(sim, r, trigger, message))
    for hook in shop.webhooks:
        if not hook.wants(trigger):
            continue
        dropped = shop.drop_webhooks > 0
        shop.drop_webhooks -= 1 if dropped else 0
        delivery = Delivery(
            id=world.next_small_id(),
            shop=shop.name,
            webhook_id=hook.id,
            trigger=trigger,
            return_id=r.id,
            url=hook.url,
            body=body,
            signature=sign(hook.secret, body),
            dropped=dropped,
            at=sim.clock(),
        )
        world.deliveries.append(delivery)
        if not dropped:
            sim.sender(delivery)


def post_in_thread(delivery: Delivery) -> None:
    """The default sender: one POST of the raw body from a daemon thread."""

    def post() -> None:
        delivery.attempts += 1
        try:
            response = httpx.post(
                delivery.url,
                content=delivery.body,
                headers={
                    "Content-Type": "application/json",
                    "X-Loop-Signature": delivery.signature,
                },
                timeout=10,
            )
            delivery.status_code, delivery.error = response.status_code, None
        except httpx.HTTPError as error:
            delivery.error = type(error).__name__

    threading.Thread(target=post, name="loop-sandbox-webhook", daemon=True).start()


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    """A delivery as the control surface shows it (``raw_body`` is what was signed)."""
    return {
        "id": delivery.id,
        "webhook_id": delivery.webhook_id,
        "trigger": delivery.trigger,
        "return_id": delivery.return_id,
        "url": delivery.url,
        "dropped": delivery.dropped,
        "attempts": delivery.attempts,
        "status_code": delivery.status_code,
        "error": delivery.error,
        "signature": delivery.signature,
        "raw_body": delivery.body.decode(),
        "body": json.loads(delivery.body),
    }
