"""The WooCommerce connector against the WooCommerce sandbox served over real HTTP on loopback."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from returnbridge.connectors.base.conformance import (
    ConformanceCase,
    ConnectorConformance,
    WebhookCase,
)
from returnbridge.connectors.base.connector import (
    LineMoney,
    OrderQuery,
    RefundCommand,
    RefundLineCommand,
    RefundMoney,
    TaxAmount,
)
from returnbridge.connectors.base.dedupe import find_by_key
from returnbridge.connectors.woocommerce import webhooks
from returnbridge.connectors.woocommerce.auth import Credentials
from returnbridge.connectors.woocommerce.connector import WooCommerceConnector, from_connection
from returnbridge.domain.errors import (
    AuthError,
    NotFound,
    PermanentError,
    RateLimited,
    Rejected,
    TransientError,
)
from returnbridge.domain.orders import Order
from returnbridge.domain.refunds import RefundPolicy, RefundRequest, plan_refund
from returnbridge.engine.refund_commands import refund_money
from returnbridge.sandbox.woocommerce import BackgroundServer
from support.control import ControlSurface

STORE = "shop.example"
KEY = "ck_contract_key"
SECRET = "cs_contract_secret_value"
TEE, MUG = 501, 502
PRODUCTS = {"TEE-M": TEE, "MUG": MUG}
STATE_TAX, COUNTY_TAX = 7, 8
WEBHOOK_SECRET = "woo-webhook-secret"


@pytest.fixture(scope="module")
def woo_server() -> Iterator[BackgroundServer]:
    with BackgroundServer() as server:
        yield server


class Sandbox(ControlSurface):
    """The `/_sandbox` control surface."""

    def seed_order(self, payload: dict[str, Any]) -> dict[str, Any]:
        order: dict[str, Any] = self.post(f"/_sandbox/stores/{STORE}/orders", payload)
        return order

    def fault(self, kind: str, **options: Any) -> None:
        self.post("/_sandbox/faults", {"kind": kind, **options})

    def journal(self, operation: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.get("/_sandbox/journal", operation=operation)
        return entries

    def stock(self, product_id: int) -> int:
        return int(self.get(f"/_sandbox/stores/{STORE}/stock").get(str(product_id), 0))

    def refund_directly(self, order_id: str, body: dict[str, Any]) -> httpx.Response:
        """A refund made by someone else (the merchant in wp-admin), with HTTP Basic."""
        return self.http.post(
            f"/wp-json/wc/v3/orders/{order_id}/refunds", json=body, auth=(KEY, SECRET)
        )


@pytest.fixture
def sandbox(woo_server: BackgroundServer) -> Iterator[Sandbox]:
    control = Sandbox(woo_server.url)
    assert control.http.post("/_sandbox/reset").status_code == 204
    control.post(
        "/_sandbox/stores", {"name": STORE, "consumer_key": KEY, "consumer_secret": SECRET}
    )
    for product_id, quantity in ((TEE, 10), (MUG, 5)):
        control.post(
            f"/_sandbox/stores/{STORE}/stock",
            {"product_id": product_id, "stock_quantity": quantity},
        )
    yield control
    control.http.close()


def make_connector(sandbox: Sandbox, **options: Any) -> WooCommerceConnector:
    options.setdefault("timeout", 5.0)
    return WooCommerceConnector(sandbox.url, Credentials(KEY, SECRET), **options)


@pytest.fixture
def connector(sandbox: Sandbox) -> Iterator[WooCommerceConnector]:
    woo = make_connector(sandbox)  # plain http: OAuth 1.0a, as a real site requires
    yield woo
    woo.close()


def taxed_order(number: str = "1001", **overrides: Any) -> dict[str, Any]:
    """3 x 20.00 T-shirts with a 5.00 coupon and 8% state tax, 2 mugs, taxed shipping: 87.20."""
    order: dict[str, Any] = {
        "number": number,
        "billing": {"email": "jane@example.com", "first_name": "Jane", "phone": "555-0100"},
        "tax_rates": [{"rate_id": STATE_TAX, "label": "State tax"}],
        "coupon_lines": [{"code": "SAVE5", "discount": "5.00"}],
        "line_items": [
            {
                "product_id": TEE,
                "sku": "TEE-M",
                "name": "T-shirt",
                "quantity": 3,
                "price": "20.00",
                "discount": "5.00",
                "taxes": [{"rate_id": STATE_TAX, "total": "4.40", "subtotal": "4.80"}],
            },
            {"product_id": MUG, "sku": "MUG", "name": "Mug", "quantity": 2, "price": "8.50"},
        ],
        "shipping_lines": [{"total": "10.00", "taxes": [{"rate_id": STATE_TAX, "total": "0.80"}]}],
    }
    order.update(overrides)
    return order


def tee_id(seeded: Mapping[str, Any]) -> str:
    return str(next(li["id"] for li in seeded["line_items"] if li["sku"] == "TEE-M"))


def one_tee_refund(seeded: Mapping[str, Any], key: str) -> RefundCommand:
    """One T-shirt back to stock: 20.00 - 1.67 coupon share + 1.47 tax share = 19.80."""
    line_id = tee_id(seeded)
    return RefundCommand(
        order_id=str(seeded["id"]),
        currency="USD",
        idempotency_key=key,
        lines=(
            RefundLineCommand(line_id=line_id, quantity=1, restock="return", location_id="default"),
        ),
        note=f"returnbridge {key} (return R-1)",
        money=RefundMoney(
            lines=(
                LineMoney(
                    line_id=line_id,
                    quantity=1,
                    subtotal=1833,
                    taxes=(TaxAmount(title="State tax", amount=147, tax_id=str(STATE_TAX)),),
                    tax=147,
                ),
            ),
            total=1980,
        ),
    )


def planned_command(
    order: Order, key: str, lines: dict[str, int], shipping: dict[str, object] | None = None
) -> RefundCommand:
    """The domain planner's figures for `lines` (and shipping), as the engine builds them."""
    request = RefundRequest.model_validate(
        {
            "currency": order.currency,
            "lines": [{"line_id": k, "quantity": v} for k, v in lines.items()],
            "shipping": shipping or {"mode": "none"},
        }
    )
    plan = plan_refund(order, request, policy=RefundPolicy())
    return RefundCommand(
        order_id=order.id,
        currency=order.currency,
        idempotency_key=key,
        lines=tuple(
            RefundLineCommand(line_id=k, quantity=v, restock="return", location_id="default")
            for k, v in lines.items()
        ),
        note=f"returnbridge {key}",
        money=refund_money(plan),
    )


def body_sum(body: Mapping[str, Any]) -> Decimal:
    """What the request's line items add up to (refund_total + refund_tax), exactly."""
    total = Decimal(0)
    for item in body["line_items"]:
        total += Decimal(item["refund_total"])
        total += sum((Decimal(t["refund_total"]) for t in item["refund_tax"]), Decimal(0))
    return total


class WooControls:
    """The conformance suite's view of the WooCommerce sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def fail_next_refund(self, fault: str) -> None:
        kind = {"throttled": "http_429", "server_error": "http_500"}.get(fault, fault)
        options: dict[str, Any] = {"count": 1, "operation": "refunds.create"}
        if fault == "timeout_after_commit":
            options["delay"] = 2.0
        self.sandbox.fault(kind, **options)

    def refund_writes(self) -> list[str | None]:
        return [
            str(e["refund_id"]) if e["effect"] == "refund_created" else None
            for e in self.sandbox.journal("refunds.create")
        ]

    def stock(self, sku: str, location_id: str) -> int:
        assert location_id == "default"
        return self.sandbox.stock(PRODUCTS[sku])


class _Receiver(BaseHTTPRequestHandler):
    received: queue.Queue[tuple[bytes, dict[str, str]]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.put((body, dict(self.headers.items())))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def sandbox_delivery(woo_server: BackgroundServer) -> tuple[bytes, dict[str, str]]:
    """One real webhook delivery of the sandbox (signed by it, not by us), captured on a
    loopback receiver after a refund in a store of its own."""
    received: queue.Queue[tuple[bytes, dict[str, str]]] = queue.Queue()

    class Receiver(_Receiver):
        pass

    Receiver.received = received
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=woo_server.url, timeout=10.0) as http:
            store = {"name": "hooks.example", "consumer_key": "ck_hooks", "consumer_secret": "cs_h"}
            assert http.post("/_sandbox/stores", json=store).status_code == 201
            hook = {
                "topic": "order.updated",
                "delivery_url": f"http://127.0.0.1:{receiver.server_address[1]}/hook",
                "secret": WEBHOOK_SECRET,
            }
            assert http.post("/_sandbox/stores/hooks.example/webhooks", json=hook).is_success
            order = http.post("/_sandbox/stores/hooks.example/orders", json=taxed_order()).json()
            made = http.post(
                f"/wp-json/wc/v3/orders/{order['id']}/refunds",
                json={"amount": "1.00", "api_refund": False},
                auth=("ck_hooks", "cs_h"),
            )
            assert made.status_code == 201
        return received.get(timeout=10)
    finally:
        receiver.shutdown()
        receiver.server_close()
        thread.join(timeout=5)


def webhook_case(delivery: tuple[bytes, dict[str, str]]) -> WebhookCase:
    body, headers = delivery

    def verify(raw: bytes, received: Mapping[str, str]) -> bool:
        try:
            webhooks.verify_delivery(raw, received, WEBHOOK_SECRET)
        except AuthError:
            return False
        return True

    return WebhookCase(body=body, headers=headers, verify=verify)


class TestWooCommerceConformance(ConnectorConformance):
    @pytest.fixture
    def conformance_case(
        self,
        sandbox: Sandbox,
        connector: WooCommerceConnector,
        sandbox_delivery: tuple[bytes, dict[str, str]],
    ) -> ConformanceCase:
        seeded = sandbox.seed_order(taxed_order())
        return ConformanceCase(
            sandbox=WooControls(sandbox),
            webhook=webhook_case(sandbox_delivery),
            make_impatient=lambda: make_connector(sandbox, timeout=0.5),
            connector=connector,
            order_id=str(seeded["id"]),
            order_name="1001",
            email="jane@example.com",
            sku="TEE-M",
            location_id="default",
            refund=one_tee_refund(seeded, "rb-conformance-1"),
            refund_total=1980,
            missing_order_id="999999",
        )


# -- reads -------------------------------------------------------------------------------------


def test_get_order_maps_coupon_discount_taxes_shipping_and_payment(
    sandbox: Sandbox, connector: WooCommerceConnector
) -> None:
    seeded = sandbox.seed_order(taxed_order())
    order = connector.get_order(str(seeded["id"]))
    assert (order.platform, order.name, order.email) == ("woocommerce", "1001", "jane@example.com")
    assert (order.currency, order.currency_exponent, order.taxes_included) == ("USD", 2, False)
    assert (order.amount_paid, order.already_refunded_amount) == (8720, 0)
    assert order.created_at == datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    tee, mug = order.line_items
    assert (tee.sku, tee.quantity, tee.unit_price, tee.variant_id) == ("TEE-M", 3, 2000, str(TEE))
    assert [(d.amount, d.code, d.level) for d in tee.discount_allocations] == [
        (500, "SAVE5", "line")
    ]
    assert [(t.title, t.id, t.amount) for t in tee.tax_lines] == [("State tax", "7", 440)]
    assert (mug.unit_price, mug.discount_allocations, mug.tax_lines) == (850, (), ())
    (shipping,) = order.shipping_lines
    assert (shipping.price, shipping.already_refunded) == (1000, 0)
    assert [(t.id, t.amount) for t in shipping.tax_lines] == [("7", 80)]
    (payment,) = order.payments
    assert (payment.gateway, payment.method, payment.amount) == ("stripe", "card", 8720)


def test_refunds_made_elsewhere_fill_refunded_quantities_and_amounts(
    sandbox: Sandbox, connector: WooCommerceConnector
) -> None:
    seeded = sandbox.seed_order(taxed_order())
    shipping_id = seeded["shipping_lines"][0]["id"]
    body = {
        "amount": "24.79",
        "api_refund": False,
        "line_items": [
            {
                "id": int(tee_id(seeded)),
                "quantity": 1,
                "refund_total": "18.33",
                "refund_tax": [{"id": STATE_TAX, "refund_total": "1.47"}],
            },
            {
                "id": shipping_id,
                "refund_total": "4.62",
                "refund_tax": [{"id": STATE_TAX, "refund_total": "0.37"}],
            },
        ],
    }
    assert sandbox.refund_directly(str(seeded["id"]), body).status_code == 201
    order = connector.get_order(str(seeded["id"]))
    assert order.already_refunded_amount == 2479
    (tee,) = order.line_by_sku("TEE-M")
    assert tee.already_returned_quantity == 1
    assert [t.already_refunded for t in tee.tax_lines] == [147]
    (shipping,) = order.shipping_lines
    assert (shipping.already_refunded, shipping.already_refunded_tax) == (462, 37)
    assert order.payments[0].refunded == 2479


def test_refunds_are_read_over_every_page(sandbox: Sandbox) -> None:
    seeded = sandbox.seed_order(taxed_order())
    for amount in ("1.00", "2.00", "3.00"):
        made = sandbox.refund_directly(str(seeded["id"]), {"amount": amount, "api_refund": False})
        assert made.status_code == 201
    woo = make_connector(sandbox, refund_page_size=2)
    try:
        order = woo.get_order(str(seeded["id"]))
        listed = woo.list_refunds(str(seeded["id"]))
    finally:
        woo.close()
    assert order.already_refunded_amount == 600
    assert [r.total for r in listed] == [300, 200, 100]  # newest first
    assert len(sandbox.journal("refunds.list")) == 4  # two pages, twice


def test_prices_with_tax_read_as_taxes_included_and_refund_without_tax(
    sandbox: Sandbox, connector: WooCommerceConnector
) -> None:
    """A store entering prices with tax: the domain sees 11.00 a unit; WooCommerce is sent
    10.00 plus 1.00 of tax for one unit, adding up to the amount."""
    seeded = sandbox.seed_order(
        taxed_order(
            prices_include_tax=True,
            coupon_lines=[],
            line_items=[
                {
                    "product_id": TEE,
                    "sku": "TEE-M",
                    "name": "T-shirt",
                    "quantity": 2,
                    "price": "10.00",
                    "taxes": [{"rate_id": STATE_TAX, "total": "2.00"}],
                }
            ],
            shipping_lines=[],
        )
    )
    order = connector.get_order(str(seeded["id"]))
    (tee,) = order.line_items
    assert (order.taxes_included, tee.unit_price, tee.discount_allocations) == (True, 1100, ())
    command = planned_command(order, "rb-inclusive", {tee.id: 1})
    assert command.money is not None
    assert command.money.total == 1100
    made = connector.create_refund(command)
    (entry,) = sandbox.journal("refunds.create")
    (item,) = entry["body"]["line_items"]
    assert (item["refund_total"], item["refund_tax"]) == (
        "10.00",
        [{"id": STATE_TAX, "refund_total": "1.00"}],
    )
    assert entry["body"]["amount"] == "11.00"
    assert made.total == 1100
    assert [(line.subtotal, line.tax) for line in made.lines] == [(1100, 100)]


# -- search ------------------------------------------------------------------------------------


def test_search_by_number_is_exact(sandbox: Sandbox, connector: WooCommerceConnector) -> None:
    wanted = sandbox.seed_order(taxed_order("1001"))
    sandbox.seed_order(taxed_order("10010"))
    sandbox.seed_order(taxed_order("21001"))
    for name in ("1001", "#1001"):
        hits = connector.find_orders(OrderQuery(name=name))
        assert [h.id for h in hits] == [str(wanted["id"])]
    (hit,) = connector.find_orders(OrderQuery(names=("X-1001", "1001")))
    assert (hit.name, hit.email, hit.total, hit.skus) == (
        "1001",
        "jane@example.com",
        8720,
        ("TEE-M", "MUG"),
    )


def test_search_by_email_is_exact_and_checks_skus(
    sandbox: Sandbox, connector: WooCommerceConnector
) -> None:
    jane = sandbox.seed_order(taxed_order("1"))
    sandbox.seed_order(taxed_order("2", billing={"email": "mary.jane@example.com"}))
    sandbox.seed_order(taxed_order("3", billing={"email": "jane@example.com.au"}))
    hits = connector.find_orders(OrderQuery(email="Jane@Example.com"))
    assert [h.id for h in hits] == [str(jane["id"])]
    assert connector.find_orders(OrderQuery(email="jane@example.com", skus=("HAT",))) == []
    assert connector.find_orders(OrderQuery(skus=("TEE-M",))) == []  # no number, no email


def test_search_reads_more_than_one_page(sandbox: Sandbox) -> None:
    seeded = [
        sandbox.seed_order(taxed_order(str(n), date_created=f"2026-01-{n:02d}T10:00:00"))
        for n in range(1, 6)
    ]
    woo = make_connector(sandbox, search_page_size=2)
    try:
        hits = woo.find_orders(OrderQuery(email="jane@example.com"))
    finally:
        woo.close()
    assert [h.id for h in hits] == [str(o["id"]) for o in reversed(seeded)]  # newest first
    assert len(sandbox.journal("orders.list")) == 3


def test_search_stops_at_the_limit(sandbox: Sandbox) -> None:
    for n in range(1, 6):
        sandbox.seed_order(taxed_order(str(n)))
    woo = make_connector(sandbox, search_page_size=2)
    try:
        hits = woo.find_orders(OrderQuery(email="jane@example.com", limit=2))
    finally:
        woo.close()
    assert len(hits) == 2
    assert len(sandbox.journal("orders.list")) == 1


def test_search_from_a_date_asks_after_it(
    sandbox: Sandbox, connector: WooCommerceConnector
) -> None:
    sandbox.seed_order(taxed_order("1", date_created="2026-01-10T10:00:00"))
    late = sandbox.seed_order(taxed_order("2", date_created="2026-02-01T00:00:00"))
    query = OrderQuery(email="jane@example.com", created_from=datetime(2026, 2, 1, tzinfo=UTC))
    assert [h.id for h in connector.find_orders(query)] == [str(late["id"])]


def test_locations_are_the_one_stock_pool(connector: WooCommerceConnector) -> None:
    assert [(loc.id, loc.name, loc.active) for loc in connector.list_locations()] == [
        ("default", "Store stock", True)
    ]


# -- refunds -----------------------------------------------------------------------------------


def test_partial_refund_lines_and_taxes_add_up_to_the_amount(
    sandbox: Sandbox, connector: WooCommerceConnector
) -> None:
    """Two tax rates on the line and on shipping, a part of shipping: every refund_total and
    refund_tax the sandbox received adds up to `amount`, and shipping tax is split over its
    rates by largest remainder (0.33 over 0.80 : 0.20 -> 0.26 + 0.07)."""
    seeded = sandbox.seed_order(
        taxed_order(
            tax_rates=[
                {"rate_id": STATE_TAX, "label": "State tax"},
                {"rate_id": COUNTY_TAX, "label": "County tax"},
            ],
            line_items=[
                {
                    "product_id": TEE,
                    "sku": "TEE-M",
                    "name": "T-shirt",
                    "quantity": 3,
                    "price": "20.00",
                    "discount": "5.00",
                    "taxes": [
                        {"rate_id": STATE_TAX, "total": "4.40"},
                        {"rate_id": COUNTY_TAX, "total": "1.10"},
                    ],
                }
            ],
            shipping_lines=[
                {
                    "total": "10.00",
                    "taxes": [
                        {"rate_id": STATE_TAX, "total": "0.80"},
                        {"rate_id": COUNTY_TAX, "total": "0.20"},
                    ],
                }
            ],
        )
    )
    order = connector.get_order(str(seeded["id"]))
    (tee,) = order.line_items
    shipping_id = order.shipping_lines[0].id
    command = planned_command(
        order, "rb-partial", {tee.id: 1}, shipping={"mode": "amount", "amount": 333}
    )
    assert command.money is not None
    made = connector.create_refund(command)
    (entry,) = sandbox.journal("refunds.create")
    body = entry["body"]
    assert Decimal(body["amount"]) == body_sum(body) == Decimal(command.money.total) / 100
    line, shipping = body["line_items"]
    assert (line["id"], line["quantity"], line["refund_total"]) == (int(tee.id), 1, "18.33")
    assert line["refund_tax"] == [
        {"id": STATE_TAX, "refund_total": "1.47"},
        {"id": COUNTY_TAX, "refund_total": "0.37"},
    ]
    assert (shipping["id"], shipping["refund_total"]) == (int(shipping_id), "3.33")
    assert shipping["refund_tax"] == [
        {"id": STATE_TAX, "refund_total": "0.26"},
        {"id": COUNTY_TAX, "refund_total": "0.07"},
    ]
    assert (body["api_refund"], body["api_restock"]) == (True, True)
    assert body["meta_data"][0] == {"key": "_returnbridge_key", "value": "rb-partial"}
    assert made.total == command.money.total
    assert (made.idempotency_key, made.shipping) == ("rb-partial", 333)
    assert [(x.line_id, x.quantity, x.subtotal, x.tax) for x in made.lines] == [
        (tee.id, 1, 1833, 184)
    ]
    after = connector.get_order(order.id)
    assert after.already_refunded_amount == made.total
    assert after.shipping_lines[0].already_refunded == 333


def test_api_refund_false_records_a_refund_the_gateway_could_not_make(
    sandbox: Sandbox,
) -> None:
    seeded = sandbox.seed_order(taxed_order(payment_method="cod", gateway_refunds=False))
    command = one_tee_refund(seeded, "rb-manual")
    gateway = make_connector(sandbox)
    manual = from_connection(
        sandbox.url,
        {"consumer_key": KEY, "consumer_secret": SECRET},
        5.0,
        {},
        {"api_refund": "false"},
    )
    try:
        with pytest.raises(Rejected, match="does not support automatic refunds") as refused:
            gateway.create_refund(command)
        assert refused.value.status == 500
        made = manual.create_refund(command)
    finally:
        gateway.close()
        manual.close()
    entries = sandbox.journal("refunds.create")
    assert [(e["body"]["api_refund"], e["effect"]) for e in entries] == [
        (True, "rejected"),
        (False, "refund_created"),
    ]
    assert made.total == 1980


def test_a_refund_above_what_remains_is_rejected_once(
    sandbox: Sandbox, connector: WooCommerceConnector
) -> None:
    seeded = sandbox.seed_order(taxed_order())
    order_id = str(seeded["id"])
    assert sandbox.refund_directly(order_id, {"amount": "80.00", "api_refund": False}).is_success
    with pytest.raises(Rejected, match="Invalid refund amount") as refused:
        connector.create_refund(one_tee_refund(seeded, "rb-too-much"))
    assert refused.value.code == "WOOCOMMERCE_REST_CANNOT_CREATE_ORDER_REFUND"
    assert [e["effect"] for e in sandbox.journal("refunds.create")] == [
        "refund_created",
        "rejected",
    ]


def test_unbalanced_money_is_refused_before_sending(
    sandbox: Sandbox, connector: WooCommerceConnector
) -> None:
    seeded = sandbox.seed_order(taxed_order())
    command = one_tee_refund(seeded, "rb-unbalanced")
    assert command.money is not None
    wrong = command.model_copy(update={"money": command.money.model_copy(update={"total": 1990})})
    with pytest.raises(PermanentError, match="add up to 1980"):
        connector.create_refund(wrong)
    assert sandbox.journal("refunds.create") == []


def test_the_same_key_again_returns_the_first_refund(
    sandbox: Sandbox, connector: WooCommerceConnector
) -> None:
    seeded = sandbox.seed_order(taxed_order())
    first = connector.create_refund(one_tee_refund(seeded, "rb-twice"))
    again = connector.create_refund(one_tee_refund(seeded, "rb-twice"))
    assert again.id == first.id
    assert [e["effect"] for e in sandbox.journal("refunds.create")] == ["refund_created"]


@pytest.mark.parametrize("fault", ["timeout_after_commit", "connection_reset_after_commit"])
def test_an_answer_lost_after_commit_is_found_by_key_not_paid_twice(
    sandbox: Sandbox, fault: str
) -> None:
    seeded = sandbox.seed_order(taxed_order())
    sandbox.fault(fault, operation="refunds.create", delay=2.0)
    impatient = make_connector(sandbox, timeout=0.5)
    try:
        made = impatient.create_refund(one_tee_refund(seeded, "rb-lost"))
    finally:
        impatient.close()
    (entry,) = sandbox.journal("refunds.create")
    assert (entry["effect"], str(entry["refund_id"])) == ("refund_created", made.id)
    assert (made.idempotency_key, made.total) == ("rb-lost", 1980)
    assert made.note == "returnbridge rb-lost (return R-1)"


def test_a_write_refused_by_the_host_with_503_is_ambiguous_and_looked_up(
    sandbox: Sandbox, connector: WooCommerceConnector
) -> None:
    seeded = sandbox.seed_order(taxed_order())
    sandbox.fault("http_503", operation="refunds.create")
    with pytest.raises(RateLimited) as throttled:
        connector.create_refund(one_tee_refund(seeded, "rb-503"))
    assert (throttled.value.retry_after, throttled.value.details["ambiguous"]) == (1.0, True)
    assert len(sandbox.journal("refunds.list")) == 2  # before the write, and the look-up


def test_list_refunds_reads_key_restock_and_currency_in_a_new_connector(
    sandbox: Sandbox, connector: WooCommerceConnector
) -> None:
    seeded = sandbox.seed_order(taxed_order())
    made = connector.create_refund(one_tee_refund(seeded, "rb-listed"))
    fresh = make_connector(sandbox)
    try:
        (listed,) = fresh.list_refunds(str(seeded["id"]))
    finally:
        fresh.close()
    assert (listed.id, listed.currency, listed.total) == (made.id, "USD", 1980)
    assert find_by_key([listed], "rb-listed") is listed
    assert [(x.quantity, x.restock, x.subtotal, x.tax) for x in listed.lines] == [
        (1, "return", 1833, 147)
    ]


# -- errors and auth ---------------------------------------------------------------------------


def test_read_errors_are_typed(sandbox: Sandbox, connector: WooCommerceConnector) -> None:
    seeded = sandbox.seed_order(taxed_order())
    order_id = str(seeded["id"])
    with pytest.raises(NotFound):
        connector.get_order("424242")
    with pytest.raises(NotFound):
        connector.get_order("not-a-number")
    sandbox.fault("http_429", operation="orders.get")
    with pytest.raises(RateLimited) as throttled:
        connector.get_order(order_id)
    assert (throttled.value.retry_after, throttled.value.details["ambiguous"]) == (1.0, False)
    sandbox.fault("http_502", operation="orders.get")
    with pytest.raises(TransientError) as failed:
        connector.get_order(order_id)
    assert (failed.value.status, failed.value.details["ambiguous"]) == (502, False)
    assert connector.get_order(order_id).id == order_id


def test_a_wrong_secret_is_an_auth_error_without_the_secret(sandbox: Sandbox) -> None:
    for auth in ("oauth1", "query"):
        wrong = WooCommerceConnector(
            sandbox.url, Credentials(KEY, "cs_wrong_secret"), auth=auth, timeout=5.0
        )
        try:
            with pytest.raises(AuthError) as refused:
                wrong.get_order("1")
        finally:
            wrong.close()
        assert "cs_wrong_secret" not in str(refused.value)
        assert "cs_wrong_secret" not in repr(refused.value.details)


def test_query_string_keys_work_where_the_header_is_stripped(sandbox: Sandbox) -> None:
    seeded = sandbox.seed_order(taxed_order())
    woo = from_connection(
        sandbox.url,
        {"consumer_key": KEY, "consumer_secret": SECRET},
        5.0,
        {"http": httpx.Client()},
        {"auth": "query"},
    )
    try:
        assert woo.client.auth_mode == "query"
        assert woo.get_order(str(seeded["id"])).name == "1001"
        with pytest.raises(NotFound) as missing:
            woo.get_order("424242")
    finally:
        woo.close()
    assert SECRET not in str(missing.value)
    assert SECRET not in repr(woo)


def test_oauth_signs_every_call_with_a_fresh_nonce(sandbox: Sandbox) -> None:
    """The sandbox refuses a nonce used twice: two reads with one fixed nonce, the second
    refused, shows the requests are OAuth-signed (and the signature checks out)."""
    seeded = sandbox.seed_order(taxed_order())
    fixed = make_connector(sandbox, nonce=lambda: "fixed-nonce-0123456789abcdef0123")
    try:
        assert fixed.client.auth_mode == "oauth1"
        assert fixed.find_orders(OrderQuery(name="1001"))[0].id == str(seeded["id"])
        with pytest.raises(AuthError, match="nonce"):
            fixed.find_orders(OrderQuery(name="1001"))
    finally:
        fixed.close()
