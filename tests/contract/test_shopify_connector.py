"""The Shopify connector against the Shopify sandbox served over real HTTP on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn

from returnbridge.connectors.base.conformance import (
    ConformanceCase,
    ConnectorConformance,
    WebhookCase,
)
from returnbridge.connectors.base.connector import (
    OrderQuery,
    RefundCommand,
    RefundLineCommand,
    TenderCommand,
)
from returnbridge.connectors.shopify import webhooks
from returnbridge.connectors.shopify.connector import ShopifyConnector
from returnbridge.connectors.shopify.limits import CostLimiter
from returnbridge.domain.errors import (
    AuthError,
    NotFound,
    PermanentError,
    Rejected,
    TransientError,
)
from returnbridge.sandbox.shopify.app import create_app
from support.control import ControlSurface

DOMAIN = "demo.myshopify.com"
TOKEN = "shpat_contract_test_token"
LOCATION = "gid://shopify/Location/1"
_START_TIMEOUT = 10.0


@dataclass(frozen=True)
class Server:
    url: str


@pytest.fixture(scope="module")
def shopify_connector_server() -> Iterator[Server]:
    """The sandbox in a uvicorn server on a free loopback port, served from a thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(), log_level="warning", lifespan="off", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT
    while not server.started:  # a real server must start: bounded poll
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the Shopify sandbox did not start")
        time.sleep(0.01)
    yield Server(f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(timeout=_START_TIMEOUT)
    sock.close()


class Sandbox(ControlSurface):
    """The `/_sandbox` control surface."""

    def seed_order(self, payload: dict[str, Any]) -> dict[str, Any]:
        order: dict[str, Any] = self.post(f"/_sandbox/shops/{DOMAIN}/orders", payload)
        return order

    def fault(self, kind: str, **options: Any) -> None:
        self.post("/_sandbox/faults", {"kind": kind, **options})

    def refund_journal(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.get("/_sandbox/journal", operation="refundCreate")
        return entries


@pytest.fixture
def sandbox(shopify_connector_server: Server) -> Iterator[Sandbox]:
    control = Sandbox(shopify_connector_server.url)
    response = control.http.post("/_sandbox/reset")
    assert response.status_code == 204
    control.post(
        "/_sandbox/shops",
        {
            "domain": DOMAIN,
            "access_token": TOKEN,
            "currency": "USD",
            "locations": [
                {"id": 1, "name": "Main", "active": True},
                {"id": 2, "name": "Closed store", "active": False},
            ],
        },
    )
    yield control
    control.http.close()


@dataclass
class Sleeps:
    """Records in-process retry waits instead of sleeping."""

    waits: list[float]

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps([])


@pytest.fixture
def connector(sandbox: Sandbox, sleeps: Sleeps) -> Iterator[ShopifyConnector]:
    shopify = ShopifyConnector(sandbox.url, TOKEN, limiter=CostLimiter(sleep=sleeps), timeout=5.0)
    yield shopify
    shopify.close()


def taxed_order(name: str = "#1001", **overrides: Any) -> dict[str, Any]:
    """3 x 20.00 T-shirts with a 5.00 code discount and 8% tax, 2 unshipped mugs, taxed shipping."""
    order: dict[str, Any] = {
        "name": name,
        "email": "jane@example.com",
        "currency": "USD",
        "taxes_included": False,
        "line_items": [
            {
                "sku": "TEE-M",
                "title": "T-shirt",
                "quantity": 3,
                "price": "20.00",
                "tax_lines": [{"title": "State tax", "rate": "0.08", "price": "4.40"}],
                "discount_allocations": [
                    {"amount": "5.00", "code": "SAVE5", "allocation_method": "EACH"}
                ],
            },
            {
                "sku": "MUG",
                "title": "Mug",
                "quantity": 2,
                "price": "8.50",
                "fulfilled_quantity": 0,
            },
        ],
        "shipping_lines": [
            {
                "title": "Standard",
                "price": "10.00",
                "tax_lines": [{"title": "State tax", "rate": "0.08", "price": "0.80"}],
            }
        ],
    }
    order.update(overrides)
    return order


def one_tee_refund(seeded: dict[str, Any], key: str, **overrides: Any) -> RefundCommand:
    """One T-shirt back to Main: 20.00 - 1.67 discount share + 1.47 tax share = 19.80."""
    tee = next(line for line in seeded["line_items"] if line["sku"] == "TEE-M")
    sale = seeded["transactions"][0]
    values: dict[str, Any] = {
        "order_id": seeded["gid"],
        "currency": "USD",
        "idempotency_key": key,
        "lines": (
            RefundLineCommand(
                line_id=tee["gid"], quantity=1, restock="return", location_id=LOCATION
            ),
        ),
        "tenders": (TenderCommand(amount=1980, parent_id=sale["gid"], gateway="shopify_payments"),),
        "note": f"returnbridge {key}",
    }
    values.update(overrides)
    return RefundCommand(**values)


class ShopifyControls:
    """The conformance suite's view of the Shopify sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def fail_next_refund(self, fault: str) -> None:
        kind = {"server_error": "http_503"}.get(fault, fault)
        options: dict[str, Any] = {"count": 1, "operation": "refundCreate"}
        if fault == "timeout_after_commit":
            options["delay"] = 2.0
        self.sandbox.fault(kind, **options)

    def refund_writes(self) -> list[str | None]:
        return [
            e["refund_id"] if e["effect"] == "refund_created" else None
            for e in self.sandbox.refund_journal()
        ]

    def stock(self, sku: str, location_id: str) -> int:
        levels = self.sandbox.get(f"/_sandbox/shops/{DOMAIN}/inventory")
        return int(levels.get(sku, {}).get(location_id.rsplit("/", 1)[-1], 0))


WEBHOOK_SECRET = "shopify-app-secret"


def _shopify_webhook() -> WebhookCase:
    """A delivery signed as Shopify's docs describe (base64 HMAC-SHA256 of the raw body),
    computed here with hashlib alone, apart from the connector's code."""
    body = json.dumps({"id": 820982911946154508, "refunds": []}).encode()
    digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).digest()
    headers = {
        "X-Shopify-Topic": "refunds/create",
        "X-Shopify-Shop-Domain": DOMAIN,
        "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
    }

    def verify(raw: bytes, received: Mapping[str, str]) -> bool:
        try:
            webhooks.verify_delivery(raw, received, WEBHOOK_SECRET)
        except AuthError:
            return False
        return True

    return WebhookCase(body=body, headers=headers, verify=verify)


class TestShopifyConformance(ConnectorConformance):
    @pytest.fixture
    def conformance_case(
        self, sandbox: Sandbox, connector: ShopifyConnector, sleeps: Sleeps
    ) -> ConformanceCase:
        seeded = sandbox.seed_order(taxed_order())
        sandbox.post(
            f"/_sandbox/shops/{DOMAIN}/inventory",
            {"sku": "TEE-M", "location_id": 1, "available": 10},
        )
        return ConformanceCase(
            sandbox=ShopifyControls(sandbox),
            webhook=_shopify_webhook(),
            make_impatient=lambda: ShopifyConnector(
                sandbox.url, TOKEN, limiter=CostLimiter(sleep=sleeps), timeout=0.5
            ),
            connector=connector,
            order_id=seeded["gid"],
            order_name="#1001",
            email="jane@example.com",
            sku="TEE-M",
            location_id=LOCATION,
            refund=one_tee_refund(seeded, "rb-conformance-1"),
            refund_total=1980,
            missing_order_id="gid://shopify/Order/999999999",
        )


def test_get_order_maps_discounted_multi_unit_taxed_order(
    sandbox: Sandbox, connector: ShopifyConnector
) -> None:
    seeded = sandbox.seed_order(taxed_order())
    order = connector.get_order(seeded["gid"])
    assert (order.currency, order.shop_currency, order.taxes_included) == ("USD", "USD", False)
    assert order.amount_paid == 8720
    tee, mug = order.line_items
    assert (tee.sku, tee.quantity, tee.unit_price, tee.fulfilled_quantity) == ("TEE-M", 3, 2000, 3)
    assert [(d.amount, d.code) for d in tee.discount_allocations] == [(500, "SAVE5")]
    assert [(t.title, str(t.rate), t.amount) for t in tee.tax_lines] == [("State tax", "0.08", 440)]
    assert (mug.quantity, mug.fulfilled_quantity, mug.tax_lines) == (2, 0, ())
    (shipping,) = order.shipping_lines
    assert (shipping.price, shipping.already_refunded) == (1000, 0)
    assert [t.amount for t in shipping.tax_lines] == [80]
    (payment,) = order.payments
    assert (payment.id, payment.gateway, payment.amount, payment.refunded) == (
        seeded["transactions"][0]["gid"],
        "shopify_payments",
        8720,
        0,
    )


def _order_reads(sandbox: Sandbox) -> list[str]:
    entries = sandbox.get("/_sandbox/journal")
    return [
        e["operation_name"] for e in entries if e["operation_name"] in {"Order", "OrderRefunds"}
    ]


def test_a_small_order_is_read_with_its_refunds_in_one_call(
    sandbox: Sandbox, connector: ShopifyConnector
) -> None:
    seeded = sandbox.seed_order(taxed_order())
    connector.create_refund(one_tee_refund(seeded, "rb-small-1"))
    sandbox.http.delete("/_sandbox/journal").raise_for_status()
    order = connector.get_order(seeded["gid"])
    assert order.line_items[0].already_returned_quantity == 1
    assert order.already_refunded_amount == 1980
    assert _order_reads(sandbox) == ["Order"]


def test_a_large_order_is_read_whole_with_larger_pages(
    sandbox: Sandbox, connector: ShopifyConnector
) -> None:
    # 12 lines (more than the first page of 8) and 5 refunds (more than the first 3 + 1).
    lines = [
        {"sku": f"SKU-{i}", "title": f"Item {i}", "quantity": 1, "price": "5.00"} for i in range(12)
    ]
    seeded = sandbox.seed_order(taxed_order(line_items=lines, shipping_lines=[]))
    sale = seeded["transactions"][0]
    for index in range(5):
        line = seeded["line_items"][index]
        command = RefundCommand(
            order_id=seeded["gid"],
            currency="USD",
            idempotency_key=f"rb-large-{index}",
            lines=(RefundLineCommand(line_id=line["gid"], quantity=1, restock="none"),),
            tenders=(TenderCommand(amount=500, parent_id=sale["gid"], gateway="shopify_payments"),),
            note="",
        )
        connector.create_refund(command)
    sandbox.http.delete("/_sandbox/journal").raise_for_status()
    order = connector.get_order(seeded["gid"])
    assert len(order.line_items) == 12
    assert sum(line.already_returned_quantity for line in order.line_items) == 5
    assert order.already_refunded_amount == 2500
    assert _order_reads(sandbox) == ["Order", "Order", "OrderRefunds"]


def test_multi_currency_order_uses_presentment_money_with_shop_twins(
    sandbox: Sandbox, connector: ShopifyConnector
) -> None:
    seeded = sandbox.seed_order(
        taxed_order("#2001", presentment_currency="CAD", exchange_rate="0.73")
    )
    order = connector.get_order(seeded["gid"])
    assert (order.currency, order.shop_currency, order.is_multi_currency) == ("CAD", "USD", True)
    tee = order.line_items[0]
    assert (tee.unit_price, tee.unit_price_shop) == (2000, 1460)
    assert order.amount_paid == 8720
    assert order.amount_paid_shop is not None
    refund = connector.create_refund(one_tee_refund(seeded, "rb-fx-1", currency="CAD"))
    assert (refund.currency, refund.total) == ("CAD", 1980)


def test_find_orders_by_name_email_and_sku(sandbox: Sandbox, connector: ShopifyConnector) -> None:
    first = sandbox.seed_order(taxed_order("#1001"))
    sandbox.seed_order(taxed_order("#10010", email="other@example.com"))
    assert [o.id for o in connector.find_orders(OrderQuery(name="#1001"))] == [first["gid"]]
    assert [o.id for o in connector.find_orders(OrderQuery(email="jane@example.com"))] == [
        first["gid"]
    ]
    by_sku = connector.find_orders(OrderQuery(skus=("MUG",)))
    assert len(by_sku) == 2
    assert all("MUG" in hit.skus for hit in by_sku)
    assert connector.find_orders(OrderQuery(skus=("NO-SUCH-SKU",))) == []


def test_find_orders_by_name_without_hash(sandbox: Sandbox, connector: ShopifyConnector) -> None:
    first = sandbox.seed_order(taxed_order("#1001"))
    assert [o.id for o in connector.find_orders(OrderQuery(name="1001"))] == [first["gid"]]


def test_locations_include_inactive_ones(connector: ShopifyConnector) -> None:
    locations = {loc.id: loc for loc in connector.list_locations()}
    assert locations[LOCATION].name == "Main"
    assert locations[LOCATION].active
    assert not locations["gid://shopify/Location/2"].active


def test_suggest_refund_previews_one_unit(sandbox: Sandbox, connector: ShopifyConnector) -> None:
    seeded = sandbox.seed_order(taxed_order())
    suggested = connector.suggest_refund(one_tee_refund(seeded, "rb-preview"))
    assert (suggested.total, suggested.subtotal, suggested.tax) == (1980, 1833, 147)
    assert [(t.amount, t.parent_id) for t in suggested.tenders] == [
        (1980, seeded["transactions"][0]["gid"])
    ]
    assert sandbox.refund_journal() == []


def test_create_refund_restocks_to_the_location(
    sandbox: Sandbox, connector: ShopifyConnector
) -> None:
    seeded = sandbox.seed_order(taxed_order())
    sandbox.post(
        f"/_sandbox/shops/{DOMAIN}/inventory", {"sku": "TEE-M", "location_id": 1, "available": 10}
    )
    refund = connector.create_refund(one_tee_refund(seeded, "rb-restock"))
    (line,) = refund.lines
    assert (line.quantity, line.restock, line.location_id) == (1, "return", LOCATION)
    assert refund.total == 1980
    assert refund.note == "returnbridge rb-restock"
    # The answer leaves the line amounts out (cost); the refund as recorded has them.
    (recorded,) = connector.list_refunds(seeded["gid"])
    (recorded_line,) = recorded.lines
    assert recorded.id == refund.id
    assert (recorded_line.subtotal, recorded_line.tax, recorded.total) == (1833, 147, 1980)
    assert (recorded_line.restock, recorded_line.location_id) == ("return", LOCATION)
    assert sandbox.get(f"/_sandbox/shops/{DOMAIN}/inventory")["TEE-M"]["1"] == 11


def test_cancel_unshipped_units_and_refund_shipping(
    sandbox: Sandbox, connector: ShopifyConnector
) -> None:
    seeded = sandbox.seed_order(taxed_order())
    mug = next(line for line in seeded["line_items"] if line["sku"] == "MUG")
    command = RefundCommand(
        order_id=seeded["gid"],
        currency="USD",
        idempotency_key="rb-cancel",
        lines=(
            RefundLineCommand(
                line_id=mug["gid"], quantity=1, restock="cancel", location_id=LOCATION
            ),
        ),
        shipping_full=True,
        tenders=(
            TenderCommand(
                amount=850 + 1080,
                parent_id=seeded["transactions"][0]["gid"],
                gateway="shopify_payments",
            ),
        ),
    )
    refund = connector.create_refund(command)
    assert refund.total == 1930
    (recorded,) = connector.list_refunds(seeded["gid"])
    assert (recorded.id, recorded.total, recorded.shipping) == (refund.id, 1930, 1000)
    order = connector.get_order(seeded["gid"])
    mug_line = order.line(mug["gid"])
    assert mug_line is not None
    assert mug_line.already_returned_quantity == 1
    assert mug_line.fulfilled_quantity is not None
    # One unshipped unit is left, and no shipped one.
    assert mug_line.quantity - mug_line.fulfilled_quantity == 1
    assert mug_line.fulfilled_quantity - mug_line.already_returned_quantity == 0
    (shipping,) = order.shipping_lines
    assert (shipping.already_refunded, shipping.already_refunded_tax) == (1000, 80)
    assert order.already_refunded_amount == 1930
    assert order.payments[0].refunded == 1930


def test_same_key_twice_is_one_refund(sandbox: Sandbox, connector: ShopifyConnector) -> None:
    seeded = sandbox.seed_order(taxed_order())
    command = one_tee_refund(seeded, "rb-ret-1-1-1")
    first = connector.create_refund(command)
    second = connector.create_refund(command)
    assert second.id == first.id
    effects = [(e["effect"], e["idempotency_key"]) for e in sandbox.refund_journal()]
    assert effects == [("refund_created", "rb-ret-1-1-1"), ("idempotent_replay", "rb-ret-1-1-1")]
    assert [r.id for r in connector.list_refunds(seeded["gid"])] == [first.id]


def test_throttled_then_success(
    sandbox: Sandbox, connector: ShopifyConnector, sleeps: Sleeps
) -> None:
    seeded = sandbox.seed_order(taxed_order())
    sandbox.fault("throttled", count=1, operation="refundCreate")
    refund = connector.create_refund(one_tee_refund(seeded, "rb-throttled"))
    assert refund.total == 1980
    assert len(sleeps.waits) == 1
    assert sleeps.waits[0] > 0
    journal = sandbox.refund_journal()
    assert [e["throttled"] for e in journal] == [True, False]
    assert [e["effect"] for e in journal] == [None, "refund_created"]


def test_server_error_is_transient(sandbox: Sandbox, connector: ShopifyConnector) -> None:
    sandbox.fault("http_503", count=1, operation="locations")
    with pytest.raises(TransientError) as caught:
        connector.list_locations()
    assert caught.value.status == 503
    assert caught.value.details["ambiguous"] is False
    assert connector.list_locations()


def test_timeout_after_commit_is_ambiguous_and_retry_finds_the_one_refund(
    sandbox: Sandbox, sleeps: Sleeps
) -> None:
    seeded = sandbox.seed_order(taxed_order())
    command = one_tee_refund(seeded, "rb-timeout")
    sandbox.fault("timeout_after_commit", count=1, operation="refundCreate", delay=3.0)
    impatient = ShopifyConnector(sandbox.url, TOKEN, limiter=CostLimiter(sleep=sleeps), timeout=0.5)
    try:
        with pytest.raises(TransientError) as caught:
            impatient.create_refund(command)
        assert caught.value.code == "TIMEOUT"
        assert caught.value.details["ambiguous"] is True
        retried = impatient.create_refund(command)
    finally:
        impatient.close()
    effects = [e["effect"] for e in sandbox.refund_journal()]
    assert effects == ["refund_created", "idempotent_replay"]
    assert [e["refund_id"] for e in sandbox.refund_journal()] == [retried.id, retried.id]


def test_user_error_is_rejected_with_shopify_message(
    sandbox: Sandbox, connector: ShopifyConnector
) -> None:
    seeded = sandbox.seed_order(taxed_order())
    tee = seeded["line_items"][0]
    command = one_tee_refund(
        seeded,
        "rb-too-many",
        lines=(
            RefundLineCommand(
                line_id=tee["gid"], quantity=99, restock="return", location_id=LOCATION
            ),
        ),
    )
    with pytest.raises(Rejected) as caught:
        connector.create_refund(command)
    assert caught.value.message
    assert caught.value.field is not None
    assert caught.value.field.startswith("refundLineItems")
    assert [e["effect"] for e in sandbox.refund_journal()] == ["rejected"]
    assert connector.list_refunds(seeded["gid"]) == []


def test_wrong_token_is_auth_error(sandbox: Sandbox) -> None:
    intruder = ShopifyConnector(sandbox.url, "shpat_wrong")
    try:
        with pytest.raises(AuthError) as caught:
            intruder.list_locations()
    finally:
        intruder.close()
    assert "shpat_wrong" not in str(caught.value)


def test_missing_order_is_not_found(connector: ShopifyConnector) -> None:
    with pytest.raises(NotFound):
        connector.list_refunds("gid://shopify/Order/424242")


def test_same_key_with_other_parameters_is_permanent_not_a_second_refund(
    sandbox: Sandbox, connector: ShopifyConnector
) -> None:
    seeded = sandbox.seed_order(taxed_order())
    first = connector.create_refund(one_tee_refund(seeded, "rb-reused"))
    changed = one_tee_refund(seeded, "rb-reused", note="a different note")
    with pytest.raises(PermanentError) as caught:
        connector.create_refund(changed)
    assert not isinstance(caught.value, Rejected)
    assert caught.value.code == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"
    assert [r.id for r in connector.list_refunds(seeded["gid"])] == [first.id]
