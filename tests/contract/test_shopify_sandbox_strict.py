"""Contract tests of the Shopify sandbox: the rules that make it as strict as Shopify.

Each test names the rule it holds; the source of each rule is in the table of
``docs/sandbox-shopify.md`` ("Strictness rules").
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from contract import test_shopify_sandbox as base
from contract.test_shopify_sandbox import (
    GRAPHQL_PATH,
    REFUND_CREATE_WITHOUT_KEY,
    SHOP,
    TOKEN,
    create_refund,
    discounted_order,
    line,
    order_state,
    refund_input,
    refund_transaction,
    seed_order,
    user_errors,
)

# The base module's fixtures, shared by name: one server per module, reset per test.
shopify_sandbox_clock = base.shopify_sandbox_clock
shopify_sandbox_server = base.shopify_sandbox_server
shopify_sandbox = base.shopify_sandbox

LOCATION_1 = "gid://shopify/Location/1"


def two_location_shop(client: httpx.Client) -> None:
    response = client.post(
        "/_sandbox/shops",
        json={
            "domain": SHOP,
            "access_token": "shpat_alpha",
            "locations": [
                {"id": 1, "name": "Warehouse", "active": True},
                {"id": 3, "name": "Outlet", "active": True},
            ],
        },
    )
    assert response.status_code == 201, response.text


# --- money ----------------------------------------------------------------------------------


def test_refund_moving_no_money_is_accepted_after_an_over_refund(
    shopify_sandbox: httpx.Client,
) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    over = refund_input(
        order, transactions=[refund_transaction(order, "1327.17")], allowOverRefunding=True
    )
    assert create_refund(shopify_sandbox, over, "over")["userErrors"] == []
    extra = refund_input(order, transactions=[refund_transaction(order, "1.00")])
    assert user_errors(shopify_sandbox, extra, "over-2")[0]["field"][0] == "transactions"
    tee = line(order, "TEE")["gid"]
    goods_only = refund_input(
        order, refundLineItems=[{"lineItemId": tee, "quantity": 1, "restockType": "NO_RESTOCK"}]
    )
    assert create_refund(shopify_sandbox, goods_only, "goods")["userErrors"] == []


def test_shipping_amount_above_what_remains_is_rejected(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    errors = user_errors(shopify_sandbox, refund_input(order, shipping={"amount": "10.01"}), "s")
    assert errors[0]["field"] == ["shipping", "amount"]
    assert order_state(shopify_sandbox, order)["refunds"] == []


def test_second_full_shipping_refund_is_an_empty_refund(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    full = refund_input(order, shipping={"fullRefund": True})
    assert create_refund(shopify_sandbox, full, "ship-1")["userErrors"] == []
    assert user_errors(shopify_sandbox, full, "ship-2")
    assert len(order_state(shopify_sandbox, order)["refunds"]) == 1


def test_no_restock_takes_shipped_units_first(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    cap = line(order, "CAP")["gid"]  # 3 caps, 1 fulfilled
    one = refund_input(
        order, refundLineItems=[{"lineItemId": cap, "quantity": 1, "restockType": "NO_RESTOCK"}]
    )
    assert create_refund(shopify_sandbox, one, "cap-1")["userErrors"] == []
    assert line(order_state(shopify_sandbox, order), "CAP")["unfulfilled_quantity"] == 2
    returned = refund_input(
        order,
        refundLineItems=[
            {"lineItemId": cap, "quantity": 1, "restockType": "RETURN", "locationId": LOCATION_1}
        ],
    )
    errors = user_errors(shopify_sandbox, returned, "cap-2")
    assert errors[0]["field"] == ["refundLineItems", "0", "restockType"]


def test_refund_transaction_without_parent_is_rejected(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    orphan = {k: v for k, v in refund_transaction(order, "5.00").items() if k != "parentId"}
    errors = user_errors(shopify_sandbox, refund_input(order, transactions=[orphan]), "orphan")
    assert errors == [{"field": ["transactions", "0", "parentId"], "message": errors[0]["message"]}]


def test_refund_transaction_on_another_gateway_is_rejected(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    invented = refund_transaction(order, "5.00") | {"gateway": "made_up_pay"}
    errors = user_errors(shopify_sandbox, refund_input(order, transactions=[invented]), "gw")
    assert errors[0]["field"] == ["transactions", "0", "gateway"]


# --- restock locations ----------------------------------------------------------------------


def test_restock_location_must_stock_the_item(shopify_sandbox: httpx.Client) -> None:
    two_location_shop(shopify_sandbox)
    seeded = discounted_order()
    seeded["line_items"][0]["stocked_at"] = [1]
    order = seed_order(shopify_sandbox, seeded)
    tee = line(order, "TEE")["gid"]
    item = {"lineItemId": tee, "quantity": 1, "restockType": "RETURN"}
    outlet = refund_input(
        order, refundLineItems=[item | {"locationId": "gid://shopify/Location/3"}]
    )
    assert user_errors(shopify_sandbox, outlet, "r-3")[0]["field"] == [
        "refundLineItems",
        "0",
        "locationId",
    ]
    warehouse = refund_input(order, refundLineItems=[item | {"locationId": LOCATION_1}])
    assert create_refund(shopify_sandbox, warehouse, "r-1")["userErrors"] == []


def test_inventory_seed_stocks_the_item_at_the_location(shopify_sandbox: httpx.Client) -> None:
    two_location_shop(shopify_sandbox)
    seeded = discounted_order()
    seeded["line_items"][0]["stocked_at"] = []
    order = seed_order(shopify_sandbox, seeded)
    shopify_sandbox.post(
        f"/_sandbox/shops/{SHOP}/inventory", json={"sku": "TEE", "location_id": 3, "available": 0}
    )
    item = {"lineItemId": line(order, "TEE")["gid"], "quantity": 1, "restockType": "RETURN"}
    outlet = refund_input(
        order, refundLineItems=[item | {"locationId": "gid://shopify/Location/3"}]
    )
    assert create_refund(shopify_sandbox, outlet, "r-3")["userErrors"] == []


def test_no_restock_drops_the_location(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    item = {
        "lineItemId": line(order, "TEE")["gid"],
        "quantity": 1,
        "restockType": "NO_RESTOCK",
        "locationId": LOCATION_1,
    }
    result = create_refund(shopify_sandbox, refund_input(order, refundLineItems=[item]), "nr")
    [refund_line] = result["refund"]["refundLineItems"]["nodes"]
    assert refund_line["location"] is None
    assert refund_line["restocked"] is False
    assert order_state(shopify_sandbox, order)["refunds"][0]["lines"][0]["location_id"] is None


def test_cancel_without_location_is_rejected(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    item = {"lineItemId": line(order, "CAP")["gid"], "quantity": 1, "restockType": "CANCEL"}
    errors = user_errors(shopify_sandbox, refund_input(order, refundLineItems=[item]), "c")
    assert errors[0]["field"] == ["refundLineItems", "0", "locationId"]
    assert shopify_sandbox.get(f"/_sandbox/shops/{SHOP}/inventory").json() == {}


# --- requests -------------------------------------------------------------------------------


def post(client: httpx.Client, query: str, variables: dict[str, Any] | None = None) -> Any:
    response = client.post(
        GRAPHQL_PATH,
        json={"query": query, "variables": variables or {}},
        headers={"X-Shopify-Access-Token": TOKEN},
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_order_id_that_is_not_a_global_id_is_an_error(shopify_sandbox: httpx.Client) -> None:
    literal = post(shopify_sandbox, '{ order(id: "8001") { id } }')
    assert "data" not in literal
    [error] = literal["errors"]
    assert error["message"] == "Invalid global id `8001`"
    assert error["extensions"]["code"] == "argumentLiteralsIncompatible"

    variable = post(shopify_sandbox, "query($id: ID!) { order(id: $id) { id } }", {"id": "8001"})
    [error] = variable["errors"]
    assert error["message"] == "Variable $id of type ID! was provided invalid value"
    assert error["extensions"]["problems"] == [
        {"path": [], "explanation": "Invalid global id `8001`"}
    ]


def test_nested_id_that_is_not_a_global_id_is_an_error(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    body = post(
        shopify_sandbox,
        REFUND_CREATE_WITHOUT_KEY,
        {"input": refund_input(order, refundLineItems=[{"lineItemId": "1", "quantity": 1}])},
    )
    [error] = body["errors"]
    assert error["extensions"]["problems"][0]["path"] == ["refundLineItems", 0, "lineItemId"]
    assert order_state(shopify_sandbox, order)["refunds"] == []


def test_unknown_api_version_is_not_found_and_old_ones_fall_forward(
    shopify_sandbox: httpx.Client,
) -> None:
    headers = {"X-Shopify-Access-Token": TOKEN}
    query = {"query": "{ locations(first: 1) { nodes { id } } }"}
    missing = shopify_sandbox.post("/admin/api/2026-02/graphql.json", json=query, headers=headers)
    assert (missing.status_code, missing.json()) == (404, {"errors": "Not Found"})
    old = shopify_sandbox.post("/admin/api/2025-07/graphql.json", json=query, headers=headers)
    assert old.status_code == 200
    assert old.headers["X-Shopify-API-Version"] == "2026-01"


def test_every_answer_names_the_api_version(shopify_sandbox: httpx.Client) -> None:
    answer = shopify_sandbox.post(GRAPHQL_PATH, json={"query": "{ x }"})
    assert answer.status_code == 401
    assert answer.headers["X-Shopify-API-Version"] == "2026-01"


def test_validation_errors_carry_a_code(shopify_sandbox: httpx.Client) -> None:
    body = post(shopify_sandbox, "{ locations(first: 1) { nodes { nope } } }")
    assert [e["extensions"]["code"] for e in body["errors"]] == ["undefinedField"]


def test_page_size_above_250_is_refused(shopify_sandbox: httpx.Client) -> None:
    body = post(shopify_sandbox, "{ locations(first: 251) { nodes { id } } }")
    assert "data" not in body
    assert body["errors"][0]["message"] == "The requested page size must be between 0 and 250."


def test_input_list_above_250_items_is_refused(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    tee = line(order, "TEE")["gid"]
    items = [{"lineItemId": tee, "quantity": 1}] * 251
    body = post(
        shopify_sandbox,
        REFUND_CREATE_WITHOUT_KEY,
        {"input": refund_input(order, refundLineItems=items)},
    )
    [error] = body["errors"]
    assert error["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"
    assert (
        error["message"]
        == "The input array size of 251 is greater than the maximum allowed of 250."
    )


# --- search ---------------------------------------------------------------------------------

ORDER_NAMES = "query($q: String) { orders(first: 10, query: $q) { nodes { name } } }"


def names(client: httpx.Client, query: str) -> list[str]:
    body = post(client, ORDER_NAMES, {"q": query})
    assert "search" not in body.get("extensions", {}), body["extensions"]
    return [n["name"] for n in body["data"]["orders"]["nodes"]]


def test_orders_search_filters_status_financial_status_and_created_at(
    shopify_sandbox: httpx.Client,
) -> None:
    seed_order(shopify_sandbox, discounted_order("#1001", created_at="2025-12-30T10:00:00Z"))
    paid = seed_order(shopify_sandbox, discounted_order("#1002", created_at="2026-01-02T10:00:00Z"))
    seed_order(
        shopify_sandbox,
        discounted_order(
            "#1003",
            created_at="2026-01-05T10:00:00Z",
            closed_at="2026-01-06T10:00:00Z",
            cancelled_at="2026-01-06T10:00:00Z",
        ),
    )
    refund = refund_input(paid, transactions=[refund_transaction(paid, "10.00")])
    assert create_refund(shopify_sandbox, refund, "search")["userErrors"] == []

    assert names(shopify_sandbox, "created_at:>=2026-01-01") == ["#1002", "#1003"]
    assert names(shopify_sandbox, "created_at:<2026-01-01") == ["#1001"]
    assert names(shopify_sandbox, "financial_status:partially_refunded") == ["#1002"]
    assert names(shopify_sandbox, "financial_status:paid") == ["#1001", "#1003"]
    assert names(shopify_sandbox, "status:open") == ["#1001", "#1002"]
    assert names(shopify_sandbox, "status:cancelled") == ["#1003"]
    assert names(shopify_sandbox, "status:any") == ["#1001", "#1002", "#1003"]


def test_suggested_subtotal_is_before_discounts_and_discounted_subtotal_after(
    shopify_sandbox: httpx.Client,
) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    tee = line(order, "TEE")["gid"]
    suggested = base.suggest(shopify_sandbox, order, lines=[{"lineItemId": tee, "quantity": 1}])
    assert base.shop_amount(suggested["subtotalSet"]) == "349.99"
    assert base.shop_amount(suggested["discountedSubtotalSet"]) == "244.99"


# --- idempotency ----------------------------------------------------------------------------


def test_request_while_the_same_key_executes_is_a_concurrent_request_error(
    shopify_sandbox: httpx.Client, shopify_sandbox_server: Any
) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    refund = base.tee_refund(order)
    fault = {"kind": "latency", "delay": 5, "operation": "refundCreate"}  # holds the first
    assert shopify_sandbox.post("/_sandbox/faults", json=fault).status_code == 201
    first: list[dict[str, Any]] = []

    def send_first() -> None:
        with httpx.Client(base_url=shopify_sandbox_server.url, timeout=60) as own:
            first.append(base.gql(own, base.REFUND_CREATE, {"input": refund, "key": "k"}))

    thread = threading.Thread(target=send_first)
    thread.start()
    while shopify_sandbox.get("/_sandbox/faults").json():  # the first call took the fault
        threading.Event().wait(0.05)
    second = base.gql(shopify_sandbox, base.REFUND_CREATE, {"input": refund, "key": "k"})
    assert second["data"] == {"refundCreate": None}
    assert second["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_CONCURRENT_REQUEST"
    thread.join()
    assert first[0]["data"]["refundCreate"]["userErrors"] == []
    assert len(order_state(shopify_sandbox, order)["refunds"]) == 1


def test_replay_answers_the_first_response_not_the_current_order(
    shopify_sandbox: httpx.Client,
) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    query = """mutation($input: RefundInput!, $key: String!) {
      refundCreate(input: $input) @idempotent(key: $key) {
        refund { id } order { netPaymentSet { shopMoney { amount } } refunds { id } }
        userErrors { field message } } }"""
    variables = {"input": base.tee_refund(order), "key": "first"}
    first = base.gql(shopify_sandbox, query, variables)["data"]["refundCreate"]
    create_refund(shopify_sandbox, base.tee_refund(order), "later")
    again = base.gql(shopify_sandbox, query, variables)["data"]["refundCreate"]
    assert again == first
    assert len(again["order"]["refunds"]) == 1


def test_a_key_whose_first_attempt_failed_replays_the_failure(
    shopify_sandbox: httpx.Client,
) -> None:
    two_location_shop(shopify_sandbox)
    seeded = discounted_order()
    seeded["line_items"][0]["stocked_at"] = [1]
    order = seed_order(shopify_sandbox, seeded)
    item = {
        "lineItemId": line(order, "TEE")["gid"],
        "quantity": 1,
        "restockType": "RETURN",
        "locationId": "gid://shopify/Location/3",
    }
    request = refund_input(order, refundLineItems=[item])
    failed = user_errors(shopify_sandbox, request, "revision-1")
    shopify_sandbox.post(
        f"/_sandbox/shops/{SHOP}/inventory", json={"sku": "TEE", "location_id": 3, "available": 0}
    )
    assert user_errors(shopify_sandbox, request, "revision-1") == failed
    effects = [e["effect"] for e in base.journal(shopify_sandbox, operation="refundCreate")]
    assert effects == ["rejected", "idempotent_replay"]
    assert create_refund(shopify_sandbox, request, "revision-1-retry")["userErrors"] == []
