"""The SHOPLINE connector against the SHOPLINE sandbox served over real HTTP on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from returnbridge.connectors import registry
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
    ShippingMoney,
    TenderCommand,
)
from returnbridge.connectors.shopline import webhooks
from returnbridge.connectors.shopline.client import API_VERSION
from returnbridge.connectors.shopline.connector import ShoplineConnector, from_connection
from returnbridge.connectors.shopline.limits import LeakyBucket
from returnbridge.connectors.shopline.returns import ReturnLineRequest
from returnbridge.domain.errors import (
    AuthError,
    NotFound,
    PermanentError,
    RateLimited,
    Rejected,
    TransientError,
)
from returnbridge.sandbox.shopline import BackgroundServer
from support.control import ControlSurface

STORE = "acme"
TOKEN = "shopline-contract-token"
SECRET = "shopline-app-secret"
HOOK_STORE = "acmehooks"
LOCATION = "5409000000000000011"
OTHER_LOCATION = "5409000000000000012"
ORDER_ID = "21050000000000000000000501"
MISSING_ORDER_ID = "21050000000000000000009999"


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer() as running:
        yield running


class Sandbox(ControlSurface):
    """The `/_sandbox` control surface."""

    def store(self, handle: str = STORE, **options: Any) -> dict[str, Any]:
        made: dict[str, Any] = self.post(
            "/_sandbox/stores",
            {
                "handle": handle,
                "access_token": TOKEN if handle == STORE else f"{TOKEN}-{handle}",
                "app_secret": SECRET,
                "locations": [
                    {"id": LOCATION, "name": "Main warehouse"},
                    {"id": OTHER_LOCATION, "name": "Closed shop", "active": False},
                ],
                **options,
            },
        )
        return made

    def seed_order(self, handle: str = STORE, **overrides: Any) -> dict[str, Any]:
        order: dict[str, Any] = self.post(
            f"/_sandbox/stores/{handle}/orders", {**order_seed(), **overrides}
        )
        return order

    def order_state(self, order_id: str = ORDER_ID) -> dict[str, Any]:
        state: dict[str, Any] = self.get(f"/_sandbox/stores/{STORE}/orders/{order_id}")
        return state

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
    """The order every platform has: 3 tees at 20.00, a 5.00 coupon, 8 % tax after it (4.40),
    shipping 10.00 + 0.80; one PayPal payment of 70.20. One tee refunds 19.80."""
    return {
        "id": ORDER_ID,
        "name": "#1001",
        "email": "ann@example.com",
        "created_at": "2026-03-05T21:40:11+00:00",
        "discount_applications": [
            {
                "code": "SAVE5",
                "value": "5.00",
                "value_type": "fixed_amount",
                "target_type": "line_item",
                "allocation_method": "across",
            }
        ],
        "line_items": [
            {
                "sku": "TEE-1",
                "title": "Tee",
                "quantity": 3,
                "price": "20.00",
                "discount_allocations": [{"amount": "5.00", "discount_application_index": 0}],
                "tax_lines": [{"title": "VAT", "rate": "0.08"}],
            }
        ],
        "shipping_lines": [
            {
                "title": "Standard",
                "price": "10.00",
                "tax_lines": [{"title": "VAT", "rate": "0.08", "price": "0.80"}],
            }
        ],
    }


@dataclass
class Sleeps:
    """Records in-process waits instead of sleeping."""

    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@dataclass
class Wire:
    """Every request the connector sent, as SHOPLINE received it: method, path, query,
    headers and JSON body."""

    requests: list[tuple[str, str, dict[str, str], dict[str, str], Any]] = field(
        default_factory=list
    )

    def on_response(self, response: httpx.Response) -> None:
        request = response.request  # after every request hook ran
        body = json.loads(request.content) if request.content else None
        query = dict(request.url.params)
        self.requests.append((request.method, request.url.path, query, dict(request.headers), body))

    def bodies(self, suffix: str) -> list[Any]:
        return [body for _, path, _, _, body in self.requests if path.endswith(suffix)]


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
    sandbox: Sandbox,
    sleeps: Sleeps,
    *,
    timeout: float = 5.0,
    wire: Wire | None = None,
    token: str = TOKEN,
    **options: Any,
) -> ShoplineConnector:
    hooks: dict[str, list[Any]] = {"response": [wire.on_response]} if wire is not None else {}
    return ShoplineConnector(
        f"{sandbox.url}/stores/{STORE}",
        token,
        http=httpx.Client(timeout=timeout, event_hooks=hooks),
        limiter=LeakyBucket(sleep=sleeps),
        timeout=timeout,
        **options,
    )


@pytest.fixture
def connector(sandbox: Sandbox, sleeps: Sleeps, wire: Wire) -> Iterator[ShoplineConnector]:
    made = make_connector(sandbox, sleeps, wire=wire)
    yield made
    made.close()


def line_id(seeded: Mapping[str, Any], index: int = 0) -> str:
    return str(seeded["line_items"][index]["id"])


def tee_refund(
    seeded: Mapping[str, Any], key: str, *, quantity: int = 1, **overrides: Any
) -> RefundCommand:
    """`quantity` tees back, restocked at the main warehouse: 18.33 + 1.47 tax for one."""
    subtotal, tax = {1: (1833, 147), 2: (3667, 293), 3: (5500, 440)}[quantity]
    tee = line_id(seeded)
    values: dict[str, Any] = {
        "order_id": str(seeded["id"]),
        "currency": "USD",
        "idempotency_key": key,
        "lines": (
            RefundLineCommand(
                line_id=tee, quantity=quantity, restock="return", location_id=LOCATION
            ),
        ),
        "tenders": (TenderCommand(amount=subtotal + tax),),
        "note": "customer return",
        "expected_total": subtotal + tax,
        "money": RefundMoney(
            lines=(LineMoney(line_id=tee, quantity=quantity, subtotal=subtotal, tax=tax),),
            total=subtotal + tax,
        ),
    }
    values.update(overrides)
    return RefundCommand(**values)


class ShoplineControls:
    """The conformance suite's view of the SHOPLINE sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def fail_next_refund(self, fault: str) -> None:
        options: dict[str, Any] = {"count": 1, "operation": "create_refund"}
        if fault == "timeout_after_commit":
            options["delay"] = 2.0
        self.sandbox.fault(fault, **options)

    def refund_writes(self) -> list[str | None]:
        return [
            str(e["refund_id"]) if e["effect"] == "refund_created" else None
            for e in self.sandbox.journal("create_refund")
        ]

    def stock(self, sku: str, location_id: str) -> int:
        return self.sandbox.stock(sku, location_id)


def verifier(*secrets: str) -> Any:
    def verify(raw: bytes, received: Mapping[str, str]) -> bool:
        try:
            webhooks.verify_delivery(raw, received, list(secrets))
        except AuthError:
            return False
        return True

    return verify


def real_delivery(sandbox: Sandbox, **store_options: Any) -> dict[str, Any]:
    """A `refunds/create` delivery the sandbox made and signed (on another store, so the main
    store's journal stays untouched)."""
    sandbox.store(HOOK_STORE, **store_options)
    seeded = sandbox.seed_order(HOOK_STORE)
    base = f"/stores/{HOOK_STORE}/admin/openapi/{API_VERSION}"
    headers = {"Authorization": f"Bearer {TOKEN}-{HOOK_STORE}"}
    lines = [{"line_item_id": line_id(seeded), "quantity": 1, "type": "Returned"}]
    with httpx.Client(base_url=sandbox.url, headers=headers) as http:
        trial = http.post(
            f"{base}/orders/{seeded['id']}/refunds/calculate.json",
            json={"refund_line_items": lines},
        )
        assert trial.status_code == 200, trial.text
        (slip,) = trial.json()["refund"]["transactons"]
        made = http.post(
            f"{base}/order/refund.json",
            json={
                "order_id": seeded["id"],
                "refund_line_items": lines,
                "transactions": [
                    {
                        "id": slip["parent_id"],
                        "gateway": slip["gateway"],
                        "kind": "refund",
                        "amount": slip["amount"],
                    }
                ],
            },
        )
        assert made.status_code == 200, made.text
    deliveries: list[dict[str, Any]] = sandbox.get(
        f"/_sandbox/stores/{HOOK_STORE}/webhooks/deliveries"
    )
    return deliveries[0]


class TestShoplineConformance(ConnectorConformance):
    @pytest.fixture
    def conformance_case(
        self, sandbox: Sandbox, connector: ShoplineConnector, sleeps: Sleeps
    ) -> ConformanceCase:
        delivery = real_delivery(sandbox)
        seeded = sandbox.seed_order()
        sandbox.post(
            f"/_sandbox/stores/{STORE}/stock",
            {"sku": "TEE-1", "level": 10, "location_id": LOCATION},
        )
        return ConformanceCase(
            connector=connector,
            order_id=ORDER_ID,
            order_name="#1001",
            email="ann@example.com",
            sku="TEE-1",
            location_id=LOCATION,
            refund=tee_refund(seeded, "rb-conformance-1"),
            refund_total=1980,
            missing_order_id=MISSING_ORDER_ID,
            sandbox=ShoplineControls(sandbox),
            webhook=WebhookCase(
                body=delivery["body"].encode(),
                headers=delivery["headers"],
                verify=verifier("an-old-secret", SECRET),
            ),
            make_impatient=lambda: make_connector(sandbox, sleeps, timeout=0.5),
        )


# ---------------------------------------------------------------------------- reads


def test_order_maps_settlement_money_payments_and_fulfilment(
    sandbox: Sandbox, connector: ShoplineConnector
) -> None:
    seeded = sandbox.seed_order(presentment_currency="EUR", exchange_rate="0.9")
    order = connector.get_order(ORDER_ID)
    assert (order.currency, order.shop_currency, order.name) == ("USD", "USD", "#1001")
    assert order.amount_paid == 7020  # 60.00 - 5.00 + 4.40 + 10.00 + 0.80
    (tee,) = order.line_items
    assert (tee.unit_price, tee.quantity, tee.fulfilled_quantity) == (2000, 3, 3)
    assert [d.amount for d in tee.discount_allocations] == [500]
    assert [t.amount for t in tee.tax_lines] == [440]
    (shipping,) = order.shipping_lines
    assert (shipping.price, [t.amount for t in shipping.tax_lines]) == (1000, [80])
    (payment,) = order.payments
    assert (payment.id, payment.gateway, payment.amount) == (
        str(seeded["transactions"][0]["id"]),
        "Paypal",
        7020,
    )


def test_find_orders_by_name_email_and_pages_through_link_headers(
    sandbox: Sandbox, sleeps: Sleeps, wire: Wire
) -> None:
    sandbox.seed_order()
    for n in range(2, 7):
        sandbox.seed_order(id=f"2105000000000000000000050{n}", name=f"#100{n}", email="bo@x.com")
    paging = make_connector(sandbox, sleeps, wire=wire, search_page_size=2)
    try:
        assert [o.id for o in paging.find_orders(OrderQuery(name="1001"))] == [ORDER_ID]
        assert paging.find_orders(OrderQuery(name="#1001", email="bo@x.com")) == []
        hits = paging.find_orders(OrderQuery(email="BO@x.com"))
        assert [o.name for o in hits] == ["#1002", "#1003", "#1004", "#1005", "#1006"]
        assert paging.find_orders(OrderQuery(skus=("TEE-1",))) == []  # nothing to filter on
    finally:
        paging.close()
    listed = [(q, h) for _, path, q, h, _ in wire.requests if path.endswith("/orders.json")]
    by_email = [q for q, _ in listed if "name" not in q and ("email" in q or "page_info" in q)]
    assert len(by_email) == 3
    assert by_email[0] == {"status": "any", "limit": "2", "email": "BO@x.com"}
    assert all(set(q) == {"page_info", "limit"} for q in by_email[1:])


def test_locations_and_their_state(connector: ShoplineConnector) -> None:
    locations = {loc.id: loc for loc in connector.list_locations()}
    assert (locations[LOCATION].name, locations[LOCATION].active) == ("Main warehouse", True)
    assert not locations[OTHER_LOCATION].active


def test_every_call_is_json_with_charset_bearer_and_no_trace_of_ours(
    sandbox: Sandbox, connector: ShoplineConnector, wire: Wire
) -> None:
    seeded = sandbox.seed_order()
    connector.suggest_refund(tee_refund(seeded, "rb-wire"))
    assert wire.requests
    for method, path, _, headers, _ in wire.requests:
        assert f"/admin/openapi/{API_VERSION}/" in path
        assert headers["authorization"] == f"Bearer {TOKEN}"
        assert "traceid" not in {h.lower() for h in headers}
        if method == "POST":
            assert headers["content-type"] == "application/json; charset=utf-8"


# ---------------------------------------------------------------------------- refunds


def test_lines_are_typed_returned_for_shipped_units_and_unshipped_for_the_rest(
    sandbox: Sandbox, connector: ShoplineConnector, wire: Wire
) -> None:
    seeded = sandbox.seed_order(
        line_items=[{**order_seed()["line_items"][0], "fulfilled": 2}],
    )
    tee = line_id(seeded)
    command = RefundCommand(
        order_id=ORDER_ID,
        currency="USD",
        idempotency_key="rb-typed",
        lines=(
            RefundLineCommand(line_id=tee, quantity=2, restock="return", location_id=LOCATION),
            RefundLineCommand(line_id=tee, quantity=1, restock="cancel"),
        ),
        tenders=(TenderCommand(amount=5940),),
        money=RefundMoney(
            lines=(LineMoney(line_id=tee, quantity=3, subtotal=5500, tax=440),), total=5940
        ),
    )
    suggested = connector.suggest_refund(command)
    assert [(x.line_id, x.quantity, x.subtotal, x.tax) for x in suggested.lines] == [
        (tee, 3, 5500, 440)
    ]
    (trial,) = wire.bodies("/refunds/calculate.json")
    assert trial["refund_line_items"] == [
        {"line_item_id": tee, "quantity": 2, "type": "Returned"},
        {"line_item_id": tee, "quantity": 1, "type": "Unshipped"},
    ]
    made = connector.create_refund(command)
    assert made.total == 5940
    (sent,) = wire.bodies("/order/refund.json")
    assert [
        (x["quantity"], x["type"], x["restock_type"], x["location_id"])
        for x in sent["refund_line_items"]
    ] == [(2, "Returned", "return", LOCATION), (1, "Unshipped", "cancel", LOCATION)]
    assert sandbox.order_state()["refunded"] == {tee: {"Returned": 2, "Unshipped": 1}}
    assert sandbox.stock("TEE-1", LOCATION) == 3


def test_transactions_name_the_payment_slip_and_carry_the_plans_amounts(
    sandbox: Sandbox, connector: ShoplineConnector, wire: Wire
) -> None:
    seeded = sandbox.seed_order(
        payments=[
            {"gateway": "Paypal", "amount": "10.00"},
            {"gateway": "Stripe", "amount": "60.20"},
        ]
    )
    slips = [str(t["id"]) for t in seeded["transactions"]]
    command = tee_refund(
        seeded, "rb-slips", tenders=(TenderCommand(amount=1980, parent_id=slips[1]),)
    )
    made = connector.create_refund(command)
    assert made.total == 1980
    (sent,) = wire.bodies("/order/refund.json")
    assert [(t["id"], t["gateway"], t["amount"], t["currency"]) for t in sent["transactions"]] == [
        (slips[1], "Stripe", "19.80", "USD")
    ]
    assert sent["order_id"] == ORDER_ID
    assert sent["note"] == "returnbridge rb-slips customer return"


def test_shipping_is_refunded_and_shows_on_the_order(
    sandbox: Sandbox, connector: ShoplineConnector
) -> None:
    seeded = sandbox.seed_order()
    base = tee_refund(seeded, "rb-ship")
    assert base.money is not None
    money = base.money.model_copy(
        update={
            "shipping": (ShippingMoney(shipping_line_id="shipping-0", amount=500, tax=40),),
            "total": 2520,
        }
    )
    command = base.model_copy(
        update={
            "money": money,
            "shipping_amount": 500,
            "tenders": (TenderCommand(amount=2520),),
        }
    )
    suggested = connector.suggest_refund(command)
    assert (suggested.shipping_amount, suggested.shipping_tax, suggested.total) == (500, 40, 2520)
    made = connector.create_refund(command)
    assert (made.total, made.shipping) == (2520, 500)
    (shipping,) = connector.get_order(ORDER_ID).shipping_lines
    assert (shipping.already_refunded, shipping.already_refunded_tax) == (500, 40)


def test_a_refund_in_another_currency_than_the_settlement_one_is_refused_before_sending(
    sandbox: Sandbox, connector: ShoplineConnector
) -> None:
    seeded = sandbox.seed_order(presentment_currency="EUR", exchange_rate="0.9")
    command = tee_refund(seeded, "rb-eur", currency="EUR")
    for call in (connector.suggest_refund, connector.create_refund):
        with pytest.raises(PermanentError) as refused:
            call(command)
        assert refused.value.code == "CURRENCY_MISMATCH"
        assert "settlement currency USD" in refused.value.message
    assert sandbox.journal("calculate_refund") == []
    assert sandbox.journal("create_refund") == []


def test_a_second_call_with_the_same_key_returns_the_first_refund_without_writing(
    sandbox: Sandbox, connector: ShoplineConnector
) -> None:
    seeded = sandbox.seed_order()
    first = connector.create_refund(tee_refund(seeded, "rb-twice"))
    again = connector.create_refund(tee_refund(seeded, "rb-twice"))
    assert again.id == first.id
    assert len(sandbox.journal("create_refund")) == 1


def test_goods_only_refunds_are_refused_with_a_reason(
    sandbox: Sandbox, connector: ShoplineConnector
) -> None:
    seeded = sandbox.seed_order()
    with pytest.raises(PermanentError) as refused:
        connector.create_refund(tee_refund(seeded, "rb-goods", tenders=(), money=None))
    assert refused.value.code == "NO_MONEY_TO_REFUND"
    assert sandbox.journal("create_refund") == []


def test_a_refusal_keeps_shoplines_words_and_trace_id(
    sandbox: Sandbox, connector: ShoplineConnector
) -> None:
    seeded = sandbox.seed_order()
    with pytest.raises(Rejected) as refused:
        connector.suggest_refund(
            tee_refund(seeded, "rb-too-many", quantity=3).model_copy(
                update={"lines": (RefundLineCommand(line_id=line_id(seeded), quantity=4),)}
            )
        )
    (entry,) = sandbox.journal("calculate_refund")
    assert "quantity exceeds refundable quantity" in refused.value.message
    assert f"(traceId {entry['trace_id']})" in refused.value.message
    assert refused.value.request_id == entry["trace_id"]


# ---------------------------------------------------------------------------- limits and errors


def test_a_throttled_refund_waits_shoplines_retry_after_then_succeeds(
    sandbox: Sandbox, connector: ShoplineConnector, sleeps: Sleeps
) -> None:
    seeded = sandbox.seed_order()
    sandbox.fault("throttled", operation="create_refund")
    made = connector.create_refund(tee_refund(seeded, "rb-429"))
    assert made.total == 1980
    assert sleeps.waits == [1.0]  # the sandbox's Retry-After
    assert [e["http_status"] for e in sandbox.journal("create_refund")] == [429, 200]


def test_persistent_429_is_rate_limited_with_the_wait_and_trace_id(
    sandbox: Sandbox, connector: ShoplineConnector, sleeps: Sleeps
) -> None:
    sandbox.seed_order()
    sandbox.fault("throttled", operation="get_order", count=10)
    with pytest.raises(RateLimited) as raised:
        connector.get_order(ORDER_ID)
    assert raised.value.details["ambiguous"] is False
    assert raised.value.retry_after == 1.0
    assert len(sleeps.waits) == 3
    entries = sandbox.journal("get_order")
    assert [e["http_status"] for e in entries] == [429] * 4
    assert f"(traceId {entries[-1]['trace_id']})" in raised.value.message
    assert "Too many request" in raised.value.message


@dataclass
class SharedClock:
    """One clock for the sandbox's bucket and ours; sleeping moves it on."""

    now: float = 1_772_700_000.0
    waits: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def test_our_bucket_keeps_a_burst_under_shoplines_40_at_4_per_second() -> None:
    clock = SharedClock()
    with BackgroundServer(clock=clock) as running:
        control = Sandbox(running.url)
        try:
            control.store()
            control.seed_order()
            ours = ShoplineConnector(
                f"{running.url}/stores/{STORE}",
                TOKEN,
                limiter=LeakyBucket(reserve=0, clock=clock, sleep=clock.sleep),
            )
            careless = ShoplineConnector(
                f"{running.url}/stores/{STORE}",
                TOKEN,
                limiter=LeakyBucket(capacity=10_000, clock=clock, sleep=clock.sleep),
            )
            try:
                for _ in range(44):
                    ours.get_order(ORDER_ID)
                assert clock.waits == [pytest.approx(0.25)] * 4
                assert all(e["http_status"] == 200 for e in control.journal("get_order"))
                careless.get_order(ORDER_ID)  # the sandbox's bucket is full: 429, wait, retry
                statuses = [e["http_status"] for e in control.journal("get_order")]
                assert statuses[-2:] == [429, 200]
                assert clock.waits[-1] >= 1.0
            finally:
                ours.close()
                careless.close()
        finally:
            control.close()


def test_errors_are_typed_and_never_show_the_token(
    sandbox: Sandbox, connector: ShoplineConnector, sleeps: Sleeps
) -> None:
    sandbox.seed_order()
    with pytest.raises(NotFound) as missing:
        connector.get_order(MISSING_ORDER_ID)
    assert "(traceId " in missing.value.message
    with pytest.raises(NotFound):
        connector.get_order("not-a-number")
    wrong = make_connector(sandbox, sleeps, token="wrong-token")
    try:
        with pytest.raises(AuthError) as denied:
            wrong.get_order(ORDER_ID)
    finally:
        wrong.close()
    assert "wrong-token" not in str(denied.value)
    assert "reconnect the store" in denied.value.message
    sandbox.fault("server_error", operation="get_order")
    with pytest.raises(TransientError) as failed:
        connector.get_order(ORDER_ID)
    assert failed.value.details["ambiguous"] is False
    sandbox.fault("unavailable", operation="create_refund")
    seeded_refund = tee_refund(sandbox.order_state()["order"], "rb-503")
    with pytest.raises(TransientError) as lost:
        connector.create_refund(seeded_refund)
    assert lost.value.details["ambiguous"] is True  # looked for, not found, still ambiguous
    assert connector.list_refunds(ORDER_ID) == []


# ---------------------------------------------------------------------------- returns


def test_a_return_is_opened_against_its_fulfillment_and_closed(
    sandbox: Sandbox, connector: ShoplineConnector
) -> None:
    seeded = sandbox.seed_order()
    tee = line_id(seeded)
    opened = connector.open_return(
        ORDER_ID,
        [ReturnLineRequest(line_id=tee, quantity=2, reason="SIZE_TOO_SMALL", note="tight")],
        reason="too small",
    )
    assert (opened.order_id, opened.status, opened.reason) == (ORDER_ID, "OPEN", "too small")
    (line,) = opened.lines
    assert (line.line_id, line.quantity, line.reason) == (tee, 2, "SIZE_TOO_SMALL")
    assert line.fulfillment_id == str(seeded["fulfillments"][0]["id"])
    assert [r.id for r in connector.list_returns(ORDER_ID)] == [opened.id]
    closed = connector.close_return(opened.id, order_id=ORDER_ID)
    assert (closed.id, closed.status, closed.is_open) == (opened.id, "CLOSED", False)
    assert connector.close_return(opened.id).status == "CLOSED"  # closing again is done
    # one unit is left to return; more is refused here, before SHOPLINE is asked
    with pytest.raises(PermanentError) as too_many:
        connector.open_return(ORDER_ID, [ReturnLineRequest(line_id=tee, quantity=2)])
    assert too_many.value.code == "NOT_SHIPPED"
    again = connector.open_return(ORDER_ID, [ReturnLineRequest(line_id=tee, quantity=1)])
    assert [x.quantity for x in again.lines] == [1]
    assert [e["effect"] for e in sandbox.journal("create_return")] == [
        "return_created",
        "return_created",
    ]
    refunded = sandbox.order_state()["refunded"]  # returns move no money
    assert all(n == 0 for kinds in refunded.values() for n in kinds.values())
    deliveries = sandbox.get(f"/_sandbox/stores/{STORE}/webhooks/deliveries")
    assert [d["topic"] for d in deliveries] == ["return/create", "return/update", "return/create"]
    verify = verifier(SECRET)
    assert all(verify(d["body"].encode(), d["headers"]) for d in deliveries)
    with pytest.raises(NotFound):
        connector.close_return("26058999999999999999")


# ---------------------------------------------------------------------------- webhooks, factory


def test_base64_signed_deliveries_verify_too(sandbox: Sandbox) -> None:
    delivery = real_delivery(sandbox, webhook_signature_encoding="base64")
    assert not all(c in "0123456789abcdef" for c in delivery["headers"]["X-Shopline-Hmac-Sha256"])
    made = webhooks.verify_delivery(delivery["body"].encode(), delivery["headers"], SECRET)
    assert made.topic == "refunds/create"
    assert made.dedupe_key


def test_factory_shares_one_bucket_per_connection_and_needs_a_token(sandbox: Sandbox) -> None:
    sandbox.seed_order()
    state: dict[str, Any] = {}
    credentials = {"access_token": TOKEN}
    url = f"{sandbox.url}/stores/{STORE}"
    first = from_connection(url, credentials, 5.0, state, {"restock_location_id": LOCATION})
    second = registry.build_connector(
        "shopline", url, credentials, timeout=5.0, state=state, settings={}
    )
    try:
        assert isinstance(second, ShoplineConnector)
        assert first.client.limiter is second.client.limiter is state["limiter"]
        assert first.default_location_id == LOCATION
        assert second.get_order(ORDER_ID).id == ORDER_ID
    finally:
        first.close()
        second.close()
    with pytest.raises(PermanentError):
        from_connection(url, {}, 5.0, {}, {})
    assert registry.capabilities("shopline") == ShoplineConnector.capabilities
    assert [f.name for f in registry.credential_fields("shopline")] == ["access_token"]
