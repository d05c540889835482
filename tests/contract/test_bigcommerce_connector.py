"""The BigCommerce connector against the BigCommerce sandbox served over real HTTP on loopback.

Bodies the connector sends and the sandbox answers are captured with an httpx event hook and
validated against the official OpenAPI files copied into the sandbox's `spec/` folder.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
import yaml

import returnbridge.sandbox.bigcommerce as bigcommerce_sandbox
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
    RestockCommand,
    RestockLine,
    ShippingMoney,
    TenderCommand,
)
from returnbridge.connectors.bigcommerce import webhooks
from returnbridge.connectors.bigcommerce.connector import BigCommerceConnector, from_connection
from returnbridge.connectors.bigcommerce.limits import WindowLimiter
from returnbridge.domain.errors import (
    AuthError,
    NotFound,
    PermanentError,
    RateLimited,
    Rejected,
    TransientError,
)
from returnbridge.sandbox.bigcommerce import BackgroundServer
from support.control import ControlSurface

STORE = "rbstore1"
TOKEN = "bc-contract-token"
SECRET = "bc-app-client-secret"
HOOK_STORE = "rbhooks1"
SPEC_DIR = Path(bigcommerce_sandbox.__file__).parent / "spec"
ORDER_ID = 301


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer() as running:
        yield running


class Sandbox(ControlSurface):
    """The `/_sandbox` control surface."""

    def store(self, store_hash: str = STORE, **options: Any) -> None:
        self.post(
            "/_sandbox/stores",
            {
                "store_hash": store_hash,
                "access_token": TOKEN if store_hash == STORE else f"{TOKEN}-{store_hash}",
                "client_secret": SECRET,
                "rate_quota": 10_000,
                "locations": [
                    {"id": 1, "label": "Main warehouse"},
                    {"id": 2, "label": "Closed shop", "enabled": False},
                ],
                **options,
            },
        )

    def seed_order(self, store_hash: str = STORE, **overrides: Any) -> dict[str, Any]:
        order: dict[str, Any] = self.post(
            f"/_sandbox/stores/{store_hash}/orders", {**order_seed(), **overrides}
        )
        return order

    def fault(self, kind: str, **options: Any) -> None:
        self.post("/_sandbox/faults", {"kind": kind, "store": STORE, **options})

    def journal(self, operation: str | None = None) -> list[dict[str, Any]]:
        params = {"store": STORE} | ({"operation": operation} if operation else {})
        entries: list[dict[str, Any]] = self.get("/_sandbox/journal", **params)
        return entries

    def stock(self, sku: str, location_id: str) -> int:
        levels = self.get(f"/_sandbox/stores/{STORE}/stock", location_id=location_id)
        return int(levels.get(sku, 0))


def order_seed() -> dict[str, Any]:
    """2 towels at 50.00 + 10 % tax, one mug at 10.00 untaxed, shipping 10.00 + 2.00 tax."""
    return {
        "id": ORDER_ID,
        "customer_id": 7,
        "email": "ann@example.com",
        "status_id": 10,
        "payment_method": "Credit Card",
        "payment_provider_id": "braintree",
        "products": [
            {
                "product_id": 77,
                "variant_id": 770,
                "name": "Chambray Towel",
                "sku": "TOWEL-1",
                "quantity": 2,
                "price_ex_tax": "50.00",
                "price_inc_tax": "55.00",
            },
            {"product_id": 78, "name": "Mug", "sku": "MUG-1", "quantity": 1, "price_ex_tax": "10"},
        ],
        "shipping": {"cost_ex_tax": "10.00", "cost_inc_tax": "12.00"},
    }


@dataclass
class Sleeps:
    """Records in-process waits instead of sleeping."""

    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@dataclass
class Wire:
    """Every request the connector sent and every answer it got, as (method, path, json)."""

    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    responses: list[tuple[str, str, int, Any]] = field(default_factory=list)

    def on_request(self, request: httpx.Request) -> None:
        body = json.loads(request.content) if request.content else None
        self.requests.append((request.method, request.url.path, body))

    def on_response(self, response: httpx.Response) -> None:
        response.read()
        body = response.json() if response.content else None
        request = response.request
        self.responses.append((request.method, request.url.path, response.status_code, body))


@pytest.fixture
def sandbox(server: BackgroundServer) -> Iterator[Sandbox]:
    control = Sandbox(server.url)
    assert control.http.post("/_sandbox/reset").status_code == 204
    control.store()
    yield control
    control.http.close()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def wire() -> Wire:
    return Wire()


def make_connector(
    sandbox: Sandbox, sleeps: Sleeps, *, timeout: float = 5.0, wire: Wire | None = None
) -> BigCommerceConnector:
    hooks: dict[str, list[Any]] = {}
    if wire is not None:
        hooks = {"request": [wire.on_request], "response": [wire.on_response]}
    return BigCommerceConnector(
        STORE,
        TOKEN,
        base_url=sandbox.url,
        http=httpx.Client(timeout=timeout, event_hooks=hooks),
        limiter=WindowLimiter(sleep=sleeps),
        timeout=timeout,
    )


@pytest.fixture
def connector(sandbox: Sandbox, sleeps: Sleeps, wire: Wire) -> Iterator[BigCommerceConnector]:
    made = make_connector(sandbox, sleeps, wire=wire)
    yield made
    made.close()


def towel_refund(
    seeded: dict[str, Any], key: str, *, quantity: int = 1, **overrides: Any
) -> RefundCommand:
    """`quantity` towels back: 50.00 + 5.00 tax each (tax-exclusive pricing)."""
    towel = seeded["products"][0]
    values: dict[str, Any] = {
        "order_id": str(seeded["id"]),
        "currency": "USD",
        "idempotency_key": key,
        "lines": (
            RefundLineCommand(
                line_id=str(towel["id"]), quantity=quantity, restock="return", location_id="1"
            ),
        ),
        "tenders": (TenderCommand(amount=5500 * quantity),),
        "note": f"returnbridge {key} customer return",
        "expected_total": 5500 * quantity,
        "money": RefundMoney(
            lines=(
                LineMoney(
                    line_id=str(towel["id"]),
                    quantity=quantity,
                    subtotal=5000 * quantity,
                    tax=500 * quantity,
                ),
            ),
            total=5500 * quantity,
        ),
    }
    values.update(overrides)
    return RefundCommand(**values)


class BigCommerceControls:
    """The conformance suite's view of the BigCommerce sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def fail_next_refund(self, fault: str) -> None:
        kind = {"server_error": "http_503", "throttled": "http_429"}.get(fault, fault)
        options: dict[str, Any] = {"count": 1, "operation": "createOrderRefund"}
        if fault == "timeout_after_commit":
            options["delay"] = 2.0
        self.sandbox.fault(kind, **options)

    def refund_writes(self) -> list[str | None]:
        return [
            str(e["refund_id"]) if e["effect"] == "refund_created" else None
            for e in self.sandbox.journal("createOrderRefund")
        ]

    def stock(self, sku: str, location_id: str) -> int:
        return self.sandbox.stock(sku, location_id)


def real_delivery(sandbox: Sandbox) -> WebhookCase:
    """A `store/order/refund/created` delivery the sandbox made and signed (another store, so
    the suite's journal of the main store stays untouched)."""
    sandbox.store(HOOK_STORE)
    seeded = sandbox.seed_order(HOOK_STORE)
    hook_token = f"{TOKEN}-{HOOK_STORE}"
    with httpx.Client(base_url=sandbox.url, headers={"X-Auth-Token": hook_token}) as http:
        path = f"/stores/{HOOK_STORE}/v3/orders/{seeded['id']}/payment_actions"
        items = [{"item_type": "PRODUCT", "item_id": seeded["products"][1]["id"], "quantity": 1}]
        quote = http.post(f"{path}/refund_quotes", json={"items": items}).json()["data"]
        method = quote["refund_methods"][0]
        payments = [{k: o[k] for k in ("provider_id", "amount", "offline")} for o in method]
        made = http.post(f"{path}/refunds", json={"items": items, "payments": payments})
        assert made.status_code == 201, made.text
    (delivery,) = sandbox.get(f"/_sandbox/stores/{HOOK_STORE}/webhooks/deliveries")

    def verify(raw: bytes, received: Mapping[str, str]) -> bool:
        try:
            webhooks.verify_delivery(raw, received, ["an-old-secret", SECRET])
        except AuthError:
            return False
        return True

    return WebhookCase(body=delivery["body"].encode(), headers=delivery["headers"], verify=verify)


class TestBigCommerceConformance(ConnectorConformance):
    @pytest.fixture
    def conformance_case(
        self, sandbox: Sandbox, connector: BigCommerceConnector, sleeps: Sleeps
    ) -> ConformanceCase:
        webhook = real_delivery(sandbox)
        seeded = sandbox.seed_order()
        sandbox.post(f"/_sandbox/stores/{STORE}/stock", {"sku": "TOWEL-1", "level": 10})
        return ConformanceCase(
            connector=connector,
            order_id=str(ORDER_ID),
            order_name=str(ORDER_ID),
            email="ann@example.com",
            sku="TOWEL-1",
            location_id="1",
            refund=towel_refund(seeded, "rb-conformance-1"),
            refund_total=5500,
            missing_order_id="999999",
            sandbox=BigCommerceControls(sandbox),
            webhook=webhook,
            make_impatient=lambda: make_connector(sandbox, sleeps, timeout=0.5),
        )


# ---------------------------------------------------------------------------- reads


def test_get_order_maps_money_taxes_shipping_and_refunds(
    sandbox: Sandbox, connector: BigCommerceConnector
) -> None:
    seeded = sandbox.seed_order()
    order = connector.get_order(str(ORDER_ID))
    assert (order.id, order.name, order.currency, order.taxes_included) == (
        "301",
        "301",
        "USD",
        False,
    )
    assert order.amount_paid == 13200  # 2 x 55 + 10 + 12 shipping
    towel, mug = order.line_items
    assert (towel.id, towel.unit_price, towel.quantity) == (
        str(seeded["products"][0]["id"]),
        5000,
        2,
    )
    assert [t.amount for t in towel.tax_lines] == [1000]
    assert (mug.unit_price, mug.tax_lines) == (1000, ())
    (shipping,) = order.shipping_lines
    assert (shipping.id, shipping.price, [t.amount for t in shipping.tax_lines]) == (
        str(seeded["shipping_addresses"][0]["id"]),
        1000,
        [200],
    )
    (payment,) = order.payments
    assert (payment.amount, payment.gateway, payment.refunded) == (13200, "Credit Card", 0)


def test_refund_with_shipping_shows_as_already_refunded(
    sandbox: Sandbox, connector: BigCommerceConnector
) -> None:
    seeded = sandbox.seed_order()
    address_id = str(seeded["shipping_addresses"][0]["id"])
    base = towel_refund(seeded, "rb-ship-1")
    assert base.money is not None
    money = base.money.model_copy(
        update={
            "shipping": (ShippingMoney(shipping_line_id=address_id, amount=500, tax=100),),
            "total": 6100,
        }
    )
    made = connector.create_refund(base.model_copy(update={"money": money, "expected_total": 6100}))
    assert made.total == 6100
    order = connector.get_order(str(ORDER_ID))
    assert order.already_refunded_amount == 6100
    (shipping,) = order.shipping_lines
    assert (shipping.already_refunded, shipping.already_refunded_tax) == (500, 100)
    assert order.line_items[0].already_returned_quantity == 1


def test_find_orders_by_name_email_skus_and_nothing_to_filter(
    sandbox: Sandbox, connector: BigCommerceConnector
) -> None:
    sandbox.seed_order()
    sandbox.seed_order(id=302, email="bob@example.com")
    assert [o.id for o in connector.find_orders(OrderQuery(name="#301"))] == ["301"]
    assert connector.find_orders(OrderQuery(name="301", email="bob@example.com")) == []
    by_email = connector.find_orders(OrderQuery(email="ANN@example.com", skus=("MUG-1",)))
    assert [(o.id, o.skus, o.total) for o in by_email] == [("301", ("TOWEL-1", "MUG-1"), 13200)]
    assert connector.find_orders(OrderQuery(email="ann@example.com", skus=("NOPE",))) == []
    assert connector.find_orders(OrderQuery(skus=("MUG-1",))) == []
    assert connector.find_orders(OrderQuery(name="not-a-number")) == []
    since = datetime(2026, 3, 1, tzinfo=UTC)
    assert [o.id for o in connector.find_orders(OrderQuery(created_from=since))] == ["302", "301"]
    later = OrderQuery(email="ann@example.com", created_from=datetime(2026, 3, 6, tzinfo=UTC))
    assert connector.find_orders(later) == []


def test_locations_are_the_inventory_locations(connector: BigCommerceConnector) -> None:
    locations = {loc.id: loc for loc in connector.list_locations()}
    assert (locations["1"].name, locations["1"].active) == ("Main warehouse", True)
    assert not locations["2"].active


# ---------------------------------------------------------------------------- refunds


def discounted_order() -> dict[str, Any]:
    """3 tees at 20.00 with a 5.00 coupon and 8 % tax after it (4.40), shipping 10.00 + 0.80."""
    tee = {
        "product_id": 601,
        "variant_id": 6010,
        "sku": "TEE-GRN",
        "name": "Green tee",
        "quantity": 3,
        "price_ex_tax": "20.00",
        "price_inc_tax": "21.60",
        "applied_discounts": [{"code": "SAVE5", "amount": "5.00", "target": "order"}],
        "total_tax": "4.40",
    }
    return {
        "id": 3001,
        "products": [tee],
        "coupon_discount": "5.00",
        "shipping": {"cost_ex_tax": "10.00", "cost_inc_tax": "10.80"},
    }


def test_discounted_taxed_order_refunds_one_unit_as_planned(
    sandbox: Sandbox, connector: BigCommerceConnector
) -> None:
    seeded = sandbox.seed_order(**discounted_order())
    order = connector.get_order("3001")
    assert order.amount_paid == 7020  # 60.00 - 5.00 + 4.40 + 10.80
    (tee,) = order.line_items
    assert [(d.amount, d.code, d.level) for d in tee.discount_allocations] == [
        (500, "SAVE5", "order")
    ]
    assert [t.amount for t in tee.tax_lines] == [440]
    assert order.order_discounts == ()
    line_id = str(seeded["products"][0]["id"])
    command = RefundCommand(
        order_id="3001",
        currency="USD",
        idempotency_key="rb-discount-1",
        lines=(RefundLineCommand(line_id=line_id, quantity=1),),
        tenders=(TenderCommand(amount=1980),),
        money=RefundMoney(
            lines=(LineMoney(line_id=line_id, quantity=1, subtotal=1833, tax=147),), total=1980
        ),
    )
    suggested = connector.suggest_refund(command)
    assert (suggested.subtotal, suggested.tax, suggested.total) == (1833, 147, 1980)
    assert connector.create_refund(command).total == 1980


def test_quote_that_disagrees_with_the_plan_refunds_nothing(
    sandbox: Sandbox, connector: BigCommerceConnector
) -> None:
    seeded = sandbox.seed_order()
    plan = towel_refund(seeded, "rb-disagree")
    assert plan.money is not None
    wrong = plan.model_copy(update={"money": plan.money.model_copy(update={"total": 5000})})
    with pytest.raises(PermanentError) as raised:
        connector.create_refund(wrong)
    assert raised.value.code == "QUOTE_DIFFERS"
    assert (raised.value.details["planned"], raised.value.details["quoted"]) == (5000, 5500)
    assert sandbox.journal("createOrderRefund") == []
    assert connector.list_refunds(str(ORDER_ID)) == []


def test_refund_reason_carries_the_key_and_store_credit_is_chosen_when_asked(
    sandbox: Sandbox, connector: BigCommerceConnector
) -> None:
    seeded = sandbox.seed_order()
    command = towel_refund(
        seeded,
        "rb-credit-1",
        tenders=(TenderCommand(amount=5500, method="store_credit"),),
        note="damaged in transit",
    )
    made = connector.create_refund(command)
    assert made.note == "returnbridge rb-credit-1 damaged in transit"
    assert made.idempotency_key == "rb-credit-1"
    state = sandbox.get(f"/_sandbox/stores/{STORE}/orders/{ORDER_ID}")
    assert [p["provider_id"] for p in state["refunds"][0]["payments"]] == ["storecredit"]


def test_suggest_refund_carries_the_quote(
    sandbox: Sandbox, connector: BigCommerceConnector
) -> None:
    seeded = sandbox.seed_order()
    suggested = connector.suggest_refund(towel_refund(seeded, "rb-suggest"))
    assert (suggested.total, suggested.subtotal, suggested.tax) == (5500, 5000, 500)
    assert [(t.amount, t.gateway) for t in suggested.tenders] == [(5500, "braintree")]
    plan = towel_refund(seeded, "rb-suggest-2")
    assert plan.money is not None
    off = plan.model_copy(update={"money": plan.money.model_copy(update={"total": 5400})})
    disagreeing = connector.suggest_refund(off)
    assert disagreeing.total == 5500  # the quote's figures, spread over the lines


def test_lost_answer_is_found_by_key_and_not_paid_twice(sandbox: Sandbox, sleeps: Sleeps) -> None:
    seeded = sandbox.seed_order()
    sandbox.fault("timeout_after_commit", operation="createOrderRefund", delay=2.0)
    impatient = make_connector(sandbox, sleeps, timeout=0.5)
    try:
        made = impatient.create_refund(towel_refund(seeded, "rb-lost-1"))
    finally:
        impatient.close()
    assert made.idempotency_key == "rb-lost-1"
    writes = sandbox.journal("createOrderRefund")
    assert [(e["effect"], str(e["refund_id"])) for e in writes] == [("refund_created", made.id)]


def test_a_refund_while_another_is_processed_is_transient_and_not_ambiguous(
    sandbox: Sandbox, connector: BigCommerceConnector, sleeps: Sleeps
) -> None:
    seeded = sandbox.seed_order()
    sandbox.fault("latency", operation="createOrderRefund", delay=1.0)
    first: list[Any] = []
    worker = threading.Thread(
        target=lambda: first.append(connector.create_refund(towel_refund(seeded, "rb-first")))
    )
    worker.start()
    try:
        for _ in range(2000):  # bounded: until the first refund is being processed
            if sandbox.get(f"/_sandbox/stores/{STORE}/orders/{ORDER_ID}")["refund_in_progress"]:
                break
        other = make_connector(sandbox, sleeps)
        try:
            with pytest.raises(TransientError) as busy:
                other.create_refund(towel_refund(seeded, "rb-second"))
        finally:
            other.close()
    finally:
        worker.join(timeout=10)
    assert busy.value.code == "REFUND_IN_PROGRESS"
    assert busy.value.details["ambiguous"] is False
    assert [r.idempotency_key for r in first] == ["rb-first"]
    assert [r.idempotency_key for r in connector.list_refunds(str(ORDER_ID))] == ["rb-first"]


def test_throttled_refund_waits_as_told_then_succeeds(
    sandbox: Sandbox, connector: BigCommerceConnector, sleeps: Sleeps
) -> None:
    seeded = sandbox.seed_order()
    sandbox.fault("http_429", operation="createOrderRefund")
    made = connector.create_refund(towel_refund(seeded, "rb-429"))
    assert made.total == 5500
    assert len(sleeps.waits) == 1
    assert 0 < sleeps.waits[0] <= 30.0
    statuses = [e["http_status"] for e in sandbox.journal("createOrderRefund")]
    assert statuses == [429, 201]


def test_requests_left_are_followed_before_sending(sandbox: Sandbox, sleeps: Sleeps) -> None:
    sandbox.store(rate_quota=3)
    sandbox.seed_order()
    bc = make_connector(sandbox, sleeps)
    try:
        bc.client.get(f"v2/orders/{ORDER_ID}")
        bc.client.get(f"v2/orders/{ORDER_ID}")  # answers: 1 request left in the window
        assert sleeps.waits == []
        bc.client.get(f"v2/orders/{ORDER_ID}")
    finally:
        bc.close()
    (wait,) = sleeps.waits
    assert 0 < wait <= 30.0
    assert [e["http_status"] for e in sandbox.journal("getOrder")] == [200, 200, 200]


def test_persistent_429_is_rate_limited_with_the_platform_wait(
    sandbox: Sandbox, sleeps: Sleeps
) -> None:
    sandbox.seed_order()
    sandbox.fault("http_429", operation="getOrder", count=10)
    bc = make_connector(sandbox, sleeps)
    try:
        with pytest.raises(RateLimited) as raised:
            bc.get_order(str(ORDER_ID))
    finally:
        bc.close()
    assert raised.value.details["ambiguous"] is False
    assert len(sleeps.waits) == 3
    assert 0 < raised.value.retry_after <= 30.0


# ---------------------------------------------------------------------------- errors


def test_errors_are_typed_from_v2_and_v3_answers(
    sandbox: Sandbox, connector: BigCommerceConnector, sleeps: Sleeps
) -> None:
    seeded = sandbox.seed_order()
    with pytest.raises(NotFound):
        connector.get_order("404404")
    with pytest.raises(NotFound):
        connector.suggest_refund(towel_refund(seeded, "rb-x", order_id="404404"))
    with pytest.raises(Rejected) as refused:
        connector.suggest_refund(towel_refund(seeded, "rb-y", quantity=5))
    assert "Requested quantity exceeds the refundable quantity" in refused.value.message
    wrong = BigCommerceConnector(
        STORE, "wrong-token", base_url=sandbox.url, limiter=WindowLimiter(sleep=sleeps)
    )
    try:
        with pytest.raises(AuthError) as denied:
            wrong.get_order(str(ORDER_ID))
    finally:
        wrong.close()
    assert "wrong-token" not in str(denied.value)
    sandbox.fault("http_500", operation="getOrder")
    with pytest.raises(TransientError) as failed_read:
        connector.get_order(str(ORDER_ID))
    assert failed_read.value.details["ambiguous"] is False


# ---------------------------------------------------------------------------- restock


def test_restock_adjusts_stock_at_the_location_with_the_key(
    sandbox: Sandbox, connector: BigCommerceConnector
) -> None:
    seeded = sandbox.seed_order()
    sandbox.post(f"/_sandbox/stores/{STORE}/stock", {"sku": "TOWEL-1", "level": 4})
    towel_id = str(seeded["products"][0]["id"])
    result = connector.restock(
        RestockCommand(
            order_id=str(ORDER_ID),
            key="rb-restock-1",
            lines=(RestockLine(line_id=towel_id, quantity=2),),
            location_id="1",
        )
    )
    assert sandbox.stock("TOWEL-1", "1") == 6
    assert result.location_id == "1"
    assert [(x.line_id, x.quantity) for x in result.lines] == [(towel_id, 2)]
    (adjustment,) = sandbox.get(f"/_sandbox/stores/{STORE}/adjustments")
    assert adjustment["transaction_id"] == result.reference
    assert adjustment["reason"].startswith("returnbridge rb-restock-1 ")


def test_restock_after_the_order_was_read_reads_no_products_again(
    sandbox: Sandbox, connector: BigCommerceConnector
) -> None:
    seeded = sandbox.seed_order()
    connector.get_order(str(ORDER_ID))
    line = RestockLine(line_id=str(seeded["products"][0]["id"]), quantity=1)
    command = RestockCommand(order_id=str(ORDER_ID), key="k3", lines=(line,), location_id="1")
    connector.restock(command)
    assert len(sandbox.journal("getOrderProducts")) == 1
    assert sandbox.stock("TOWEL-1", "1") == 1


def test_restock_without_location_uses_the_first_active_one(
    sandbox: Sandbox, connector: BigCommerceConnector
) -> None:
    seeded = sandbox.seed_order()
    line = RestockLine(line_id=str(seeded["products"][1]["id"]), quantity=1)
    result = connector.restock(RestockCommand(order_id=str(ORDER_ID), key="k2", lines=(line,)))
    assert result.location_id == "1"
    assert sandbox.stock("MUG-1", "1") == 1


def test_factory_builds_one_limiter_per_connection(sandbox: Sandbox) -> None:
    state: dict[str, Any] = {}
    credentials = {"store_hash": STORE, "access_token": TOKEN}
    first = from_connection(sandbox.url, credentials, 5.0, state, {"restock_location_id": 1})
    second = from_connection(sandbox.url, credentials, 5.0, state, {})
    try:
        assert first.client.limiter is second.client.limiter is state["limiter"]
        assert first.default_location_id == "1"
        assert [loc.id for loc in second.list_locations()] == ["1", "2"]
    finally:
        first.close()
        second.close()
    with pytest.raises(PermanentError):
        from_connection(sandbox.url, {"store_hash": STORE}, 5.0, {}, {})


# ---------------------------------------------------------------------------- the specs


def _openapi_nullable(node: Any) -> Any:
    """OpenAPI 3.0 `nullable: true` as JSON Schema (`type: [t, "null"]`)."""
    if isinstance(node, list):
        return [_openapi_nullable(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _openapi_nullable(v) for k, v in node.items()}
    if out.pop("nullable", False) is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


@cache
def _spec(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = _openapi_nullable(
        yaml.safe_load((SPEC_DIR / name).read_text(encoding="utf-8"))
    )
    return loaded


def _operation(spec: dict[str, Any], operation_id: str) -> dict[str, Any]:
    for operations in spec["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                return operation
    raise AssertionError(f"no operation {operation_id}")


def _json_schema(spec: dict[str, Any], holder: dict[str, Any]) -> dict[str, Any]:
    """The application/json schema of a request body or response (following a $ref)."""
    ref = holder.get("$ref")
    if isinstance(ref, str):
        _, kind, name = ref.removeprefix("#/").split("/")
        holder = spec["components"][kind][name]
    content = holder["content"]
    media = content.get("application/json") or content["application/problem+json"]
    schema: dict[str, Any] = media["schema"]
    return schema


def _errors(spec_name: str, schema: dict[str, Any], instance: Any) -> list[str]:
    spec = _spec(spec_name)
    validator = jsonschema_rs.Draft4Validator({"components": spec["components"], "allOf": [schema]})
    return [str(error) for error in validator.iter_errors(instance)]


OPERATIONS = {  # (method, path suffix) -> (spec file, operationId)
    ("POST", "/refund_quotes"): ("orders.v3.yml", "createOrderRefundQuotes"),
    ("POST", "/payment_actions/refunds"): ("orders.v3.yml", "createOrderRefund"),
    ("GET", "/orders/payment_actions/refunds"): ("orders.v3.yml", "getOrdersRefunds"),
    ("GET", "/products"): ("orders.v2.oas2.yml", "getOrderProducts"),
    ("GET", "/shipping_addresses"): ("orders.v2.oas2.yml", "getOrderShippingAddresses"),
    ("GET", "/v2/orders"): ("orders.v2.oas2.yml", "getOrders"),
    ("POST", "/inventory/adjustments/relative"): ("inventory.v3.yml", "post-relative-adjustment"),
    ("GET", "/inventory/locations"): ("locations.v3.yml", "getLocations"),
}


def _operation_of(method: str, path: str) -> tuple[str, str]:
    for (wanted, suffix), found in OPERATIONS.items():
        if method == wanted and path.endswith(suffix):
            return found
    if method == "GET" and "/v2/orders/" in path:
        return ("orders.v2.oas2.yml", "getOrder")
    raise AssertionError(f"no operation for {method} {path}")


def test_every_body_sent_and_answered_validates_against_the_official_specs(
    sandbox: Sandbox, connector: BigCommerceConnector, wire: Wire
) -> None:
    seeded = sandbox.seed_order()
    address_id = str(seeded["shipping_addresses"][0]["id"])
    base = towel_refund(seeded, "rb-spec-1")
    assert base.money is not None
    money = base.money.model_copy(
        update={
            "shipping": (ShippingMoney(shipping_line_id=address_id, amount=250, tax=50),),
            "total": 5800,
        }
    )
    connector.create_refund(base.model_copy(update={"money": money, "expected_total": 5800}))
    connector.get_order(str(ORDER_ID))
    connector.find_orders(OrderQuery(email="ann@example.com", skus=("TOWEL-1",)))
    connector.restock(
        RestockCommand(
            order_id=str(ORDER_ID),
            key="rb-spec-1",
            lines=(RestockLine(line_id=str(seeded["products"][0]["id"]), quantity=1),),
        )
    )
    checked: set[str] = set()
    for method, path, body in wire.requests:
        if body is None:
            continue
        spec_name, operation_id = _operation_of(method, path)
        operation = _operation(_spec(spec_name), operation_id)
        schema = _json_schema(_spec(spec_name), operation["requestBody"])
        assert _errors(spec_name, schema, body) == [], (operation_id, body)
        checked.add(f"request {operation_id}")
    for method, path, status, body in wire.responses:
        spec_name, operation_id = _operation_of(method, path)
        responses = _operation(_spec(spec_name), operation_id)["responses"]
        schema = _json_schema(_spec(spec_name), responses[str(status)])
        problems = _errors(spec_name, schema, body)
        assert problems == [], (operation_id, status, problems)
        checked.add(f"response {operation_id}")
    assert checked >= {
        "request createOrderRefundQuotes",
        "request createOrderRefund",
        "request post-relative-adjustment",
        "response createOrderRefundQuotes",
        "response createOrderRefund",
        "response getOrdersRefunds",
        "response getOrder",
        "response getOrders",
        "response getOrderProducts",
        "response getOrderShippingAddresses",
        "response post-relative-adjustment",
        "response getLocations",
    }


def test_error_answers_validate_against_the_official_specs(
    sandbox: Sandbox, connector: BigCommerceConnector, wire: Wire
) -> None:
    seeded = sandbox.seed_order()
    with pytest.raises(Rejected):
        connector.suggest_refund(towel_refund(seeded, "rb-err", quantity=5))
    with pytest.raises(Rejected):
        connector.restock(
            RestockCommand(
                order_id=str(ORDER_ID),
                key="rb-err",
                lines=(RestockLine(line_id=str(seeded["products"][0]["id"]), quantity=1),),
                location_id="9",
            )
        )
    with pytest.raises(NotFound):
        connector.get_order("404404")
    failures = [(m, p, s, b) for m, p, s, b in wire.responses if s >= 400]
    assert [s for _, _, s, _ in failures] == [422, 422, 404]
    for method, path, status, body in failures:
        spec_name, operation_id = _operation_of(method, path)
        responses = _operation(_spec(spec_name), operation_id)["responses"]
        schema = _json_schema(_spec(spec_name), responses[str(status)])
        assert _errors(spec_name, schema, body) == [], (operation_id, status, body)
    assert set(failures[0][3]) == {"status", "title", "type", "errors"}
