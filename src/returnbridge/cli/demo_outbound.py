"""The demo's ways out: the customers' emails, the vendor's callbacks and a Loop merchant.

- A local SMTP server (aiosmtpd) stands in for the merchants' mail servers: each message it
  receives is written to `<data dir>/emails/` as an `.eml` file with its HTML part beside
  it, and `index.html` there lists them.
- A local endpoint stands in for the vendor: it verifies every callback's Standard Webhooks
  signature with the subscription's secret and counts them per return.
- "Loop Outfitters" runs Loop Returns: its Shopify store (in the Shopify sandbox) and its
  Loop account (in the Loop sandbox) hold the same orders; its returns are opened and
  processed in Loop, which refunds; returnbridge makes no refund in Shopify for them.
"""

from __future__ import annotations

import email
import html
import itertools
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from returnbridge.cli.demo_scenarios import Sample
from returnbridge.engine.runtime import Runtime
from returnbridge.standard_webhooks import SignatureError, verify
from returnbridge.store.connections import create_connection
from returnbridge.store.tenants import create_tenant

LOOP_SHOP = "loop-outfitters.myshopify.com"
LOOP_TOKEN = "shpat_loop_demo_000000000000000000"  # noqa: S105 - sandbox-only token
LOOP_KEY = "loop_demo_api_key"
LOOP_WEBHOOK_SECRET = "loop_demo_webhook_secret"  # noqa: S105 - sandbox-only secret


class MailCatcher:
    """An SMTP server on loopback that files every message it gets under `folder`."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        folder.mkdir(parents=True, exist_ok=True)
        self._controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            number = next(self._numbers)
            (self.folder / f"{number:03d}.eml").write_bytes(envelope.content)
            part = message.get_body(("html",))
            if part is not None:
                (self.folder / f"{number:03d}.html").write_text(str(part.get_content()))
            self.messages.append(message)
            self._write_index()
        return "250 OK"

    def _write_index(self) -> None:
        rows = "\n".join(
            f"<tr><td>{n:03d}</td><td>{html.escape(str(m['To']))}</td>"
            f"<td><a href='{n:03d}.html'>{html.escape(str(m['Subject']))}</a></td>"
            f"<td><a href='{n:03d}.eml'>.eml</a></td></tr>"
            for n, m in enumerate(self.messages, start=1)
        )
        (self.folder / "index.html").write_text(
            "<!DOCTYPE html><meta charset='utf-8'><title>returnbridge demo: emails sent</title>"
            "<h1>Emails the demo sent</h1><table border='1' cellpadding='6'>"
            f"<tr><th>#</th><th>to</th><th>subject</th><th>file</th></tr>{rows}</table>"
        )

    def settings(self, shop: str) -> dict[str, Any]:
        """A body for `PUT /v1/email/settings` sending through this server."""
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "security": "none",
            "from_address": "returns@demo.example",
            "from_name": shop,
            "reply_to": "help@demo.example",
            "primary_colour": "#0b6e4f",
        }

    def start(self) -> MailCatcher:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


@dataclass
class CallbackCatcher:
    """The vendor's endpoint: verifies each callback and counts them per return."""

    secrets: list[str] = field(default_factory=list)
    received: Counter[str] = field(default_factory=Counter)
    types: dict[str, list[str]] = field(default_factory=dict)
    forged: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, headers: dict[str, str], body: bytes) -> int:
        try:
            verify(body, headers, secrets=self.secrets, now=datetime.now(UTC))
        except SignatureError:
            with self._lock:
                self.forged += 1
            return 401
        payload = json.loads(body)
        return_id = str(payload["data"]["return_id"])
        with self._lock:
            self.received[return_id] += 1
            self.types.setdefault(return_id, []).append(payload["type"])
        return 204

    def serve(self, port: int) -> ThreadingHTTPServer:
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                self.send_response(catcher.take(headers, body))
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


def _loop_orders() -> list[dict[str, Any]]:
    def line(sku: str, title: str, quantity: int, price: str, tax: str) -> dict[str, Any]:
        return {
            "sku": sku,
            "title": title,
            "quantity": quantity,
            "price": price,
            "tax_lines": [{"title": "VAT", "rate": "0.19", "price": tax}],
        }

    return [
        {
            "id": 7001,
            "name": "#7001",
            "email": "lena@example.de",
            "line_items": [line("SCARF-WOOL", "Wool scarf", 2, "25.00", "9.50")],
        },
        {
            "id": 7002,
            "name": "#7002",
            "email": "luc@example.fr",
            "line_items": [line("BOOT-42", "Rain boots 42", 1, "60.00", "11.40")],
        },
    ]


def loop_samples() -> list[Sample]:
    """The Loop merchant's returns: Loop refunds the first; the second is goods only."""
    return [
        Sample(
            "Loop-managed refund",
            {
                "external_id": "LOOP-9001",
                "channel": "email",
                "reason": "too warm",
                "customer_locale": "de-DE",
                "order": {"platform_order_id": "gid://shopify/Order/7001"},
                "lines": [{"sku": "SCARF-WOOL", "quantity": 2, "reason": "too warm"}],
            },
            "completed",
            "59.50",
            extra={"platform_refund": False, "managed_by": "loop"},
        ),
        Sample(
            "Loop-managed, goods only",
            {
                "external_id": "LOOP-9002",
                "channel": "chat",
                "reason": "exchanged in store",
                "customer_locale": "fr-FR",
                "order": {"platform_order_id": "gid://shopify/Order/7002"},
                "lines": [{"sku": "BOOT-42", "quantity": 1}],
                "refund": {"issue": False},
            },
            "completed",
            "0.00",
            extra={"platform_refund": False, "managed_by": "loop"},
        ),
    ]


def loop_order_seed(shopify_order: dict[str, Any]) -> dict[str, Any]:
    """The Loop sandbox's seed of an order as the Shopify sandbox holds it (Loop reads the
    merchant's Shopify orders: same name, ids and amounts)."""
    return {
        "name": shopify_order["name"],
        "provider_order_id": shopify_order["id"],
        "email": shopify_order["email"],
        "currency": shopify_order["currency"],
        "line_items": [
            {
                "id": line["id"],
                "sku": line["sku"],
                "title": line["title"],
                "quantity": line["quantity"],
                "price": line["price"]["shop"],
                "tax": line["tax"]["shop"],
                "discount": line["discount"]["shop"],
            }
            for line in shopify_order["line_items"]
        ],
    }


def seed_loop_merchant(runtime: Runtime, shopify_url: str, loop_url: str) -> tuple[str, str, str]:
    """Loop Outfitters: its Shopify shop and Loop account seeded with the same orders, a
    tenant with both connections; (tenant id, API key, Loop connection id)."""
    with httpx.Client(base_url=shopify_url, timeout=10) as shopify:
        shopify.post(
            "/_sandbox/shops",
            json={
                "domain": LOOP_SHOP,
                "access_token": LOOP_TOKEN,
                "currency": "EUR",
                "locations": [{"id": 1, "name": "Berlin", "active": True}],
            },
        ).raise_for_status()
        seeded = []
        for order in _loop_orders():
            shopify.post(f"/_sandbox/shops/{LOOP_SHOP}/orders", json=order).raise_for_status()
            seeded.append(shopify.get(f"/_sandbox/shops/{LOOP_SHOP}/orders/{order['id']}").json())
    with httpx.Client(base_url=loop_url, timeout=10) as loop:
        loop.post(
            "/_sandbox/shops",
            json={"name": "loop-outfitters", "api_key": LOOP_KEY, "currency": "EUR"},
        ).raise_for_status()
        for order in seeded:
            loop.post(
                "/_sandbox/shops/loop-outfitters/orders", json=loop_order_seed(order)
            ).raise_for_status()
    with runtime.sessions.begin() as session:
        tenant, api_key = create_tenant(session, "Loop Outfitters")
        loop_connection = create_connection(
            session,
            tenant.id,
            platform="loop",
            name="loop",
            base_url=loop_url,
            credentials={"api_key": LOOP_KEY, "webhook_secret": LOOP_WEBHOOK_SECRET},
            cipher=runtime.cipher,
            settings={},
        )
        create_connection(
            session,
            tenant.id,
            platform="shopify",
            name="loop-outfitters",
            base_url=shopify_url,
            credentials={"access_token": LOOP_TOKEN},
            cipher=runtime.cipher,
            settings={
                "restock_location_id": "gid://shopify/Location/1",
                "returns_system": loop_connection.id,
            },
        )
    return tenant.id, api_key, loop_connection.id


def point_loop_webhooks(loop_url: str, gateway_url: str, connection_id: str) -> None:
    with httpx.Client(base_url=loop_url, timeout=10) as loop:
        loop.post(
            "/_sandbox/shops/loop-outfitters/webhooks",
            json={
                "url": f"{gateway_url}/v1/webhooks/loop/{connection_id}",
                "secret": LOOP_WEBHOOK_SECRET,
            },
        ).raise_for_status()


def loop_closed(loop_url: str) -> dict[str, str]:
    """Loop's return states by order name, as the Loop sandbox holds them."""
    rows = httpx.get(f"{loop_url}/_sandbox/shops/loop-outfitters/returns", timeout=10).json()
    return {str(row["order_name"]): str(row["state"]) for row in rows}


def report(
    console: Any,
    *,
    mail: MailCatcher,
    catcher: CallbackCatcher,
    subscribed: list[Any],
    loop_url: str,
    shopify_url: str,
    wait: float = 15.0,
) -> list[str]:
    """Show the emails, callbacks and Loop returns; what is not as it should be, in words."""
    import time

    resting = [
        item
        for merchant in subscribed
        for item in merchant.tracked
        if item.return_id and item.resting and not item.error
    ]
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and any(
        f"return.{item.status}" not in catcher.types.get(item.return_id, []) for item in resting
    ):
        time.sleep(0.2)
    problems: list[str] = []
    sent = 0
    for merchant in subscribed:
        log = merchant.api.get("/v1/email/deliveries", params={"limit": 500}).json()["items"]
        by_return: dict[str, list[dict[str, Any]]] = {}
        for delivery in log:
            by_return.setdefault(delivery["return_id"], []).append(delivery)
        sent += sum(d["status"] == "sent" for d in log)
        for item in merchant.tracked:
            if item.status != "completed" or not item.return_id or item.duplicate:
                continue
            mine = by_return.get(item.return_id, [])
            if [d["status"] for d in mine] != ["sent"]:
                name = item.sample.event["external_id"]
                problems.append(f"{name}: emails {[d['status'] for d in mine]}, expected one sent")
    if sent != len(mail.messages):
        problems.append(f"{sent} emails recorded as sent, {len(mail.messages)} received")
    missing = [
        item.sample.event["external_id"]
        for item in resting
        if f"return.{item.status}" not in catcher.types.get(item.return_id or "", [])
    ]
    if missing:
        problems.append(f"no callback for the final status of {missing}")
    if catcher.forged:
        problems.append(f"{catcher.forged} callbacks failed signature verification")
    states = loop_closed(loop_url)
    if sorted(states.values()) != ["closed", "closed"]:
        problems.append(f"Loop returns: {states}, expected two closed")
    journal = httpx.get(f"{shopify_url}/_sandbox/journal", params={"shop": LOOP_SHOP}, timeout=10)
    ours = [e for e in journal.json() if e.get("effect") == "refund_created"]
    if ours:
        problems.append(f"returnbridge refunded {len(ours)} Loop-managed returns in Shopify")
    locales = ", ".join(sorted({str(m["Content-Language"] or "en") for m in mail.messages}))
    console.print(
        f"emails: {len(mail.messages)} sent through the local SMTP server (locales: {locales}),"
        " one per completed return of the two tenants with email set up; open"
        f" {mail.folder / 'index.html'} (the .eml files are beside it)"
    )
    console.print(
        f"callbacks: {sum(catcher.received.values())} received by the vendor endpoint for"
        f" {len(catcher.received)} returns, every signature verified ({catcher.forged} refused)"
    )
    console.print(
        f"Loop Returns: {len(states)} returns in Loop ({', '.join(sorted(set(states.values())))}),"
        f" refunded by Loop; {len(ours)} refunds by returnbridge in Shopify for them"
    )
    return problems
