"""The demo's other ways in: a polled vendor helpdesk, and a signed push through a mapping.

Besides the sample returns posted to `POST /v1/returns`, the demo starts the vendor helpdesk
sandbox, creates a poll source on it and syncs it once (its record becomes a return), then
creates a push source with a social-message mapping and delivers one signed, vendor-native
message. That message asks for a return (`requested`), so it waits in `needs_review` until the
demo approves it through the review queue, as a person would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from returnbridge.cli.demo_scenarios import Sample

POLLED_RECORD: dict[str, Any] = {
    "order_number": "#1012",
    "customer": {"email": "customer1012@example.com"},
    "items": [{"sku": "SKU-1012", "qty": 1}],
    "reason": "too small",
}
"""A record in the vendor's helpdesk, for a seeded order (see `demo_scenarios.orders`)."""
POLLED_REFUND = "21.49"  # one of two units at 19.90 with 1.59 tax each, no shipping

SOCIAL_MAPPING = """\
# A return asked for in a direct message, with the order number and items extracted.
name: demo-social-message
fields:
  external_id: "join(':', [platform, message.mid])"
  channel: {const: social}
  status:
    expr: capture.intent
    transform: status
    table: {return: requested, cancel_return: cancelled}
  order.order_number: "join('', ['#', capture.order_number])"
  customer_note: message.text
  metadata.social_handle: sender.username
lines:
  each: capture.items
  fields:
    sku: sku
    quantity: {expr: quantity, transform: integer}
    reason: {const: customer message}
"""

SOCIAL_MESSAGE: dict[str, Any] = {
    "platform": "instagram",
    "sender": {"username": "dana.reyes"},
    "message": {
        "mid": "demo-1014",
        "text": "The item from order 1014 is too big, can I return it?",
    },
    "capture": {
        "intent": "return",
        "order_number": "1014",
        "items": [{"sku": "SKU-1014", "quantity": 1}],
    },
}

PUSHED_REFUND = "21.49"  # the order's one unit at 19.90 with 1.59 tax


@dataclass
class Arrival:
    """A return that came in another way than `POST /v1/returns`, as the demo tracks it."""

    sample: Sample
    return_id: str
    body: dict[str, Any]


@dataclass
class WaysIn:
    arrivals: list[Arrival]
    stop: Callable[[], None]


def _sample(label: str, body: dict[str, Any], refund: str) -> Sample:
    event = {"external_id": body["external_id"], "channel": body["channel"]}
    return Sample(label, event, "completed", refund)


def _polled(api: httpx.Client) -> tuple[Arrival, Callable[[], None]]:
    from returnbridge.cli.sources_cmd import poll_example

    poll = poll_example(api, name="demo-helpdesk", records=[POLLED_RECORD])
    outcome = (poll.source.get("last_run") or {}).get("outcome")
    if outcome != "succeeded":
        poll.stop()
        raise RuntimeError(f"the demo's poll source did not sync: {poll.source.get('last_error')}")
    page = api.get("/v1/returns", params={"limit": 200}).json()
    polled = [r for r in page["items"] if r["source"] == "poll"]
    if len(polled) != 1:
        poll.stop()
        raise RuntimeError(f"the demo's poll source stored {len(polled)} returns, expected 1")
    return Arrival(
        _sample("polled helpdesk", polled[0], POLLED_REFUND), polled[0]["id"], polled[0]
    ), poll.stop


def _wait_status(api: httpx.Client, return_id: str, status: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = api.get(f"/v1/returns/{return_id}").json()
        if body["status"] == status or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def _pushed(api: httpx.Client) -> Arrival:
    from returnbridge.cli.push_cmd import push_example

    payload = json.dumps(SOCIAL_MESSAGE).encode()
    answer = push_example(api, name="demo-instagram", payload=payload, mapping=SOCIAL_MAPPING)
    if answer.status_code != 202:
        raise RuntimeError(f"the demo's signed push was refused: {answer.text[:300]}")
    body = answer.json()["return"]
    waiting = _wait_status(api, body["id"], "needs_review", timeout=30)
    approved = api.post(f"/v1/returns/{body['id']}/approve", json={"reason": "demo: approved"})
    if approved.status_code != 202:
        raise RuntimeError(
            f"approving the pushed return ({waiting['status']}) failed: {approved.text[:300]}"
        )
    return Arrival(
        _sample("signed push, mapped, approved", body, PUSHED_REFUND), body["id"], approved.json()
    )


def bring_in(api: httpx.Client) -> WaysIn:
    """Poll the vendor sandbox and deliver a signed push; the caller tracks both returns."""
    polled, stop_vendor = _polled(api)
    try:
        pushed = _pushed(api)
    except BaseException:
        stop_vendor()
        raise
    return WaysIn([polled, pushed], stop_vendor)
