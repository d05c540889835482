"""Contract tests of the Shopify sandbox: the simulated Admin GraphQL API 2026-01 and controls."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
)
from hypothesis import given
from hypothesis import strategies as st

from returnbridge.sandbox.shopify import BackgroundServer
from returnbridge.sandbox.shopify.money import largest_remainder, unit_share
from returnbridge.sandbox.shopify.schema import schema_sdl
from returnbridge.sandbox.shopify.schema_subset import subset_sdl

REPO_ROOT = Path(__file__).resolve().parents[2]
OFFICIAL_SCHEMA = REPO_ROOT / "specs/shopify/2026-01.schema.graphql"  # see specs/README.md
GRAPHQL_PATH = "/admin/api/2026-01/graphql.json"
SHOP = "alpha.myshopify.com"
TOKEN = "shpat_alpha"
INVALID_TOKEN_BODY = {
    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
}

MONEY = "shopMoney { amount currencyCode } presentmentMoney { amount currencyCode }"
REFUND_FIELDS = f"""
  id note totalRefundedSet {{ {MONEY} }}
  refundLineItems(first: 10) {{ nodes {{ lineItem {{ id }} quantity restockType restocked
    location {{ id }} subtotalSet {{ {MONEY} }} totalTaxSet {{ {MONEY} }} }} }}
  refundShippingLines(first: 5) {{ nodes {{ shippingLine {{ id }}
    subtotalAmountSet {{ {MONEY} }} taxAmountSet {{ {MONEY} }} }} }}
  transactions(first: 5) {{ nodes {{ id kind status gateway amountSet {{ {MONEY} }}
    parentTransaction {{ id }} }} }}
"""
REFUND_CREATE = f"""
mutation RefundCreate($input: RefundInput!, $key: String!) {{
  refundCreate(input: $input) @idempotent(key: $key) {{
    refund {{ {REFUND_FIELDS} }}
    order {{ id }}
    userErrors {{ field message }}
  }}
}}
"""
REFUND_CREATE_WITHOUT_KEY = """
mutation RefundCreate($input: RefundInput!) {
  refundCreate(input: $input) { refund { id } userErrors { field message } }
}
"""
ORDER_QUERY = f"""
query Order($id: ID!) {{
  order(id: $id) {{
    id legacyResourceId name email createdAt currencyCode presentmentCurrencyCode taxesIncluded
    displayFinancialStatus customer {{ email }}
    totalReceivedSet {{ {MONEY} }} totalRefundedSet {{ {MONEY} }} netPaymentSet {{ {MONEY} }}
    lineItems(first: 10) {{
      nodes {{ id sku name title quantity refundableQuantity unfulfilledQuantity currentQuantity
        originalUnitPriceSet {{ {MONEY} }}
        discountAllocations {{ allocatedAmountSet {{ {MONEY} }}
          discountApplication {{ allocationMethod targetSelection targetType
            ... on DiscountCodeApplication {{ code }} }} }}
        taxLines {{ title rate ratePercentage priceSet {{ {MONEY} }} }} }}
      pageInfo {{ hasNextPage endCursor }}
    }}
    shippingLines(first: 5) {{ nodes {{ id title originalPriceSet {{ {MONEY} }}
      discountAllocations {{ allocatedAmountSet {{ {MONEY} }} }}
      taxLines {{ title rate priceSet {{ {MONEY} }} }} }} }}
    transactions(first: 10) {{ id kind status gateway amountSet {{ {MONEY} }} createdAt
      parentTransaction {{ id }} }}
    refunds(first: 10) {{ id createdAt note totalRefundedSet {{ {MONEY} }} }}
  }}
}}
"""
SUGGESTED_REFUND = f"""
query Suggest($id: ID!, $lines: [RefundLineItemInput!], $shipping: Boolean,
              $shippingAmount: Money, $full: Boolean) {{
  order(id: $id) {{
    suggestedRefund(refundLineItems: $lines, refundShipping: $shipping,
                    shippingAmount: $shippingAmount, suggestFullRefund: $full) {{
      amountSet {{ {MONEY} }} subtotalSet {{ {MONEY} }} totalTaxSet {{ {MONEY} }}
      maximumRefundableSet {{ {MONEY} }} discountedSubtotalSet {{ {MONEY} }}
      refundLineItems {{ lineItem {{ id }} quantity subtotalSet {{ {MONEY} }}
        totalTaxSet {{ {MONEY} }} }}
      shipping {{ amountSet {{ {MONEY} }} taxSet {{ {MONEY} }} maximumRefundableSet {{ {MONEY} }} }}
      suggestedTransactions {{ amountSet {{ {MONEY} }} gateway kind parentTransaction {{ id }}
        maximumRefundableSet {{ {MONEY} }} }}
    }}
  }}
}}
"""


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shopify_sandbox_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def shopify_sandbox_server(shopify_sandbox_clock: FakeClock) -> Iterator[BackgroundServer]:
    """One real server for the module, driven by the fake clock."""
    with BackgroundServer(clock=shopify_sandbox_clock) as server:
        yield server


@pytest.fixture
def shopify_sandbox(
    shopify_sandbox_server: BackgroundServer, shopify_sandbox_clock: FakeClock
) -> Iterator[httpx.Client]:
    """A reset sandbox with one USD shop that has an active and an inactive location."""
    shopify_sandbox_clock.advance(3600)  # every shop bucket starts full
    with httpx.Client(base_url=shopify_sandbox_server.url, timeout=30) as client:
        assert client.post("/_sandbox/reset").status_code == 204
        create_shop(client)
        yield client


@pytest.fixture(scope="module")
def shopify_sandbox_official_schema() -> GraphQLSchema:
    return build_schema(OFFICIAL_SCHEMA.read_text(encoding="utf-8"))


def create_shop(
    client: httpx.Client,
    *,
    domain: str = SHOP,
    token: str = TOKEN,
    currency: str = "USD",
    **extra: Any,
) -> dict[str, Any]:
    response = client.post(
        "/_sandbox/shops",
        json={
            "domain": domain,
            "access_token": token,
            "currency": currency,
            "locations": [
                {"id": 1, "name": "Warehouse", "active": True},
                {"id": 2, "name": "Closed store", "active": False},
            ],
            **extra,
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def seed_order(
    client: httpx.Client, payload: dict[str, Any], *, domain: str = SHOP
) -> dict[str, Any]:
    response = client.post(f"/_sandbox/shops/{domain}/orders", json=payload)
    assert response.status_code == 201, response.text
    return dict(response.json())


def gql(
    client: httpx.Client,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str = TOKEN,
) -> dict[str, Any]:
    response = client.post(
        GRAPHQL_PATH,
        json={"query": query, "variables": variables or {}},
        headers={"X-Shopify-Access-Token": token},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def discounted_order(name: str = "#1001", **overrides: Any) -> dict[str, Any]:
    """5 tees with a 524.98 discount, 3 caps (1 fulfilled), taxed shipping: total 1327.17."""
    return {
        "name": name,
        "email": "jane@example.com",
        "line_items": [
            {
                "sku": "TEE",
                "title": "Tee",
                "quantity": 5,
                "price": "349.99",
                "discount_allocations": [{"amount": "524.98", "code": "BIG"}],
                "tax_lines": [{"title": "VAT", "rate": "0.05", "price": "61.25"}],
            },
            {
                "sku": "CAP",
                "title": "Cap",
                "quantity": 3,
                "price": "10.00",
                "fulfilled_quantity": 1,
                "discount_allocations": [
                    {"amount": "1.00", "title": "Staff", "allocation_method": "EACH"}
                ],
                "tax_lines": [{"title": "VAT", "rate": "0.05", "price": "1.45"}],
            },
        ],
        "shipping_lines": [
            {
                "title": "Standard",
                "price": "10.00",
                "tax_lines": [{"title": "VAT", "rate": "0.05", "price": "0.50"}],
            }
        ],
        **overrides,
    }


def shop_amount(money_bag: dict[str, Any]) -> str:
    return str(money_bag["shopMoney"]["amount"])


def presentment_amount(money_bag: dict[str, Any]) -> str:
    return str(money_bag["presentmentMoney"]["amount"])


def refund_input(order: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"orderId": order["gid"], **fields}


def refund_transaction(order: dict[str, Any], amount: str, index: int = 0) -> dict[str, Any]:
    parent = order["transactions"][index]
    return {
        "orderId": order["gid"],
        "parentId": parent["gid"],
        "amount": amount,
        "gateway": parent["gateway"],
        "kind": "REFUND",
    }


def line(order: dict[str, Any], sku: str) -> dict[str, Any]:
    return next(li for li in order["line_items"] if li["sku"] == sku)


def order_state(client: httpx.Client, order: dict[str, Any]) -> dict[str, Any]:
    response = client.get(f"/_sandbox/shops/{SHOP}/orders/{order['id']}")
    assert response.status_code == 200
    return dict(response.json())


def journal(client: httpx.Client, **params: str) -> list[dict[str, Any]]:
    response = client.get("/_sandbox/journal", params=params)
    assert response.status_code == 200
    return list(response.json())


# --- schema ---------------------------------------------------------------------------------


def test_sandbox_schema_is_a_subset_of_the_official_2026_01_schema(
    shopify_sandbox_official_schema: GraphQLSchema,
) -> None:
    official = shopify_sandbox_official_schema
    ours = build_schema(schema_sdl())
    checked = 0
    for name, ours_type in ours.type_map.items():
        if name.startswith("__"):
            continue
        theirs = official.type_map.get(name)
        assert theirs is not None, f"type {name} missing from official schema"
        assert type(theirs) is type(ours_type), name
        if isinstance(ours_type, GraphQLObjectType | GraphQLInterfaceType):
            assert isinstance(theirs, GraphQLObjectType | GraphQLInterfaceType)
            official_interfaces = {i.name for i in theirs.interfaces}
            assert {i.name for i in ours_type.interfaces} <= official_interfaces, name
            for field_name, field in ours_type.fields.items():
                assert field_name in theirs.fields, f"{name}.{field_name}"
                their_field = theirs.fields[field_name]
                assert str(field.type) == str(their_field.type), f"{name}.{field_name}"
                for arg_name, arg in field.args.items():
                    assert arg_name in their_field.args, f"{name}.{field_name}({arg_name})"
                    their_arg = their_field.args[arg_name]
                    assert str(arg.type) == str(their_arg.type), f"{name}.{field_name}({arg_name})"
                    assert arg.default_value == their_arg.default_value
                    checked += 1
                checked += 1
        elif isinstance(ours_type, GraphQLEnumType):
            assert isinstance(theirs, GraphQLEnumType)
            assert set(ours_type.values) <= set(theirs.values), name
            checked += len(ours_type.values)
        elif isinstance(ours_type, GraphQLInputObjectType):
            assert isinstance(theirs, GraphQLInputObjectType)
            for field_name, input_field in ours_type.fields.items():
                assert field_name in theirs.fields, f"{name}.{field_name}"
                assert str(input_field.type) == str(theirs.fields[field_name].type)
                checked += 1
    ours_directive = ours.get_directive("idempotent")
    their_directive = official.get_directive("idempotent")
    assert ours_directive is not None
    assert their_directive is not None
    assert {k: str(a.type) for k, a in ours_directive.args.items()} == {"key": "String!"}
    assert str(their_directive.args["key"].type) == "String!"
    assert list(ours_directive.locations) == list(their_directive.locations)
    assert ours.query_type is not None
    assert ours.query_type.name == official.query_type.name  # type: ignore[union-attr]
    assert checked > 300


def test_shipped_schema_is_what_the_generator_produces(
    shopify_sandbox_official_schema: GraphQLSchema,
) -> None:
    assert subset_sdl(shopify_sandbox_official_schema) == schema_sdl()


# --- auth and transport ---------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"X-Shopify-Access-Token": "shpat_wrong"}])
def test_missing_or_unknown_token_is_rejected_with_shopify_body(
    shopify_sandbox: httpx.Client, headers: dict[str, str]
) -> None:
    response = shopify_sandbox.post(
        GRAPHQL_PATH, json={"query": "{ locations(first: 1) { nodes { id } } }"}, headers=headers
    )
    assert response.status_code == 401
    assert response.json() == INVALID_TOKEN_BODY
    assert journal(shopify_sandbox)[-1]["http_status"] == 401


def test_each_token_sees_only_its_own_shop(shopify_sandbox: httpx.Client) -> None:
    create_shop(shopify_sandbox, domain="beta.myshopify.com", token="shpat_beta")
    order = seed_order(shopify_sandbox, discounted_order())
    query = "query($id: ID!) { order(id: $id) { id } }"
    assert gql(shopify_sandbox, query, {"id": order["gid"]})["data"]["order"]["id"] == order["gid"]
    other = gql(shopify_sandbox, query, {"id": order["gid"]}, token="shpat_beta")
    assert other["data"]["order"] is None


def test_body_without_query_is_a_400(shopify_sandbox: httpx.Client) -> None:
    response = shopify_sandbox.post(
        GRAPHQL_PATH, content=b"not json", headers={"X-Shopify-Access-Token": TOKEN}
    )
    assert response.status_code == 400
    assert "errors" in response.json()


def test_unknown_field_is_a_graphql_validation_error(shopify_sandbox: httpx.Client) -> None:
    body = gql(shopify_sandbox, '{ order(id: "gid://shopify/Order/1") { nope } }')
    assert "data" not in body
    assert "nope" in body["errors"][0]["message"]


# --- queries --------------------------------------------------------------------------------


def test_order_query_serves_the_seeded_order(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    data = gql(shopify_sandbox, ORDER_QUERY, {"id": order["gid"]})["data"]["order"]

    assert data["name"] == "#1001"
    assert data["legacyResourceId"] == str(order["id"])
    assert data["customer"] == {"email": "jane@example.com"}
    assert data["displayFinancialStatus"] == "PAID"
    assert data["currencyCode"] == data["presentmentCurrencyCode"] == "USD"
    assert data["totalReceivedSet"]["shopMoney"] == {"amount": "1327.17", "currencyCode": "USD"}
    assert shop_amount(data["totalRefundedSet"]) == "0.0"
    tee, cap = data["lineItems"]["nodes"]
    assert tee["id"] == line(order, "TEE")["gid"]
    assert shop_amount(tee["originalUnitPriceSet"]) == "349.99"
    assert tee["discountAllocations"][0]["discountApplication"] == {
        "allocationMethod": "ACROSS",
        "targetSelection": "ALL",
        "targetType": "LINE_ITEM",
        "code": "BIG",
    }
    assert tee["taxLines"][0]["rate"] == 0.05
    assert tee["taxLines"][0]["ratePercentage"] == 5.0
    assert (cap["quantity"], cap["unfulfilledQuantity"], cap["refundableQuantity"]) == (3, 2, 3)
    assert cap["discountAllocations"][0]["discountApplication"]["allocationMethod"] == "EACH"
    shipping = data["shippingLines"]["nodes"][0]
    assert shop_amount(shipping["taxLines"][0]["priceSet"]) == "0.5"
    sale = data["transactions"][0]
    assert (sale["kind"], sale["status"], sale["gateway"]) == (
        "SALE",
        "SUCCESS",
        "shopify_payments",
    )
    assert data["refunds"] == []


def test_unknown_order_id_is_null(shopify_sandbox: httpx.Client) -> None:
    body = gql(shopify_sandbox, 'query { order(id: "gid://shopify/Order/999999") { id } }')
    assert body["data"] == {"order": None}


def test_multi_currency_order_reports_both_currencies(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(
        shopify_sandbox,
        {
            "name": "#2001",
            "presentment_currency": "EUR",
            "exchange_rate": "1.25",
            "line_items": [{"sku": "MUG", "title": "Mug", "quantity": 1, "price": "20.01"}],
        },
    )
    data = gql(shopify_sandbox, ORDER_QUERY, {"id": order["gid"]})["data"]["order"]
    assert (data["currencyCode"], data["presentmentCurrencyCode"]) == ("USD", "EUR")
    price = data["lineItems"]["nodes"][0]["originalUnitPriceSet"]
    assert price["presentmentMoney"] == {"amount": "20.01", "currencyCode": "EUR"}
    assert price["shopMoney"] == {"amount": "25.01", "currencyCode": "USD"}  # 25.0125 half-up


ORDERS_SEARCH = """
query Search($query: String, $first: Int, $after: String) {
  orders(first: $first, after: $after, query: $query, sortKey: ID) {
    nodes { name }
    edges { cursor node { id } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@pytest.fixture
def shopify_sandbox_three_orders(shopify_sandbox: httpx.Client) -> httpx.Client:
    seed_order(shopify_sandbox, discounted_order("#1001"))
    seed_order(shopify_sandbox, discounted_order("#1002", email="bob@example.com"))
    other = discounted_order("#1003", email="Jane@Example.com")
    other["line_items"][0]["sku"] = "HAT"
    seed_order(shopify_sandbox, other)
    return shopify_sandbox


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("name:#1002", ["#1002"]),
        ("name:1002", ["#1002"]),
        ('name:"#1002"', ["#1002"]),
        ("email:jane@example.com", ["#1001", "#1003"]),
        ("sku:HAT", ["#1003"]),
        ("sku:TEE email:jane@example.com", ["#1001"]),
        ("sku:TEE AND email:bob@example.com", ["#1002"]),
        ("-name:#1001", ["#1002", "#1003"]),
        ("name:#9999", []),
        ("name:1001 OR name:#1003", ["#1001", "#1003"]),
        ("(name:1001 OR name:#1001) sku:TEE", ["#1001"]),
        ("(sku:HAT OR sku:TEE) email:bob@example.com", ["#1002"]),
        ("NOT name:#1001 NOT name:#1002", ["#1003"]),
        ("hat", ["#1003"]),
        ("", ["#1001", "#1002", "#1003"]),
    ],
)
def test_orders_search_syntax(
    shopify_sandbox_three_orders: httpx.Client, query: str, names: list[str]
) -> None:
    body = gql(shopify_sandbox_three_orders, ORDERS_SEARCH, {"query": query, "first": 10})
    assert [n["name"] for n in body["data"]["orders"]["nodes"]] == names


def test_orders_search_by_id(shopify_sandbox: httpx.Client) -> None:
    first = seed_order(shopify_sandbox, discounted_order("#1001"))
    second = seed_order(shopify_sandbox, discounted_order("#1002"))
    exact = gql(shopify_sandbox, ORDERS_SEARCH, {"query": f"id:{first['id']}", "first": 5})
    assert [n["name"] for n in exact["data"]["orders"]["nodes"]] == ["#1001"]
    ranged = gql(shopify_sandbox, ORDERS_SEARCH, {"query": f"id:>={second['id']}", "first": 5})
    assert [n["name"] for n in ranged["data"]["orders"]["nodes"]] == ["#1002"]


def test_orders_search_warns_about_unsupported_fields(
    shopify_sandbox_three_orders: httpx.Client,
) -> None:
    body = gql(
        shopify_sandbox_three_orders, ORDERS_SEARCH, {"query": "tag:vip name:#1001", "first": 5}
    )
    assert [n["name"] for n in body["data"]["orders"]["nodes"]] == ["#1001"]
    assert body["extensions"]["search"][0]["warnings"][0]["field"] == "tag"


def test_orders_cursor_pagination_walks_every_order_once(
    shopify_sandbox_three_orders: httpx.Client,
) -> None:
    seen: list[str] = []
    after = None
    for _ in range(5):
        page = gql(shopify_sandbox_three_orders, ORDERS_SEARCH, {"first": 2, "after": after})
        orders = page["data"]["orders"]
        seen += [n["name"] for n in orders["nodes"]]
        assert [e["node"]["id"] for e in orders["edges"]] != []
        if not orders["pageInfo"]["hasNextPage"]:
            break
        after = orders["pageInfo"]["endCursor"]
    assert seen == ["#1001", "#1002", "#1003"]


def test_orders_search_with_unbalanced_parentheses_is_an_error(
    shopify_sandbox: httpx.Client,
) -> None:
    body = gql(shopify_sandbox, ORDERS_SEARCH, {"query": "(name:1001", "first": 5})
    assert body["data"] is None
    assert "Invalid search query" in body["errors"][0]["message"]


def test_orders_without_first_is_an_error(shopify_sandbox_three_orders: httpx.Client) -> None:
    body = gql(shopify_sandbox_three_orders, "{ orders { nodes { id } } }")
    assert body["data"] is None
    assert "first" in body["errors"][0]["message"]


def test_locations_hide_inactive_unless_asked(shopify_sandbox: httpx.Client) -> None:
    query = """query($all: Boolean) {
      locations(first: 10, includeInactive: $all) { nodes { id name isActive } } }"""
    active = gql(shopify_sandbox, query, {"all": False})["data"]["locations"]["nodes"]
    every = gql(shopify_sandbox, query, {"all": True})["data"]["locations"]["nodes"]
    assert active == [{"id": "gid://shopify/Location/1", "name": "Warehouse", "isActive": True}]
    assert {n["id"] for n in every} == {"gid://shopify/Location/1", "gid://shopify/Location/2"}


# --- suggestedRefund ------------------------------------------------------------------------


def suggest(client: httpx.Client, order: dict[str, Any], **variables: Any) -> dict[str, Any]:
    body = gql(client, SUGGESTED_REFUND, {"id": order["gid"], **variables})
    assert "errors" not in body, body
    return dict(body["data"]["order"]["suggestedRefund"])


def test_suggested_refund_consumes_the_extra_cent_discount_units_first(
    shopify_sandbox: httpx.Client,
) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    tee = line(order, "TEE")["gid"]
    two = suggest(shopify_sandbox, order, lines=[{"lineItemId": tee, "quantity": 2}])

    # 524.98 over 5 units: 105.00, 105.00, 105.00, 104.99, 104.99; tax 61.25: 12.25 each.
    assert shop_amount(two["refundLineItems"][0]["subtotalSet"]) == "489.98"
    assert shop_amount(two["refundLineItems"][0]["totalTaxSet"]) == "24.5"
    assert shop_amount(two["subtotalSet"]) == "699.98"  # prices before discounts
    assert shop_amount(two["discountedSubtotalSet"]) == "489.98"
    assert shop_amount(two["totalTaxSet"]) == "24.5"
    assert shop_amount(two["amountSet"]) == "514.48"
    assert shop_amount(two["maximumRefundableSet"]) == "1327.17"
    [transaction] = two["suggestedTransactions"]
    assert transaction["kind"] == "SUGGESTED_REFUND"
    assert transaction["parentTransaction"]["id"] == order["transactions"][0]["gid"]
    assert shop_amount(transaction["amountSet"]) == "514.48"
    assert shop_amount(transaction["maximumRefundableSet"]) == "1327.17"


def test_suggested_refund_after_a_partial_refund_takes_the_remaining_units(
    shopify_sandbox: httpx.Client,
) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    tee = line(order, "TEE")["gid"]
    created = gql(
        shopify_sandbox,
        REFUND_CREATE,
        {
            "input": refund_input(
                order,
                refundLineItems=[{"lineItemId": tee, "quantity": 2, "restockType": "NO_RESTOCK"}],
            ),
            "key": "partial-1",
        },
    )
    assert created["data"]["refundCreate"]["userErrors"] == []
    rest = suggest(shopify_sandbox, order, lines=[{"lineItemId": tee, "quantity": 5}])

    # Only 3 units are left; they carry 105.00 + 104.99 + 104.99 of discount.
    assert rest["refundLineItems"][0]["quantity"] == 3
    assert shop_amount(rest["refundLineItems"][0]["subtotalSet"]) == "734.99"
    assert shop_amount(rest["refundLineItems"][0]["totalTaxSet"]) == "36.75"


def test_suggested_refund_each_discount_and_tax_split_sums_back_to_the_line(
    shopify_sandbox: httpx.Client,
) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    cap = line(order, "CAP")["gid"]
    units = [
        suggest(
            shopify_sandbox,
            order,
            lines=[{"lineItemId": cap, "quantity": 1}, {"lineItemId": cap, "quantity": 1}],
        )
    ]
    subtotals = [shop_amount(li["subtotalSet"]) for li in units[0]["refundLineItems"]]
    taxes = [shop_amount(li["totalTaxSet"]) for li in units[0]["refundLineItems"]]
    # 1.00 discount over 3 units: 0.34, 0.33, 0.33; 1.45 tax: 0.49, 0.48, 0.48.
    assert subtotals == ["9.66", "9.67"]
    assert taxes == ["0.49", "0.48"]


def test_suggested_refund_splits_a_lines_discounts_together_so_a_free_gift_is_worth_zero(
    shopify_sandbox: httpx.Client,
) -> None:
    gift = {
        "sku": "GIFT",
        "title": "Gift tote",
        "quantity": 4,
        "price": "10.00",
        "discount_allocations": [
            {"amount": "0.05", "code": "WELCOME"},
            {"amount": "39.95", "code": "FREEGIFT"},
        ],
    }
    order = seed_order(shopify_sandbox, discounted_order(line_items=[gift], shipping_lines=[]))
    one = suggest(
        shopify_sandbox, order, lines=[{"lineItemId": line(order, "GIFT")["gid"], "quantity": 1}]
    )
    # 0.05 + 39.95 = 40.00 over 4 units: 10.00 each, so unit 1 nets 0.00. Split one by one it
    # carried 0.02 + 9.99 = 10.01 and the suggestion went negative.
    assert shop_amount(one["refundLineItems"][0]["subtotalSet"]) == "0.0"
    assert shop_amount(one["amountSet"]) == "0.0"


def test_suggested_refund_partial_shipping_gets_proportional_tax(
    shopify_sandbox: httpx.Client,
) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    partial = suggest(shopify_sandbox, order, shippingAmount="4.00")
    assert shop_amount(partial["shipping"]["amountSet"]) == "4.0"
    assert shop_amount(partial["shipping"]["taxSet"]) == "0.2"
    assert shop_amount(partial["shipping"]["maximumRefundableSet"]) == "10.0"
    assert shop_amount(partial["amountSet"]) == "4.2"
    capped = suggest(shopify_sandbox, order, shippingAmount="25.00")
    assert shop_amount(capped["shipping"]["amountSet"]) == "10.0"
    full = suggest(shopify_sandbox, order, shipping=True)
    assert shop_amount(full["shipping"]["taxSet"]) == "0.5"


def test_suggested_full_refund_returns_everything_charged(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    full = suggest(shopify_sandbox, order, full=True)
    assert [li["quantity"] for li in full["refundLineItems"]] == [5, 3]
    assert shop_amount(full["amountSet"]) == "1327.17"


def test_taxes_included_order_reports_tax_without_adding_it(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(
        shopify_sandbox,
        {
            "name": "#3001",
            "taxes_included": True,
            "line_items": [
                {
                    "sku": "BAG",
                    "title": "Bag",
                    "quantity": 2,
                    "price": "120.00",
                    "tax_lines": [{"title": "VAT", "rate": "0.2", "price": "40.00"}],
                }
            ],
            "shipping_lines": [
                {
                    "title": "Express",
                    "price": "12.00",
                    "tax_lines": [{"title": "VAT", "rate": "0.2", "price": "2.00"}],
                }
            ],
        },
    )
    assert order["total_price"]["shop"] == "252.00"
    result = suggest(
        shopify_sandbox,
        order,
        lines=[{"lineItemId": line(order, "BAG")["gid"], "quantity": 1}],
        shipping=True,
    )
    assert shop_amount(result["subtotalSet"]) == "120.0"
    assert shop_amount(result["totalTaxSet"]) == "22.0"
    assert shop_amount(result["amountSet"]) == "132.0"


def test_zero_decimal_currency_amounts(shopify_sandbox: httpx.Client) -> None:
    create_shop(shopify_sandbox, domain="tokyo.myshopify.com", token="shpat_jp", currency="JPY")
    order = seed_order(
        shopify_sandbox,
        {
            "name": "#4001",
            "line_items": [{"sku": "TEA", "title": "Tea", "quantity": 3, "price": "1000"}],
        },
        domain="tokyo.myshopify.com",
    )
    data = gql(shopify_sandbox, ORDER_QUERY, {"id": order["gid"]}, token="shpat_jp")
    received = data["data"]["order"]["totalReceivedSet"]["shopMoney"]
    assert received == {"amount": "3000.0", "currencyCode": "JPY"}
    fractional = shopify_sandbox.post(
        "/_sandbox/shops/tokyo.myshopify.com/orders",
        json={"name": "#4002", "line_items": [{"title": "x", "quantity": 1, "price": "10.5"}]},
    )
    assert fractional.status_code == 422


@given(
    component=st.integers(min_value=0, max_value=10**7),
    parts=st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=8),
)
def test_unit_shares_of_successive_refunds_add_up_to_the_component(
    component: int, parts: list[int]
) -> None:
    units = sum(parts)
    taken = 0
    shares = []
    for count in parts:
        shares.append(unit_share(component, units, taken=taken, count=count))
        taken += count
    assert sum(shares) == component
    single = [unit_share(component, units, taken=i, count=1) for i in range(units)]
    assert single == sorted(single, reverse=True)  # higher-valued units are consumed first
    assert max(single) - min(single) <= 1


@given(
    total=st.integers(min_value=0, max_value=10**6),
    weights=st.lists(st.integers(min_value=0, max_value=10**4), min_size=1, max_size=6),
)
def test_largest_remainder_spreads_exactly(total: int, weights: list[int]) -> None:
    shares = largest_remainder(total, weights)
    assert sum(shares) == (total if sum(weights) else 0)
    assert all(share >= 0 for share in shares)


def test_suggested_transactions_spread_over_charges_in_order(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(
        shopify_sandbox,
        discounted_order(
            transactions=[
                {"kind": "SALE", "gateway": "gift_card", "amount": "100.00"},
                {"kind": "SALE", "gateway": "shopify_payments", "amount": "1227.17"},
            ]
        ),
    )
    tee = line(order, "TEE")["gid"]
    result = suggest(shopify_sandbox, order, lines=[{"lineItemId": tee, "quantity": 2}])
    spread = [(t["gateway"], shop_amount(t["amountSet"])) for t in result["suggestedTransactions"]]
    assert spread == [("gift_card", "100.0"), ("shopify_payments", "414.48")]


# --- refundCreate ---------------------------------------------------------------------------


def create_refund(client: httpx.Client, payload: dict[str, Any], key: str) -> dict[str, Any]:
    body = gql(client, REFUND_CREATE, {"input": payload, "key": key})
    assert "errors" not in body, body
    return dict(body["data"]["refundCreate"])


def test_refund_create_records_money_restock_and_quantities(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    shopify_sandbox.post(
        f"/_sandbox/shops/{SHOP}/inventory", json={"sku": "TEE", "location_id": 1, "available": 4}
    )
    tee = line(order, "TEE")["gid"]
    result = create_refund(
        shopify_sandbox,
        refund_input(
            order,
            note="damaged",
            refundLineItems=[
                {
                    "lineItemId": tee,
                    "quantity": 2,
                    "restockType": "RETURN",
                    "locationId": "gid://shopify/Location/1",
                }
            ],
            transactions=[refund_transaction(order, "514.48")],
        ),
        "refund-1",
    )

    assert result["userErrors"] == []
    refund = result["refund"]
    assert refund["note"] == "damaged"
    assert shop_amount(refund["totalRefundedSet"]) == "514.48"
    [refund_line] = refund["refundLineItems"]["nodes"]
    assert refund_line["restockType"] == "RETURN"
    assert refund_line["restocked"] is True
    assert refund_line["location"] == {"id": "gid://shopify/Location/1"}
    assert shop_amount(refund_line["subtotalSet"]) == "489.98"
    [money] = refund["transactions"]["nodes"]
    assert (money["kind"], money["status"]) == ("REFUND", "SUCCESS")
    assert money["parentTransaction"]["id"] == order["transactions"][0]["gid"]

    data = gql(shopify_sandbox, ORDER_QUERY, {"id": order["gid"]})["data"]["order"]
    assert data["lineItems"]["nodes"][0]["refundableQuantity"] == 3
    assert data["lineItems"]["nodes"][0]["currentQuantity"] == 3
    assert shop_amount(data["netPaymentSet"]) == "812.69"
    assert shop_amount(data["totalRefundedSet"]) == "514.48"
    assert data["displayFinancialStatus"] == "PARTIALLY_REFUNDED"
    assert [r["id"] for r in data["refunds"]] == [refund["id"]]
    stock = shopify_sandbox.get(f"/_sandbox/shops/{SHOP}/inventory").json()
    assert stock == {"TEE": {"1": 6}}


def test_refund_create_cancels_unfulfilled_units_back_to_stock(
    shopify_sandbox: httpx.Client,
) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    cap = line(order, "CAP")["gid"]
    result = create_refund(
        shopify_sandbox,
        refund_input(
            order,
            refundLineItems=[
                {
                    "lineItemId": cap,
                    "quantity": 2,
                    "restockType": "CANCEL",
                    "locationId": "gid://shopify/Location/1",
                }
            ],
        ),
        "cancel-1",
    )
    assert result["userErrors"] == []
    state = order_state(shopify_sandbox, order)
    assert line(state, "CAP")["unfulfilled_quantity"] == 0
    assert shopify_sandbox.get(f"/_sandbox/shops/{SHOP}/inventory").json() == {"CAP": {"1": 2}}


def test_refund_without_transactions_records_the_return_only(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    tee = line(order, "TEE")["gid"]
    result = create_refund(
        shopify_sandbox,
        refund_input(
            order, refundLineItems=[{"lineItemId": tee, "quantity": 1, "restockType": "NO_RESTOCK"}]
        ),
        "no-money",
    )
    assert result["userErrors"] == []
    assert shop_amount(result["refund"]["totalRefundedSet"]) == "0.0"
    assert result["refund"]["transactions"]["nodes"] == []
    state = order_state(shopify_sandbox, order)
    assert state["net_payment"]["shop"] == "1327.17"
    assert line(state, "TEE")["refundable_quantity"] == 4
    assert shopify_sandbox.get(f"/_sandbox/shops/{SHOP}/inventory").json() == {}


def test_shipping_refund_is_recorded_per_shipping_line(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    first = create_refund(
        shopify_sandbox,
        refund_input(
            order, shipping={"amount": "6.00"}, transactions=[refund_transaction(order, "6.30")]
        ),
        "ship-1",
    )
    [shipping] = first["refund"]["refundShippingLines"]["nodes"]
    assert shipping["shippingLine"]["id"] == order["shipping_lines"][0]["gid"]
    assert (shop_amount(shipping["subtotalAmountSet"]), shop_amount(shipping["taxAmountSet"])) == (
        "6.0",
        "0.3",
    )
    rest = create_refund(shopify_sandbox, refund_input(order, shipping={"fullRefund": True}), "s2")
    [remaining] = rest["refund"]["refundShippingLines"]["nodes"]
    assert (
        shop_amount(remaining["subtotalAmountSet"]),
        shop_amount(remaining["taxAmountSet"]),
    ) == (
        "4.0",
        "0.2",
    )
    nothing_left = suggest(shopify_sandbox, order, shipping=True)
    assert shop_amount(nothing_left["shipping"]["maximumRefundableSet"]) == "0.0"


def user_errors(client: httpx.Client, payload: dict[str, Any], key: str) -> list[dict[str, Any]]:
    result = create_refund(client, payload, key)
    assert result["refund"] is None
    return list(result["userErrors"])


def test_refund_over_net_payment_is_rejected_unless_allowed(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    too_much = refund_input(order, transactions=[refund_transaction(order, "1327.18")])
    errors = user_errors(shopify_sandbox, too_much, "over-1")
    assert errors[0]["field"][0] == "transactions"
    assert order_state(shopify_sandbox, order)["refunds"] == []

    allowed = create_refund(shopify_sandbox, {**too_much, "allowOverRefunding": True}, "over-2")
    assert allowed["userErrors"] == []
    assert journal(shopify_sandbox, operation="refundCreate")[0]["effect"] == "rejected"


def test_refund_of_more_units_than_refundable_is_rejected(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    tee = line(order, "TEE")["gid"]
    errors = user_errors(
        shopify_sandbox,
        refund_input(
            order, refundLineItems=[{"lineItemId": tee, "quantity": 6, "restockType": "NO_RESTOCK"}]
        ),
        "qty-1",
    )
    assert errors[0]["field"] == ["refundLineItems", "0", "quantity"]


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"sku": "TEE", "quantity": 1, "restockType": "RETURN"}, "locationId"),
        (
            {
                "sku": "CAP",
                "quantity": 2,
                "restockType": "RETURN",
                "locationId": "gid://shopify/Location/1",
            },
            "restockType",
        ),
        (
            {
                "sku": "TEE",
                "quantity": 1,
                "restockType": "CANCEL",
                "locationId": "gid://shopify/Location/1",
            },
            "restockType",
        ),
        (
            {
                "sku": "TEE",
                "quantity": 1,
                "restockType": "RETURN",
                "locationId": "gid://shopify/Location/2",
            },
            "locationId",
        ),
        ({"sku": "TEE", "quantity": 1, "restockType": "LEGACY_RESTOCK"}, "restockType"),
    ],
    ids=[
        "return-without-location",
        "return-unfulfilled",
        "cancel-fulfilled",
        "inactive-location",
        "legacy",
    ],
)
def test_restock_rules_are_enforced(
    shopify_sandbox: httpx.Client, item: dict[str, Any], field: str
) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    request = {k: v for k, v in item.items() if k != "sku"} | {
        "lineItemId": line(order, item["sku"])["gid"]
    }
    errors = user_errors(shopify_sandbox, refund_input(order, refundLineItems=[request]), "restock")
    assert errors[0]["field"] == ["refundLineItems", "0", field]


def test_refund_needs_something_to_refund(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    assert user_errors(shopify_sandbox, refund_input(order), "empty")


def test_multi_currency_refund_needs_the_presentment_currency(
    shopify_sandbox: httpx.Client,
) -> None:
    order = seed_order(
        shopify_sandbox,
        {
            "name": "#2001",
            "presentment_currency": "EUR",
            "exchange_rate": "1.25",
            "line_items": [{"sku": "MUG", "title": "Mug", "quantity": 2, "price": "20.00"}],
        },
    )
    money = [refund_transaction(order, "20.00")]
    missing = user_errors(shopify_sandbox, refund_input(order, transactions=money), "mc-1")
    assert missing[0]["field"] == ["currency"]
    wrong = user_errors(
        shopify_sandbox, refund_input(order, transactions=money, currency="USD"), "mc-2"
    )
    assert wrong[0]["field"] == ["currency"]

    ok = create_refund(
        shopify_sandbox, refund_input(order, transactions=money, currency="EUR"), "mc-3"
    )
    assert ok["userErrors"] == []
    amount = ok["refund"]["totalRefundedSet"]
    assert amount["presentmentMoney"] == {"amount": "20.0", "currencyCode": "EUR"}
    assert amount["shopMoney"] == {"amount": "25.0", "currencyCode": "USD"}
    lines_only = refund_input(
        order, refundLineItems=[{"lineItemId": line(order, "MUG")["gid"], "quantity": 1}]
    )
    assert user_errors(shopify_sandbox, lines_only, "mc-4")[0]["field"] == ["currency"]
    with_currency = create_refund(shopify_sandbox, {**lines_only, "currency": "EUR"}, "mc-5")
    assert with_currency["userErrors"] == []


# --- idempotency ----------------------------------------------------------------------------


def tee_refund(order: dict[str, Any], quantity: int = 1) -> dict[str, Any]:
    return refund_input(
        order,
        refundLineItems=[
            {
                "lineItemId": line(order, "TEE")["gid"],
                "quantity": quantity,
                "restockType": "NO_RESTOCK",
            }
        ],
        transactions=[refund_transaction(order, "10.00")],
    )


def test_same_key_and_input_replays_the_first_refund(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    first = create_refund(shopify_sandbox, tee_refund(order), "key-1")
    again = create_refund(shopify_sandbox, tee_refund(order), "key-1")
    assert again["refund"]["id"] == first["refund"]["id"]
    assert len(order_state(shopify_sandbox, order)["refunds"]) == 1
    effects = [e["effect"] for e in journal(shopify_sandbox, operation="refundCreate")]
    assert effects == ["refund_created", "idempotent_replay"]
    assert journal(shopify_sandbox, operation="refundCreate")[1]["idempotency_key"] == "key-1"


def test_literal_key_is_honoured(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    mutation = """mutation($input: RefundInput!) {
      refundCreate(input: $input) @idempotent(key: "literal-key") {
        refund { id } userErrors { message } } }"""
    ids = [
        gql(shopify_sandbox, mutation, {"input": tee_refund(order)})["data"]["refundCreate"][
            "refund"
        ]["id"]
        for _ in range(2)
    ]
    assert ids[0] == ids[1]


def test_same_key_with_different_input_is_a_top_level_error(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    create_refund(shopify_sandbox, tee_refund(order), "key-2")
    body = gql(
        shopify_sandbox, REFUND_CREATE, {"input": tee_refund(order, quantity=2), "key": "key-2"}
    )
    assert body["data"] == {"refundCreate": None}
    [error] = body["errors"]
    assert error["extensions"]["code"] == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"
    assert error["path"] == ["refundCreate"]
    assert len(order_state(shopify_sandbox, order)["refunds"]) == 1


def test_blank_idempotency_key_is_refused(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    body = gql(shopify_sandbox, REFUND_CREATE, {"input": tee_refund(order), "key": "  "})
    assert body["data"] == {"refundCreate": None}
    assert order_state(shopify_sandbox, order)["refunds"] == []


def test_refunds_without_key_are_not_deduplicated(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    for _ in range(2):
        body = gql(shopify_sandbox, REFUND_CREATE_WITHOUT_KEY, {"input": tee_refund(order)})
        assert body["data"]["refundCreate"]["userErrors"] == []
    assert len(order_state(shopify_sandbox, order)["refunds"]) == 2


def test_concurrent_requests_with_one_key_create_one_refund(
    shopify_sandbox: httpx.Client, shopify_sandbox_server: BackgroundServer
) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    barrier = threading.Barrier(6)
    answers: list[dict[str, Any]] = []

    def send() -> None:
        with httpx.Client(base_url=shopify_sandbox_server.url, timeout=30) as own:
            barrier.wait()
            answers.append(gql(own, REFUND_CREATE, {"input": tee_refund(order), "key": "same-key"}))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    refund_ids = {a["data"]["refundCreate"]["refund"]["id"] for a in answers if "errors" not in a}
    busy = [a for a in answers if "errors" in a]
    assert len(refund_ids) == 1
    assert all(
        a["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_CONCURRENT_REQUEST" for a in busy
    )
    assert len(order_state(shopify_sandbox, order)["refunds"]) == 1
    effects = [e["effect"] for e in journal(shopify_sandbox, operation="refundCreate")]
    assert effects.count("refund_created") == 1


# --- cost and throttling --------------------------------------------------------------------


LOCATIONS_10 = "{ locations(first: 10) { nodes { id name } } }"  # 2 + 10 * 1 = 12


def test_every_response_reports_cost_and_throttle_status(shopify_sandbox: httpx.Client) -> None:
    cost = gql(shopify_sandbox, LOCATIONS_10)["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 12
    assert cost["actualQueryCost"] == 3  # one active location returned
    assert cost["throttleStatus"] == {
        "maximumAvailable": 2000.0,
        "currentlyAvailable": 1997,
        "restoreRate": 100.0,
    }


def test_selections_left_out_by_include_or_skip_cost_nothing(
    shopify_sandbox: httpx.Client,
) -> None:
    query = """query L($id: ID!, $full: Boolean!) {
      order(id: $id) {
        totalPriceSet { presentmentMoney { amount } shopMoney @include(if: $full) { amount } }
        totalReceivedSet @skip(if: $full) { presentmentMoney { amount } }
      }
    }"""
    order = seed_order(shopify_sandbox, discounted_order())
    lean = gql(shopify_sandbox, query, {"id": order["gid"], "full": False})
    full = gql(shopify_sandbox, query, {"id": order["gid"], "full": True})
    assert "shopMoney" not in lean["data"]["order"]["totalPriceSet"]
    assert "totalReceivedSet" not in full["data"]["order"]
    # lean: order 1 + totalPriceSet 2 + totalReceivedSet 2; full: order 1 + totalPriceSet 3
    assert lean["extensions"]["cost"]["requestedQueryCost"] == 5
    assert full["extensions"]["cost"]["requestedQueryCost"] == 4
    assert lean["extensions"]["cost"]["actualQueryCost"] == 5
    assert full["extensions"]["cost"]["actualQueryCost"] == 4


def test_mutation_cost_starts_at_ten(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    body = gql(shopify_sandbox, REFUND_CREATE_WITHOUT_KEY, {"input": tee_refund(order)})
    # 10 + refund{id} (1) + userErrors (1)
    assert body["extensions"]["cost"]["requestedQueryCost"] == 12


def test_bucket_throttles_then_restores_with_the_clock(
    shopify_sandbox_clock: FakeClock,
) -> None:
    with (
        BackgroundServer(clock=shopify_sandbox_clock, bucket_size=30, restore_rate=5.0) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        create_shop(client)
        first = gql(client, LOCATIONS_10)
        assert first["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 27
        for _ in range(2):
            gql(client, LOCATIONS_10)  # charged 12, refunded 9 each time: 21 left
        big = "{ locations(first: 25) { nodes { id } } }"  # 27 points
        throttled = gql(client, big)
        assert throttled["errors"] == [
            {
                "message": "Throttled",
                "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits",
                },
            }
        ]
        assert "data" not in throttled
        assert throttled["extensions"]["cost"]["actualQueryCost"] is None
        assert throttled["extensions"]["cost"]["requestedQueryCost"] == 27
        assert journal(client)[-1]["throttled"] is True

        shopify_sandbox_clock.advance(1.2)  # +6 points
        restored = gql(client, big)
        assert "errors" not in restored
        # 27 available, 27 charged, 24 given back (actual cost 3): 24 left.
        assert restored["extensions"]["cost"]["actualQueryCost"] == 3
        assert restored["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 24


def test_journal_records_requested_and_actual_cost_of_each_call(
    shopify_sandbox: httpx.Client,
) -> None:
    create_shop(shopify_sandbox, domain="tiny.myshopify.com", token="shpat_tiny", bucket_size=10)
    gql(shopify_sandbox, LOCATIONS_10)
    gql(shopify_sandbox, LOCATIONS_10, token="shpat_tiny")  # 12 points wanted, 10 in the bucket
    gql(shopify_sandbox, "{ locations(first: 10) { nodes { nope } } }")  # invalid: never costed
    costs = [
        (e["requested_cost"], e["actual_cost"], e["throttled"]) for e in journal(shopify_sandbox)
    ]
    assert costs == [(12, 3, False), (12, None, True), (None, None, False)]


def test_shop_level_bucket_overrides_and_single_query_limit(shopify_sandbox: httpx.Client) -> None:
    create_shop(shopify_sandbox, domain="tiny.myshopify.com", token="shpat_tiny", bucket_size=10)
    assert "errors" in gql(shopify_sandbox, LOCATIONS_10, token="shpat_tiny")
    huge = "{ orders(first: 250) { nodes { lineItems(first: 250) { nodes { id } } } } }"
    body = gql(shopify_sandbox, huge)
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"


# --- faults ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status"), [("http_500", 500), ("http_502", 502), ("http_503", 503)]
)
def test_server_error_faults_execute_nothing(
    shopify_sandbox: httpx.Client, kind: str, status: int
) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    shopify_sandbox.post(
        "/_sandbox/faults", json={"kind": kind, "count": 1, "operation": "refundCreate"}
    )
    locations = shopify_sandbox.post(
        GRAPHQL_PATH, json={"query": LOCATIONS_10}, headers={"X-Shopify-Access-Token": TOKEN}
    )
    assert locations.status_code == 200  # other operations are not targeted
    response = shopify_sandbox.post(
        GRAPHQL_PATH,
        json={"query": REFUND_CREATE, "variables": {"input": tee_refund(order), "key": "k"}},
        headers={"X-Shopify-Access-Token": TOKEN},
    )
    assert response.status_code == status
    assert "errors" in response.json()
    assert order_state(shopify_sandbox, order)["refunds"] == []
    assert journal(shopify_sandbox, operation="refundCreate")[-1]["fault"] == kind
    assert create_refund(shopify_sandbox, tee_refund(order), "k")["userErrors"] == []


def test_throttled_fault_returns_the_throttled_body(shopify_sandbox: httpx.Client) -> None:
    shopify_sandbox.post("/_sandbox/faults", json={"kind": "throttled", "count": 2})
    for _ in range(2):
        assert gql(shopify_sandbox, LOCATIONS_10)["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert "errors" not in gql(shopify_sandbox, LOCATIONS_10)
    assert [e["fault"] for e in journal(shopify_sandbox)] == ["throttled", "throttled", None]


def test_latency_fault_delays_then_answers_normally(shopify_sandbox: httpx.Client) -> None:
    shopify_sandbox.post(
        "/_sandbox/faults", json={"kind": "latency", "count": 1, "delay": 0.01, "shop": SHOP}
    )
    assert shopify_sandbox.get("/_sandbox/faults").json()[0]["kind"] == "latency"
    assert "errors" not in gql(shopify_sandbox, LOCATIONS_10)
    assert journal(shopify_sandbox)[-1]["fault"] == "latency"
    assert shopify_sandbox.get("/_sandbox/faults").json() == []


def test_faults_for_another_shop_do_not_fire_and_can_be_cleared(
    shopify_sandbox: httpx.Client,
) -> None:
    shopify_sandbox.post(
        "/_sandbox/faults", json={"kind": "http_500", "count": 5, "shop": "other.myshopify.com"}
    )
    assert "errors" not in gql(shopify_sandbox, LOCATIONS_10)
    assert shopify_sandbox.delete("/_sandbox/faults").status_code == 204
    assert shopify_sandbox.get("/_sandbox/faults").json() == []


def test_timeout_after_commit_commits_then_a_retry_replays(
    shopify_sandbox: httpx.Client, shopify_sandbox_server: BackgroundServer
) -> None:
    url = shopify_sandbox_server.url
    with httpx.Client(base_url=url, timeout=10) as client:
        order = seed_order(client, discounted_order())
        client.post(
            "/_sandbox/faults",
            json={
                "kind": "timeout_after_commit",
                "count": 1,
                "operation": "refundCreate",
                "delay": 5,
            },
        )
        with pytest.raises(httpx.ReadTimeout), httpx.Client(base_url=url, timeout=0.5) as impatient:
            create_refund(impatient, tee_refund(order), "timeout-key")
        for _ in range(500):  # bounded poll: the held request is journaled once committed
            if journal(client, operation="refundCreate"):
                break
        [held] = journal(client, operation="refundCreate")
        assert (held["fault"], held["effect"]) == ("timeout_after_commit", "refund_created")
        retried = create_refund(client, tee_refund(order), "timeout-key")
        assert retried["refund"]["id"] == held["refund_id"]
        assert journal(client, operation="refundCreate")[-1]["effect"] == "idempotent_replay"
        assert len(order_state(client, order)["refunds"]) == 1


# --- control surface ------------------------------------------------------------------------


def test_journal_filters_and_clears(shopify_sandbox: httpx.Client) -> None:
    create_shop(shopify_sandbox, domain="beta.myshopify.com", token="shpat_beta")
    gql(shopify_sandbox, LOCATIONS_10)
    gql(shopify_sandbox, "query Named { orders(first: 1) { nodes { id } } }", token="shpat_beta")
    entries = journal(shopify_sandbox)
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    [named] = journal(shopify_sandbox, shop="beta.myshopify.com")
    assert (named["operation"], named["kind"]) == ("orders", "query")
    assert journal(shopify_sandbox, operation="locations")[0]["shop"] == SHOP
    assert shopify_sandbox.delete("/_sandbox/journal").status_code == 204
    assert journal(shopify_sandbox) == []


def test_reset_forgets_everything(shopify_sandbox: httpx.Client) -> None:
    seed_order(shopify_sandbox, discounted_order())
    assert shopify_sandbox.post("/_sandbox/reset").status_code == 204
    response = shopify_sandbox.post(
        GRAPHQL_PATH, json={"query": LOCATIONS_10}, headers={"X-Shopify-Access-Token": TOKEN}
    )
    assert response.status_code == 401
    assert shopify_sandbox.get("/health").json() == {"status": "ok"}


def test_seeded_order_answers_gids_and_default_sale(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, discounted_order(id=5001))
    assert order["gid"] == "gid://shopify/Order/5001"
    assert all(li["gid"].startswith("gid://shopify/LineItem/") for li in order["line_items"])
    assert order["shipping_lines"][0]["gid"].startswith("gid://shopify/ShippingLine/")
    [sale] = order["transactions"]
    assert (sale["kind"], sale["gateway"], sale["amount"]["shop"]) == (
        "SALE",
        "shopify_payments",
        "1327.17",
    )
    bad = shopify_sandbox.post(
        f"/_sandbox/shops/{SHOP}/orders",
        json={"name": "#1", "line_items": [{"title": "x", "quantity": 1, "price": "1.001"}]},
    )
    assert bad.status_code == 422
    assert (
        shopify_sandbox.post(
            "/_sandbox/shops/nope.myshopify.com/orders", json=discounted_order()
        ).status_code
        == 404
    )
