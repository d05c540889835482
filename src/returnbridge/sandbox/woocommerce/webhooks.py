"""Webhook deliveries after a refund: ``order.updated`` and ``action.woocommerce_order_refunded``.

Sent in the background like WooCommerce does, one POST per active webhook, signed with
``X-WC-Webhook-Signature`` = base64(HMAC-SHA256(raw body, secret)). Five consecutive failures
disable a webhook. The creation ping is not sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Literal

from returnbridge.sandbox.woocommerce.state import Order, Store
from returnbridge.sandbox.woocommerce.views import order_json

Topic = Literal["order.updated", "action.woocommerce_order_refunded"]
MAX_FAILURES = 5
USER_AGENT = "WooCommerce/9.0.0 Hookshot (WordPress/6.5)"
DELIVERY_TIMEOUT = 5.0


@dataclass
class Webhook:
    """A subscription of a store."""

    id: int
    topic: Topic
    delivery_url: str
    secret: str
    status: Literal["active", "paused", "disabled"] = "active"
    failures: int = 0


@dataclass
class Delivery:
    """One attempt to deliver an event."""

    id: int
    webhook_id: int
    topic: Topic
    http_status: int | None
    error: str | None


@dataclass
class Subscriptions:
    """A store's webhooks and their delivery log."""

    webhooks: list[Webhook] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)


def sign(body: bytes, secret: str) -> str:
    """``X-WC-Webhook-Signature``."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _payload(topic: Topic, order: Order) -> dict[str, Any]:
    if topic == "order.updated":
        return order_json(order)
    return {"action": "woocommerce_order_refunded", "arg": order.id}


@dataclass(frozen=True)
class _Message:
    webhook: Webhook
    delivery_id: int
    body: bytes
    headers: dict[str, str]


class WebhookSender:
    """Builds messages under the world lock and posts them from background threads."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._ids = itertools.count(1)
        self._threads: list[threading.Thread] = []

    def order_refunded(self, store: Store, subscriptions: Subscriptions, order: Order) -> None:
        """Queue the events a refund fires (call under the world lock)."""
        for webhook in subscriptions.webhooks:
            if webhook.status != "active":
                continue
            body = json.dumps(_payload(webhook.topic, order)).encode()
            resource, _, event = webhook.topic.partition(".")
            delivery_id = next(self._ids)
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "X-WC-Webhook-Source": f"https://{store.name}/",
                "X-WC-Webhook-Topic": webhook.topic,
                "X-WC-Webhook-Resource": resource,
                "X-WC-Webhook-Event": event,
                "X-WC-Webhook-Signature": sign(body, webhook.secret),
                "X-WC-Webhook-ID": str(webhook.id),
                "X-WC-Webhook-Delivery-ID": str(delivery_id),
            }
            message = _Message(webhook, delivery_id, body, headers)
            thread = threading.Thread(target=self._send, args=(subscriptions, message), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _send(self, subscriptions: Subscriptions, message: _Message) -> None:
        request = urllib.request.Request(  # noqa: S310 - delivery URLs are set by the tester
            message.webhook.delivery_url, data=message.body, headers=message.headers, method="POST"
        )
        status: int | None = None
        error: str | None = None
        try:
            with urllib.request.urlopen(request, timeout=DELIVERY_TIMEOUT) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (urllib.error.URLError, OSError) as exc:
            error = str(exc)
        with self._lock:
            webhook = message.webhook
            ok = status is not None and 200 <= status < 300
            webhook.failures = 0 if ok else webhook.failures + 1
            if webhook.failures >= MAX_FAILURES:
                webhook.status = "disabled"
            subscriptions.deliveries.append(
                Delivery(message.delivery_id, webhook.id, webhook.topic, status, error)
            )
