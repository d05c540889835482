"""Contract tests of the Shopify sandbox: store credit refunds and duties."""

from __future__ import annotations

from typing import Any

import httpx

from contract import test_shopify_sandbox as base
from contract.test_shopify_sandbox import (
    SHOP,
    create_refund,
    discounted_order,
    gql,
    line,
    order_state,
    presentment_amount,
    refund_input,
    refund_transaction,
    seed_order,
    shop_amount,
    user_errors,
)

# The base module's fixtures, shared by name: one server per module, reset per test.
shopify_sandbox_clock = base.shopify_sandbox_clock
shopify_sandbox_server = base.shopify_sandbox_server
shopify_sandbox = base.shopify_sandbox

MONEY = base.MONEY
REFUND_WITH_DUTIES = f"""
mutation($input: RefundInput!, $key: String!) {{
  refundCreate(input: $input) @idempotent(key: $key) {{
    refund {{ id totalRefundedSet {{ {MONEY} }}
      duties {{ amountSet {{ {MONEY} }} originalDuty {{ id }} }}
      transactions(first: 5) {{ nodes {{ kind gateway amountSet {{ {MONEY} }}
        parentTransaction {{ id }} }} }} }}
    userErrors {{ field message }}
  }}
}}
"""


def store_credit(amount: str, currency: str = "USD", **extra: Any) -> dict[str, Any]:
    return {"storeCreditRefund": {"amount": {"amount": amount, "currencyCode": currency}, **extra}}


def refund(client: httpx.Client, payload: dict[str, Any], key: str) -> dict[str, Any]:
    body = gql(client, REFUND_WITH_DUTIES, {"input": payload, "key": key})
    assert "errors" not in body, body
    return dict(body["data"]["refundCreate"])


# --- store credit ---------------------------------------------------------------------------


def test_store_credit_refund_is_a_refund_transaction_and_a_customer_credit(
    shopify_sandbox: httpx.Client,
) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    expires = "2027-06-30T00:00:00Z"
    result = refund(
        shopify_sandbox,
        refund_input(order, refundMethods=[store_credit("25.50", expiresAt=expires)]),
        "credit",
    )
    assert result["userErrors"] == []
    [credit] = result["refund"]["transactions"]["nodes"]
    assert (credit["kind"], credit["gateway"]) == ("REFUND", "shopify_store_credit")
    assert credit["parentTransaction"] is None
    assert shop_amount(result["refund"]["totalRefundedSet"]) == "25.5"
    assert order_state(shopify_sandbox, order)["net_payment"]["shop"] == "1301.67"

    accounts = shopify_sandbox.get(f"/_sandbox/shops/{SHOP}/store_credit").json()
    account = accounts["jane@example.com"]["USD"]
    assert account["balance"] == "25.50"
    [entry] = account["credits"]
    assert (entry["amount"], entry["expires_at"], entry["event"]) == (
        "25.50",
        expires,
        "ORDER_REFUND",
    )
    one = shopify_sandbox.get(
        f"/_sandbox/shops/{SHOP}/store_credit", params={"email": "Jane@Example.com"}
    ).json()
    assert one == accounts


def test_store_credit_and_card_together_may_not_exceed_the_net_payment(
    shopify_sandbox: httpx.Client,
) -> None:
    order = seed_order(shopify_sandbox, discounted_order())
    too_much = refund_input(
        order,
        transactions=[refund_transaction(order, "1300.00")],
        refundMethods=[store_credit("27.18")],
    )
    assert user_errors(shopify_sandbox, too_much, "sc-1")[0]["field"] == ["transactions"]
    exact = {**too_much, "refundMethods": [store_credit("27.17")]}
    assert create_refund(shopify_sandbox, exact, "sc-2")["userErrors"] == []
    assert order_state(shopify_sandbox, order)["financial_status"] == "REFUNDED"


def test_store_credit_must_be_in_the_presentment_currency(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(
        shopify_sandbox,
        {
            "name": "#2001",
            "email": "eu@example.com",
            "presentment_currency": "EUR",
            "exchange_rate": "1.25",
            "line_items": [{"sku": "MUG", "title": "Mug", "quantity": 2, "price": "20.00"}],
        },
    )
    wrong = refund_input(order, currency="EUR", refundMethods=[store_credit("5.00", "USD")])
    errors = user_errors(shopify_sandbox, wrong, "eur-1")
    assert errors[0]["field"] == [
        "refundMethods",
        "0",
        "storeCreditRefund",
        "amount",
        "currencyCode",
    ]
    right = refund_input(order, currency="EUR", refundMethods=[store_credit("5.00", "EUR")])
    assert create_refund(shopify_sandbox, right, "eur-2")["userErrors"] == []
    accounts = shopify_sandbox.get(f"/_sandbox/shops/{SHOP}/store_credit").json()
    assert accounts["eu@example.com"]["EUR"]["balance"] == "5.00"


def test_store_credit_needs_a_customer_and_a_future_expiry(shopify_sandbox: httpx.Client) -> None:
    guest = seed_order(shopify_sandbox, discounted_order(email=None))
    assert user_errors(
        shopify_sandbox, refund_input(guest, refundMethods=[store_credit("1.00")]), "g"
    )[0]["field"] == ["refundMethods", "0", "storeCreditRefund"]
    order = seed_order(shopify_sandbox, discounted_order("#1002"))
    past = store_credit("1.00", expiresAt="2020-01-01T00:00:00Z")
    assert user_errors(shopify_sandbox, refund_input(order, refundMethods=[past]), "p")[0][
        "field"
    ] == ["refundMethods", "0", "storeCreditRefund", "expiresAt"]


# --- duties ---------------------------------------------------------------------------------


def dutiable_order() -> dict[str, Any]:
    """4 boots at 50.00 with a 20.00 import duty on the line: total 220.00."""
    return {
        "name": "#3001",
        "email": "jane@example.com",
        "line_items": [
            {
                "sku": "BOOT",
                "title": "Boot",
                "quantity": 4,
                "price": "50.00",
                "duties": [
                    {
                        "id": 77,
                        "price": "20.00",
                        "harmonized_system_code": "640391",
                        "country_code_of_origin": "IT",
                    }
                ],
            }
        ],
    }


ORDER_DUTIES = f"""
query($id: ID!) {{ order(id: $id) {{
  originalTotalDutiesSet {{ {MONEY} }} currentTotalDutiesSet {{ {MONEY} }}
  totalPriceSet {{ {MONEY} }}
  lineItems(first: 5) {{ nodes {{ duties {{ id harmonizedSystemCode countryCodeOfOrigin
    price {{ {MONEY} }} }} }} }} }} }}
"""
SUGGEST_DUTIES = f"""
query($id: ID!, $lines: [RefundLineItemInput!], $duties: [RefundDutyInput!]) {{
  order(id: $id) {{ suggestedRefund(refundLineItems: $lines, refundDuties: $duties) {{
    amountSet {{ {MONEY} }} totalDutiesSet {{ {MONEY} }}
    refundDuties {{ amountSet {{ {MONEY} }} originalDuty {{ id }} }} }} }} }}
"""


def test_seeded_duties_are_served_on_the_line_and_the_order(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, dutiable_order())
    data = gql(shopify_sandbox, ORDER_DUTIES, {"id": order["gid"]})["data"]["order"]
    [duty] = data["lineItems"]["nodes"][0]["duties"]
    assert duty["id"] == "gid://shopify/Duty/77"
    assert (duty["harmonizedSystemCode"], duty["countryCodeOfOrigin"]) == ("640391", "IT")
    assert shop_amount(duty["price"]) == "20.0"
    assert shop_amount(data["originalTotalDutiesSet"]) == "20.0"
    assert shop_amount(data["totalPriceSet"]) == "220.0"
    assert line(order, "BOOT")["duties"][0]["gid"] == "gid://shopify/Duty/77"


def test_proportional_duty_follows_the_refunded_units(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, dutiable_order())
    boot = line(order, "BOOT")["gid"]
    lines = [{"lineItemId": boot, "quantity": 1}]
    duties = [{"dutyId": "gid://shopify/Duty/77", "refundType": "PROPORTIONAL"}]
    suggested = gql(
        shopify_sandbox, SUGGEST_DUTIES, {"id": order["gid"], "lines": lines, "duties": duties}
    )["data"]["order"]["suggestedRefund"]
    assert shop_amount(suggested["totalDutiesSet"]) == "5.0"
    assert shop_amount(suggested["amountSet"]) == "55.0"
    assert suggested["refundDuties"][0]["originalDuty"]["id"] == "gid://shopify/Duty/77"

    result = refund(
        shopify_sandbox,
        refund_input(
            order,
            refundLineItems=lines,
            refundDuties=duties,
            transactions=[refund_transaction(order, "55.00")],
        ),
        "prop",
    )
    assert result["userErrors"] == []
    [refunded] = result["refund"]["duties"]
    assert presentment_amount(refunded["amountSet"]) == "5.0"
    data = gql(shopify_sandbox, ORDER_DUTIES, {"id": order["gid"]})["data"]["order"]
    assert shop_amount(data["currentTotalDutiesSet"]) == "15.0"


def test_full_duty_refunds_what_is_left_once(shopify_sandbox: httpx.Client) -> None:
    order = seed_order(shopify_sandbox, dutiable_order())
    full = refund_input(
        order, refundDuties=[{"dutyId": "gid://shopify/Duty/77", "refundType": "FULL"}]
    )
    result = refund(shopify_sandbox, full, "full-1")
    assert presentment_amount(result["refund"]["duties"][0]["amountSet"]) == "20.0"
    again = user_errors(shopify_sandbox, full, "full-2")
    assert again[0]["field"] == ["refundDuties", "0", "dutyId"]


def test_unknown_duty_and_proportional_without_lines_are_rejected(
    shopify_sandbox: httpx.Client,
) -> None:
    order = seed_order(shopify_sandbox, dutiable_order())
    unknown = refund_input(order, refundDuties=[{"dutyId": "gid://shopify/Duty/1"}])
    assert user_errors(shopify_sandbox, unknown, "u")[0]["field"] == [
        "refundDuties",
        "0",
        "dutyId",
    ]
    alone = refund_input(
        order, refundDuties=[{"dutyId": "gid://shopify/Duty/77", "refundType": "PROPORTIONAL"}]
    )
    assert user_errors(shopify_sandbox, alone, "a")[0]["field"] == [
        "refundDuties",
        "0",
        "refundType",
    ]
