"""Shopify JSON <-> domain mapping on realistic GraphQL responses."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from returnbridge.connectors.base.connector import (
    DutyCommand,
    OrderQuery,
    RefundCommand,
    RefundLineCommand,
    TenderCommand,
)
from returnbridge.connectors.base.search import matches
from returnbridge.connectors.shopify import mapping
from returnbridge.domain.errors import DomainError
from returnbridge.domain.orders import OrderSummary

ORDER = "gid://shopify/Order/5001"
LINE_A = "gid://shopify/LineItem/11"
LINE_B = "gid://shopify/LineItem/12"
SHIP = "gid://shopify/ShippingLine/21"
SALE = "gid://shopify/OrderTransaction/31"
GIFT = "gid://shopify/OrderTransaction/32"
LOC = "gid://shopify/Location/1"


def bag(presentment: str, shop: str, *, pc: str = "CAD", sc: str = "USD") -> dict[str, Any]:
    return {
        "presentmentMoney": {"amount": presentment, "currencyCode": pc},
        "shopMoney": {"amount": shop, "currencyCode": sc},
    }


def tax(title: str, rate: float, presentment: str, shop: str) -> dict[str, Any]:
    return {"title": title, "rate": rate, "priceSet": bag(presentment, shop)}


def order_json() -> dict[str, Any]:
    """Multi-currency (CAD customer, USD shop): 3 x 20.00 with 5.00 code discount, 13% HST."""
    return {
        "id": ORDER,
        "name": "#1001",
        "email": "jane@example.com",
        "createdAt": "2026-01-05T10:00:00Z",
        "currencyCode": "USD",
        "presentmentCurrencyCode": "CAD",
        "taxesIncluded": False,
        "totalReceivedSet": bag("89.41", "65.27"),
        "totalRefundedSet": bag("28.25", "20.62"),
        "lineItems": {
            "nodes": [
                {
                    "id": LINE_A,
                    "sku": "TEE-M",
                    "title": "T-shirt",
                    "quantity": 3,
                    "refundableQuantity": 2,
                    "unfulfilledQuantity": 0,
                    "originalUnitPriceSet": bag("20.00", "14.60"),
                    "discountAllocations": [
                        {
                            "allocatedAmountSet": bag("5.00", "3.65"),
                            "discountApplication": {"allocationMethod": "EACH", "code": "SAVE5"},
                        },
                        {
                            "allocatedAmountSet": bag("1.00", "0.73"),
                            "discountApplication": {"allocationMethod": "ACROSS"},
                        },
                    ],
                    "taxLines": [tax("HST", 0.13, "7.02", "5.12")],
                },
                {
                    "id": LINE_B,
                    "sku": None,
                    "title": "Mug",
                    "quantity": 2,
                    "refundableQuantity": 1,
                    "unfulfilledQuantity": 1,
                    "originalUnitPriceSet": bag("8.50", "6.21"),
                    "discountAllocations": [],
                    "taxLines": [],
                },
            ],
            "pageInfo": {"hasNextPage": False},
        },
        "shippingLines": {
            "nodes": [
                {
                    "id": SHIP,
                    "title": "Standard",
                    "originalPriceSet": bag("10.00", "7.30"),
                    "discountAllocations": [{"allocatedAmountSet": bag("2.00", "1.46")}],
                    "taxLines": [tax("HST", 0.13, "1.04", "0.76")],
                }
            ]
        },
        "transactions": [
            {
                "id": SALE,
                "kind": "SALE",
                "status": "SUCCESS",
                "gateway": "shopify_payments",
                "amountSet": bag("79.41", "57.97"),
                "parentTransaction": None,
            },
            {
                "id": GIFT,
                "kind": "SALE",
                "status": "SUCCESS",
                "gateway": "gift_card",
                "amountSet": bag("10.00", "7.30"),
                "parentTransaction": None,
            },
            {
                "id": "gid://shopify/OrderTransaction/33",
                "kind": "SALE",
                "status": "FAILURE",
                "gateway": "shopify_payments",
                "amountSet": bag("79.41", "57.97"),
                "parentTransaction": None,
            },
            {
                "id": "gid://shopify/OrderTransaction/34",
                "kind": "REFUND",
                "status": "SUCCESS",
                "gateway": "shopify_payments",
                "amountSet": bag("28.25", "20.62"),
                "parentTransaction": {"id": SALE},
            },
        ],
    }


def refund_json() -> dict[str, Any]:
    return {
        "id": "gid://shopify/Refund/41",
        "createdAt": "2026-01-07T09:30:00Z",
        "note": "rb-ret-1-1-1",
        "totalRefundedSet": bag("28.25", "20.62"),
        "refundLineItems": {
            "nodes": [
                {
                    "lineItem": {"id": LINE_A},
                    "quantity": 1,
                    "restockType": "RETURN",
                    "location": {"id": LOC},
                    "subtotalSet": bag("18.33", "13.38"),
                    "totalTaxSet": bag("2.34", "1.71"),
                },
                {
                    "lineItem": {"id": LINE_B},
                    "quantity": 1,
                    "restockType": "CANCEL",
                    "location": None,
                    "subtotalSet": bag("8.50", "6.21"),
                    "totalTaxSet": bag("0.00", "0.00"),
                },
            ],
            "pageInfo": {"hasNextPage": False},
        },
        "refundShippingLines": {
            "nodes": [
                {
                    "shippingLine": {"id": SHIP},
                    "subtotalAmountSet": bag("3.00", "2.19"),
                    "taxAmountSet": bag("0.39", "0.28"),
                }
            ]
        },
    }


def test_order_uses_presentment_money_with_shop_twins() -> None:
    order = mapping.order_from_shopify(order_json(), [refund_json()])
    assert (order.id, order.name, order.platform) == (ORDER, "#1001", "shopify")
    assert (order.currency, order.shop_currency, order.currency_exponent) == ("CAD", "USD", 2)
    assert order.is_multi_currency
    assert (order.amount_paid, order.amount_paid_shop) == (8941, 6527)
    assert (order.already_refunded_amount, order.already_refunded_amount_shop) == (2825, 2062)
    line = order.line(LINE_A)
    assert line is not None
    assert (line.unit_price, line.unit_price_shop, line.sku) == (2000, 1460, "TEE-M")
    assert [(d.amount, d.amount_shop, d.code, d.level) for d in line.discount_allocations] == [
        (500, 365, "SAVE5", "line"),
        (100, 73, None, "order"),
    ]
    assert [(t.title, t.rate, t.amount, t.amount_shop) for t in line.tax_lines] == [
        ("HST", Decimal("0.13"), 702, 512)
    ]
    assert order.created_at is not None
    assert order.created_at.tzinfo is not None


def test_quantities_leave_refundable_units_split_into_shipped_and_unshipped() -> None:
    order = mapping.order_from_shopify(order_json(), [refund_json()])
    tee, mug = order.line_items
    assert (tee.already_returned_quantity, tee.fulfilled_quantity) == (1, 3)
    # Mug: 2 ordered, 1 cancelled before shipping (unfulfilledQuantity dropped with it), 1 open:
    # no shipped unit is left to return and one unshipped unit is left to cancel.
    assert (mug.already_returned_quantity, mug.fulfilled_quantity) == (1, 1)
    assert mug.fulfilled_quantity - mug.already_returned_quantity == 0
    assert mug.quantity - mug.fulfilled_quantity == 1


def test_shipping_keeps_discount_tax_and_what_was_refunded() -> None:
    (shipping,) = mapping.order_from_shopify(order_json(), [refund_json()]).shipping_lines
    assert (shipping.id, shipping.price, shipping.price_shop) == (SHIP, 1000, 730)
    assert (shipping.discount, shipping.discount_shop) == (200, 146)
    assert (shipping.already_refunded, shipping.already_refunded_tax) == (300, 39)
    assert (shipping.already_refunded_shop, shipping.already_refunded_tax_shop) == (219, 28)


def test_payments_are_successful_charges_with_refunded_children() -> None:
    payments = mapping.order_from_shopify(order_json()).payments
    assert [(p.id, p.method, p.gateway, p.amount, p.refunded) for p in payments] == [
        (SALE, "card", "shopify_payments", 7941, 2825),
        (GIFT, "gift_card", "gift_card", 1000, 0),
    ]


def test_order_totals_follow_from_transactions_when_not_read() -> None:
    """Order.graphql skips totalReceivedSet/totalRefundedSet unless it reads refunds apart."""
    data = order_json()
    del data["totalReceivedSet"], data["totalRefundedSet"]
    order = mapping.order_from_shopify(data, [refund_json()])
    # SALE 79.41 + gift card 10.00 (the failed SALE does not count); one REFUND of 28.25
    assert (order.amount_paid, order.amount_paid_shop) == (8941, 6527)
    assert (order.already_refunded_amount, order.already_refunded_amount_shop) == (2825, 2062)


def presentment_only(value: Any) -> Any:
    """`value` as read with $shopMoney false: every MoneyBag without its shopMoney."""
    if isinstance(value, dict):
        return {k: presentment_only(v) for k, v in value.items() if k != "shopMoney"}
    if isinstance(value, list):
        return [presentment_only(v) for v in value]
    return value


def test_single_currency_order_needs_no_shop_money() -> None:
    data = presentment_only(order_json())
    data["currencyCode"] = "CAD"
    del data["totalReceivedSet"], data["totalRefundedSet"]
    order = mapping.order_from_shopify(data, [presentment_only(refund_json())])
    assert (order.amount_paid, order.already_refunded_amount) == (8941, 2825)
    assert order.amount_paid_shop is None
    assert order.shipping_lines[0].already_refunded == 300
    assert order.shipping_lines[0].discount_shop is None
    assert mapping.is_multi_currency(order_json())
    assert not mapping.is_multi_currency(data)


def test_multi_currency_order_without_shop_money_is_refused() -> None:
    with pytest.raises(DomainError) as caught:
        mapping.order_from_shopify(presentment_only(order_json()))
    assert caught.value.code == "INVALID_PLATFORM_DATA"


def test_single_currency_order_has_no_shop_twins() -> None:
    data = order_json()
    data["currencyCode"] = "CAD"
    order = mapping.order_from_shopify(data)
    assert not order.is_multi_currency
    assert order.amount_paid_shop is None
    assert all(line.unit_price_shop is None for line in order.line_items)


def test_zero_decimal_currency_parses_exactly() -> None:
    data = order_json()
    data["presentmentCurrencyCode"] = "JPY"
    data["lineItems"]["nodes"][0]["originalUnitPriceSet"] = bag("2200", "14.60", pc="JPY")
    data["lineItems"]["nodes"] = data["lineItems"]["nodes"][:1]
    data["lineItems"]["nodes"][0]["discountAllocations"] = []
    data["lineItems"]["nodes"][0]["taxLines"] = []
    data["shippingLines"] = {"nodes": []}
    data["transactions"] = []
    data["totalReceivedSet"] = bag("6600", "43.80", pc="JPY")
    data["totalRefundedSet"] = bag("0", "0.00", pc="JPY")
    order = mapping.order_from_shopify(data)
    assert (order.currency_exponent, order.line_items[0].unit_price, order.amount_paid) == (
        0,
        2200,
        6600,
    )


def test_amount_with_too_many_decimals_is_rejected_not_rounded() -> None:
    data = order_json()
    data["totalReceivedSet"] = bag("89.415", "65.27")
    with pytest.raises(DomainError):
        mapping.order_from_shopify(data)


def command(**overrides: Any) -> RefundCommand:
    values: dict[str, Any] = {
        "order_id": ORDER,
        "currency": "CAD",
        "idempotency_key": "rb-ret-1-1-1",
        "lines": (
            RefundLineCommand(line_id=LINE_A, quantity=1, restock="return", location_id=LOC),
            RefundLineCommand(line_id=LINE_B, quantity=1, restock="cancel", location_id=LOC),
        ),
        "shipping_amount": 300,
        "tenders": (
            TenderCommand(amount=1000, method="original", parent_id=GIFT, gateway="gift_card"),
            TenderCommand(amount=1825, parent_id=SALE, gateway="shopify_payments"),
        ),
        "note": "Return RMA-7",
    }
    values.update(overrides)
    return RefundCommand(**values)


def test_refund_input_carries_restock_shipping_transactions_currency_and_note() -> None:
    value = mapping.refund_input(command())
    assert value == {
        "orderId": ORDER,
        "currency": "CAD",
        "notify": False,
        "note": "Return RMA-7",
        "refundLineItems": [
            {"lineItemId": LINE_A, "quantity": 1, "restockType": "RETURN", "locationId": LOC},
            {"lineItemId": LINE_B, "quantity": 1, "restockType": "CANCEL", "locationId": LOC},
        ],
        "shipping": {"amount": "3.00"},
        "transactions": [
            {
                "orderId": ORDER,
                "amount": "10.00",
                "gateway": "gift_card",
                "kind": "REFUND",
                "parentId": GIFT,
            },
            {
                "orderId": ORDER,
                "amount": "18.25",
                "gateway": "shopify_payments",
                "kind": "REFUND",
                "parentId": SALE,
            },
        ],
    }


def test_cancel_without_a_location_is_a_domain_error() -> None:
    unplaced = RefundLineCommand(line_id=LINE_B, quantity=1, restock="cancel")
    with pytest.raises(DomainError, match="restock 'cancel' needs a location_id"):
        mapping.refund_input(command(lines=(unplaced,)))


def test_money_only_refund_uses_no_restock_and_full_shipping() -> None:
    value = mapping.refund_input(
        command(
            lines=(RefundLineCommand(line_id=LINE_A, quantity=2),),
            shipping_full=True,
            shipping_amount=None,
            tenders=(),
            note=None,
        )
    )
    assert value["refundLineItems"] == [
        {"lineItemId": LINE_A, "quantity": 2, "restockType": "NO_RESTOCK"}
    ]
    assert value["shipping"] == {"fullRefund": True}
    assert "transactions" not in value
    assert "note" not in value


def test_store_credit_tender_becomes_a_refund_method() -> None:
    value = mapping.refund_input(
        command(currency="JPY", tenders=(TenderCommand(amount=1500, method="store_credit"),))
    )
    assert value["refundMethods"] == [
        {"storeCreditRefund": {"amount": {"amount": "1500", "currencyCode": "JPY"}}}
    ]
    assert value["shipping"] == {"amount": "300"}


def test_return_restock_without_location_is_a_domain_error() -> None:
    with pytest.raises(DomainError) as caught:
        mapping.refund_input(
            command(lines=(RefundLineCommand(line_id=LINE_A, quantity=1, restock="return"),))
        )
    assert caught.value.code == "LOCATION_REQUIRED"


def test_transaction_without_gateway_is_a_domain_error() -> None:
    with pytest.raises(DomainError):
        mapping.refund_input(command(tenders=(TenderCommand(amount=100, parent_id=SALE),)))


def test_refund_json_maps_to_platform_refund() -> None:
    refund = mapping.refund_from_shopify(refund_json(), order_id=ORDER, idempotency_key="k")
    assert (refund.id, refund.order_id, refund.currency, refund.total) == (
        "gid://shopify/Refund/41",
        ORDER,
        "CAD",
        2825,
    )
    assert refund.idempotency_key == "k"
    assert refund.shipping == 300
    assert [
        (x.line_id, x.quantity, x.restock, x.location_id, x.subtotal, x.tax) for x in refund.lines
    ] == [
        (LINE_A, 1, "return", LOC, 1833, 234),
        (LINE_B, 1, "cancel", None, 850, 0),
    ]


def test_created_refund_has_the_answer_s_total_and_the_command_s_lines() -> None:
    answer = {
        "id": "gid://shopify/Refund/41",
        "createdAt": "2026-01-06T10:00:00Z",
        "totalRefundedSet": {"presentmentMoney": {"amount": "28.25", "currencyCode": "CAD"}},
    }
    refund = mapping.created_refund(answer, command())
    assert (refund.id, refund.order_id, refund.currency, refund.total) == (
        "gid://shopify/Refund/41",
        ORDER,
        "CAD",
        2825,
    )
    assert (refund.idempotency_key, refund.note) == ("rb-ret-1-1-1", "Return RMA-7")
    assert refund.created_at is not None
    assert refund.shipping is None  # not asked for
    assert [
        (x.line_id, x.quantity, x.restock, x.location_id, x.subtotal) for x in refund.lines
    ] == [
        (LINE_A, 1, "return", LOC, None),
        (LINE_B, 1, "cancel", LOC, None),
    ]


def test_suggested_refund_maps_amounts_lines_and_tenders() -> None:
    suggested = mapping.suggested_refund_from_shopify(
        {
            "refundLineItems": [
                {
                    "lineItem": {"id": LINE_A},
                    "quantity": 1,
                    "subtotalSet": bag("18.33", "13.38"),
                    "totalTaxSet": bag("2.34", "1.71"),
                }
            ],
            "shipping": {"amountSet": bag("0.00", "0.00"), "taxSet": bag("0.00", "0.00")},
            "suggestedTransactions": [
                {
                    "gateway": "shopify_payments",
                    "amountSet": bag("20.67", "15.09"),
                    "parentTransaction": {"id": SALE},
                }
            ],
        },
        currency="cad",
    )
    assert (suggested.currency, suggested.total, suggested.subtotal, suggested.tax) == (
        "CAD",
        2067,
        1833,
        234,
    )
    assert [(x.line_id, x.quantity, x.subtotal, x.tax) for x in suggested.lines] == [
        (LINE_A, 1, 1833, 234)
    ]
    assert [(t.amount, t.gateway, t.parent_id) for t in suggested.tenders] == [
        (2067, "shopify_payments", SALE)
    ]


def test_suggested_refund_variables_follow_the_command() -> None:
    variables = mapping.suggested_refund_variables(command())
    assert variables["id"] == ORDER
    assert variables["shippingAmount"] == "3.00"
    assert variables["withShipping"] is True
    assert (
        mapping.suggested_refund_variables(command(shipping_amount=None))["withShipping"] is False
    )
    assert mapping.suggested_refund_variables(command(shipping_amount=None, shipping_full=True))[
        "withShipping"
    ]
    assert [x["restockType"] for x in variables["refundLineItems"]] == ["RETURN", "CANCEL"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (OrderQuery(name="#1001"), "name:#1001"),
        (OrderQuery(name="1001"), "(name:1001 OR name:#1001)"),
        (OrderQuery(email="jane@example.com"), "email:jane@example.com"),
        (OrderQuery(name="#1001", skus=("TEE-M", "MUG")), "name:#1001 AND sku:TEE-M AND sku:MUG"),
        (OrderQuery(email='a b"c@example.com'), 'email:"a b\\"c@example.com"'),
        (OrderQuery(), ""),
    ],
)
def test_search_query_syntax(query: OrderQuery, expected: str) -> None:
    assert mapping.search_query(query) == expected


def test_search_hits_are_checked_exactly() -> None:
    hit = OrderSummary(id=ORDER, name="#1001", email="Jane@Example.com", skus=("TEE-M",))
    assert matches(hit, OrderQuery(name="1001"))
    assert matches(hit, OrderQuery(name="#1001", email="jane@example.com"))
    assert not matches(hit, OrderQuery(name="#10011"))
    assert not matches(hit, OrderQuery(skus=("MUG",)))


def test_order_summary_lists_skus_and_total() -> None:
    summary = mapping.order_summary_from_shopify(
        {
            "id": ORDER,
            "name": "#1001",
            "email": "jane@example.com",
            "createdAt": "2026-01-05T10:00:00Z",
            "presentmentCurrencyCode": "CAD",
            "totalPriceSet": bag("89.41", "65.27"),
            "lineItems": {"nodes": [{"sku": "TEE-M"}, {"sku": None}]},
        }
    )
    assert (summary.total, summary.currency, summary.skus) == (8941, "CAD", ("TEE-M",))


def test_refunds_match_order_compares_refunded_totals() -> None:
    assert mapping.refunds_match_order(order_json(), [refund_json()])
    assert not mapping.refunds_match_order(order_json(), [])


@pytest.mark.parametrize(("has_next", "complete"), [(True, False), (False, True)])
def test_order_summary_says_whether_every_line_s_sku_was_read(
    has_next: bool, complete: bool
) -> None:
    summary = mapping.order_summary_from_shopify(
        {
            "id": ORDER,
            "lineItems": {"nodes": [{"sku": "TEE-M"}], "pageInfo": {"hasNextPage": has_next}},
        }
    )
    assert summary.skus_complete is complete


def test_line_duties_carry_what_earlier_refunds_gave_back() -> None:
    raw = order_json()
    raw["lineItems"]["nodes"][0]["duties"] = [
        {"id": "gid://shopify/Duty/1", "price": bag("6.00", "4.38")}
    ]
    earlier = {
        "duties": [
            {"originalDuty": {"id": "gid://shopify/Duty/1"}, "amountSet": bag("2.00", "1.46")}
        ]
    }
    order = mapping.order_from_shopify(raw, [earlier])
    (duty,) = order.line_items[0].duties
    assert (duty.id, duty.amount, duty.amount_shop) == ("gid://shopify/Duty/1", 600, 438)
    assert (duty.already_refunded, duty.already_refunded_shop) == (200, 146)
    assert order.line_items[1].duties == ()


def test_refund_input_names_duties_by_id_and_type() -> None:
    value = mapping.refund_input(
        command(
            duties=(
                DutyCommand(duty_id="gid://shopify/Duty/1", refund_type="proportional"),
                DutyCommand(duty_id="gid://shopify/Duty/2", refund_type="full"),
            )
        )
    )
    assert value["refundDuties"] == [
        {"dutyId": "gid://shopify/Duty/1", "refundType": "PROPORTIONAL"},
        {"dutyId": "gid://shopify/Duty/2", "refundType": "FULL"},
    ]
    assert "refundDuties" not in mapping.refund_input(command())
