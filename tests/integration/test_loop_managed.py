"""A Loop merchant's returns, end to end on SQLite and PostgreSQL: the Shopify sandbox holds
the order, the Loop sandbox the return. returnbridge opens, processes (or closes) the return
in Loop, follows Loop's signed webhook (or the poll, when the webhook never comes), and
never refunds in Shopify itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from returnbridge.cli.demo_outbound import loop_order_seed
from returnbridge.connectors.loop.webhooks import signature
from returnbridge.sandbox.loop import BackgroundServer as LoopServer
from returnbridge.store.connections import create_connection, update_connection
from support.gateway import Gateway, Sandbox, gateway_settings, simple_order

pytestmark = pytest.mark.timeout(180)

LOOP_KEY = "loop-key-acme"
LOOP_SECRET = "loop-webhook-secret"


class Loop:
    """The Loop sandbox's control surface for the merchant's shop."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=10)
        self.http.post(
            "/_sandbox/shops",
            json={"name": "acme", "api_key": LOOP_KEY, "auto_process_seconds": 1.0},
        ).raise_for_status()

    def seed_like(self, shopify_order: dict[str, Any]) -> None:
        """The order as Loop knows it from Shopify: same name, ids, amounts."""
        self.http.post(
            "/_sandbox/shops/acme/orders", json=loop_order_seed(shopify_order)
        ).raise_for_status()

    def returns(self) -> list[dict[str, Any]]:
        body: list[dict[str, Any]] = self.http.get("/_sandbox/shops/acme/returns").json()
        return body

    def journal(self, operation: str) -> list[dict[str, Any]]:
        body: list[dict[str, Any]] = self.http.get(
            "/_sandbox/journal", params={"operation": operation}
        ).json()
        return body

    def deliveries(self) -> list[dict[str, Any]]:
        body: list[dict[str, Any]] = self.http.get("/_sandbox/shops/acme/webhook_deliveries").json()
        return body


@pytest.fixture
def loop() -> Iterator[Loop]:
    with LoopServer() as server:
        yield Loop(server.url)


def _connect_loop(gateway: Gateway, loop: Loop, *, unavailable: bool = False) -> str:
    """The tenant's Loop connection, its store connection pointed at it, Loop's webhook
    pointed at the gateway; the Loop connection's id."""
    with gateway.runtime.sessions.begin() as session:
        connection = create_connection(
            session,
            gateway.tenant_id,
            platform="loop",
            name="loop",
            base_url=loop.url,
            credentials={"api_key": LOOP_KEY, "webhook_secret": LOOP_SECRET},
            cipher=gateway.runtime.cipher,
            settings={},
        )
        update_connection(
            session,
            gateway.connection_id,
            tenant_id=gateway.tenant_id,
            settings={
                "restock_location_id": "gid://shopify/Location/2",
                "returns_system": connection.id,
            },
        )
    hook = f"{gateway.server.url}/v1/webhooks/loop/{connection.id}"
    loop.http.post(
        "/_sandbox/shops/acme/webhooks", json={"url": hook, "secret": LOOP_SECRET}
    ).raise_for_status()
    return connection.id


@pytest.fixture
def poll_seconds() -> float:
    """How often the gateway polls Loop: rarely, unless a test is about the poll."""
    return 60.0


@pytest.fixture
def gateway(
    db_url: str, tmp_path: Path, sandbox: Sandbox, loop: Loop, poll_seconds: float
) -> Iterator[Gateway]:
    settings = gateway_settings(db_url, tmp_path, returns_system_poll_seconds=poll_seconds)
    running = Gateway(settings, sandbox)
    _connect_loop(running, loop)
    yield running
    running.close()


def _closed_by(body: dict[str, Any]) -> set[str]:
    """Who reported Loop's closing of the return (the webhook, the poll): whichever came
    first resumed the waiting return or, arriving before it waited, let the sync step go on."""
    return {
        str(e["actor"])
        for e in body["timeline"]
        if e["event"] == "returns_system_updated" and e["data"].get("state") == "closed"
    }


def _order(sandbox: Sandbox, loop: Loop, order_id: int) -> None:
    sandbox.seed_order(simple_order(order_id))
    loop.seed_like(sandbox.order(order_id))


def _event(order_id: int, external_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "order": {"platform_order_id": f"gid://shopify/Order/{order_id}"},
        "lines": [{"sku": "MUG-WHT", "quantity": 3, "reason": "chipped"}],
        **extra,
    }


def _events(body: dict[str, Any]) -> list[str]:
    return [e["event"] for e in body["timeline"]]


def test_a_loop_return_is_opened_processed_and_followed_by_webhook_without_our_refund(
    gateway: Gateway, sandbox: Sandbox, loop: Loop
) -> None:
    _order(sandbox, loop, 6101)
    body = gateway.wait_for_status(
        gateway.post_return(_event(6101, "LOOP-1")).json()["return"]["id"], "completed"
    )

    [loop_return] = loop.returns()
    assert loop_return["state"] == "closed"
    # 3 x 12.00 - 5.00 discount + 1.55 tax: what Loop refunded, and what we planned
    assert loop_return["refund"] == "32.55"
    assert body["refund_total"]["amount"] == "32.55"
    assert sandbox.refunds_created() == []  # Loop refunds in Shopify, returnbridge does not
    events = _events(body)
    for expected in (
        "returns_system_opened",
        "returns_system_requested",
        "awaiting_returns_system",
        "returns_system_updated",
        "returns_system_settled",
        "completed",
    ):
        assert expected in events
    assert _closed_by(body) == {"loop webhook"}
    assert len(loop.journal("submitDraftReturn")) == 1
    assert len(loop.journal("processReturn")) == 1
    skipped = [e["reason"] for e in body["timeline"] if e["event"] == "step_skipped"]
    assert "Loop Returns refunds when it processes the return" in skipped


@pytest.mark.parametrize("poll_seconds", [0.5])
def test_a_missed_loop_webhook_is_caught_by_the_poll(
    gateway: Gateway, sandbox: Sandbox, loop: Loop
) -> None:
    loop.http.post("/_sandbox/shops/acme/drop_webhooks", json={"count": 10})
    _order(sandbox, loop, 6102)
    body = gateway.wait_for_status(
        gateway.post_return(_event(6102, "LOOP-2")).json()["return"]["id"], "completed"
    )

    assert all(d["dropped"] for d in loop.deliveries())
    assert {d["trigger"] for d in loop.deliveries()} >= {"return.created", "return.closed"}
    assert _closed_by(body) == {"poll"}
    assert sandbox.refunds_created() == []
    assert body["refund_total"]["amount"] == "32.55"


def test_goods_without_money_close_the_loop_return(
    gateway: Gateway, sandbox: Sandbox, loop: Loop
) -> None:
    _order(sandbox, loop, 6103)
    event = _event(6103, "LOOP-3", refund={"issue": False})
    body = gateway.wait_for_status(gateway.post_return(event).json()["return"]["id"], "completed")

    [loop_return] = loop.returns()
    assert (loop_return["state"], loop_return["refund"]) == ("closed", "0.00")
    assert loop.journal("processReturn") == []
    assert len(loop.journal("closeReturn")) == 1
    [requested] = [e for e in body["timeline"] if e["event"] == "returns_system_requested"]
    assert requested["data"]["action"] == "close"
    assert sandbox.refunds_created() == []


def test_an_order_no_loop_policy_covers_goes_to_review_in_our_words(
    db_url: str, tmp_path: Path, sandbox: Sandbox, loop: Loop
) -> None:
    loop.http.post(
        "/_sandbox/shops",
        json={"name": "acme", "api_key": LOOP_KEY, "unavailable_orders": ["#6104"]},
    ).raise_for_status()
    running = Gateway(gateway_settings(db_url, tmp_path), sandbox)
    try:
        _connect_loop(running, loop)
        _order(sandbox, loop, 6104)
        body = running.wait_for(running.post_return(_event(6104, "LOOP-4")).json()["return"]["id"])
        assert body["status"] == "needs_review"
        parked = body["timeline"][-1]
        assert parked["event"] == "sync_needs_review"
        assert "Loop has no return policy covering this order" in parked["reason"]
        assert loop.returns() == []
        assert sandbox.refunds_created() == []
    finally:
        running.close()


def test_a_forged_loop_webhook_is_refused_and_changes_nothing(
    gateway: Gateway, sandbox: Sandbox, loop: Loop
) -> None:
    with gateway.runtime.reads() as session:
        from returnbridge.store.connections import list_connections

        [connection] = list_connections(session, gateway.tenant_id, platform="loop")
    url = f"{gateway.server.url}/v1/webhooks/loop/{connection.id}"
    body = b'{"topic":"return","trigger":"return.closed","id":1,"state":"closed"}'
    forged = httpx.post(url, content=body, headers={"X-Loop-Signature": signature(body, "nope")})
    assert forged.status_code == 401
    assert forged.json()["code"] == "INVALID_SIGNATURE"
    unsigned = httpx.post(url, content=body)
    assert unsigned.status_code == 401
    genuine = httpx.post(
        url, content=body, headers={"X-Loop-Signature": signature(body, LOOP_SECRET)}
    )
    assert genuine.status_code == 200
    assert genuine.json()["outcome"] == "unknown"  # a Loop return we never opened
