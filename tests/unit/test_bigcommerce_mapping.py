"""BigCommerce JSON <-> domain translation (pure functions, no sockets)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from returnbridge.connectors.base.connector import (
    LineMoney,
    RefundCommand,
    RefundLineCommand,
    RefundMoney,
    ShippingMoney,
    TenderCommand,
)
from returnbridge.connectors.bigcommerce import mapping
from returnbridge.connectors.bigcommerce.hints import ItemIdentity
from returnbridge.domain.errors import PermanentError
from returnbridge.domain.money import exponent

CURRENCIES = ("USD", "JPY", "KWD", "EUR")


def v2_order(**overrides: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "id": 120,
        "date_created": "Tue, 05 Mar 2026 21:40:11 +0000",
        "currency_code": "EUR",
        "default_currency_code": "USD",
        "total_inc_tax": "96.2500",
        "discount_amount": "0.0000",
        "coupon_discount": "10.0000",
        "is_tax_inclusive_pricing": False,
        "payment_method": "Credit Card",
        "billing_address": {"email": "ann@example.com", "zip": "94105"},
    }
    order.update(overrides)
    return order


def v2_product(**overrides: Any) -> dict[str, Any]:
    product: dict[str, Any] = {
        "id": 55,
        "product_id": 77,
        "variant_id": 770,
        "sku": "TOWEL-1",
        "name": "Towel",
        "quantity": 3,
        "price_ex_tax": "25.0000",
        "price_inc_tax": "27.5000",
        "total_tax": "6.5000",
        "quantity_refunded": 1,
        "quantity_shipped": 0,
        "applied_discounts": [
            {
                "id": "coupon",
                "amount": "7.5000",
                "name": "SAVE",
                "code": "SAVE10",
                "target": "order",
            }
        ],
    }
    product.update(overrides)
    return product


ADDRESS = {"id": 12, "shipping_method": "Flat", "cost_ex_tax": "10.0000", "cost_inc_tax": "12.0000"}
REFUNDS = [
    {
        "id": 1,
        "order_id": 120,
        "reason": "returnbridge rb-1 x",
        "total_amount": 33.5,
        "items": [
            {"item_type": "PRODUCT", "item_id": 55, "quantity": 1},
            {"item_type": "SHIPPING", "item_id": 12, "requested_amount": 6},
        ],
    }
]


def test_amounts_are_read_exactly_and_rounded_half_up() -> None:
    assert mapping.minor("225.0000", "USD") == 22500
    assert mapping.minor(0.1, "USD") == 10
    assert mapping.minor("1.2350", "USD") == 124
    assert mapping.minor("500.0000", "JPY") == 500
    assert mapping.minor(None, "USD") == 0
    for bad in (True, "abc", "NaN"):
        with pytest.raises(PermanentError):
            mapping.minor(bad, "USD")


def test_amounts_are_sent_as_exact_json_numbers() -> None:
    assert mapping.wire_amount(1200, "USD") == 12
    assert mapping.wire_amount(1980, "USD") == 19.8
    assert repr(mapping.wire_amount(1, "USD")) == "0.01"
    assert mapping.wire_amount(500, "JPY") == 500


def test_order_uses_the_transactional_currency_discounts_taxes_and_refunds() -> None:
    order = mapping.order_from_bigcommerce(
        v2_order(), [v2_product(), v2_product(id=56, applied_discounts=[])], [ADDRESS], REFUNDS
    )
    assert (order.id, order.name, order.currency, order.email) == (
        "120",
        "120",
        "USD",
        "ann@example.com",
    )
    assert order.created_at is not None
    assert order.created_at.year == 2026
    towel = order.line_items[0]
    assert (towel.unit_price, towel.quantity, towel.already_returned_quantity) == (2500, 3, 1)
    assert towel.fulfilled_quantity is None  # 0 shipped: BigCommerce does not say
    assert [(d.amount, d.code, d.level) for d in towel.discount_allocations] == [
        (750, "SAVE10", "order")
    ]
    assert [t.amount for t in towel.tax_lines] == [650]
    # 10.00 coupon, 7.50 allocated by BigCommerce: the rest is an order-level discount
    assert [d.amount for d in order.order_discounts] == [250]
    (shipping,) = order.shipping_lines
    assert (
        shipping.id,
        shipping.price,
        shipping.already_refunded,
        shipping.already_refunded_tax,
    ) == (
        "12",
        1000,
        500,
        100,
    )
    assert (order.amount_paid, order.already_refunded_amount) == (9625, 3350)
    (payment,) = order.payments
    assert (payment.method, payment.amount, payment.refunded) == ("card", 9625, 3350)


def test_tax_inclusive_orders_price_lines_and_shipping_with_tax() -> None:
    order = mapping.order_from_bigcommerce(
        v2_order(is_tax_inclusive_pricing=True), [v2_product()], [ADDRESS], REFUNDS
    )
    assert order.taxes_included
    assert order.line_items[0].unit_price == 2750
    assert (order.shipping_lines[0].price, order.shipping_lines[0].already_refunded) == (1200, 600)


def command(**overrides: Any) -> RefundCommand:
    values: dict[str, Any] = {
        "order_id": "120",
        "currency": "USD",
        "idempotency_key": "rb-7-1-1",
        "lines": (RefundLineCommand(line_id="55", quantity=1),),
        "tenders": (TenderCommand(amount=3350),),
        "note": "customer return",
        "money": RefundMoney(
            lines=(LineMoney(line_id="55", quantity=1, subtotal=2500, tax=250),),
            shipping=(ShippingMoney(shipping_line_id="12", amount=500, tax=100),),
            total=3350,
        ),
    }
    values.update(overrides)
    return RefundCommand(**values)


def test_refund_items_carry_the_key_in_the_reason_and_shipping_with_its_tax() -> None:
    items = mapping.refund_items(command())
    reason = "returnbridge rb-7-1-1 customer return"
    assert items == [
        {"item_type": "PRODUCT", "item_id": 55, "quantity": 1, "reason": reason},
        {"item_type": "SHIPPING", "item_id": 12, "amount": 6, "reason": reason},
    ]
    kept = mapping.refund_reason(command(note="returnbridge rb-7-1-1 already ours"))
    assert kept == "returnbridge rb-7-1-1 already ours"


def test_tax_inclusive_plan_sends_shipping_amount_as_is() -> None:
    money = RefundMoney(
        lines=(LineMoney(line_id="55", quantity=1, subtotal=2750, tax=250),),
        shipping=(ShippingMoney(shipping_line_id="12", amount=600, tax=100),),
        total=3350,
    )
    items = mapping.refund_items(command(money=money))
    assert items[1]["amount"] == 6


def test_non_numeric_line_ids_are_refused() -> None:
    with pytest.raises(PermanentError):
        mapping.refund_items(command(lines=(RefundLineCommand(line_id="gid://x", quantity=1),)))


QUOTE = {
    "order_id": 120,
    "total_refund_amount": 33.5,
    "total_refund_tax_amount": 3.5,
    "refund_methods": [
        [{"provider_id": "braintree", "amount": 33.5, "offline": False}],
        [{"provider_id": "storecredit", "amount": 33.5, "offline": False}],
        [{"provider_id": "custom", "amount": 33.5, "offline": True}],
    ],
}


def test_payments_follow_the_tender() -> None:
    original = mapping.refund_payments(QUOTE, command())
    assert original == [{"provider_id": "braintree", "amount": 33.5, "offline": False}]
    credit = command(tenders=(TenderCommand(amount=3350, method="store_credit"),))
    assert mapping.refund_payments(QUOTE, credit)[0]["provider_id"] == "storecredit"
    offline = command(tenders=(TenderCommand(amount=3350, method="offline"),))
    assert mapping.refund_payments(QUOTE, offline)[0]["offline"] is True
    only_credit = {**QUOTE, "refund_methods": [QUOTE["refund_methods"][1]]}
    with pytest.raises(PermanentError):
        mapping.refund_payments(only_credit, command())


def test_a_quote_agreeing_with_the_plan_carries_the_plans_split() -> None:
    suggested = mapping.suggested_refund(QUOTE, command())
    assert (suggested.total, suggested.subtotal, suggested.tax) == (3350, 2500, 350)
    assert (suggested.shipping_amount, suggested.shipping_tax) == (500, 100)
    assert [(t.amount, t.gateway) for t in suggested.tenders] == [(3350, "braintree")]


def test_a_disagreeing_quote_keeps_its_own_totals() -> None:
    quote = {**QUOTE, "total_refund_amount": 40.0, "total_refund_tax_amount": 4.0}
    suggested = mapping.suggested_refund(quote, command())
    assert suggested.total == 4000
    assert suggested.shipping_amount == 600
    assert [(x.line_id, x.quantity, x.subtotal, x.tax) for x in suggested.lines] == [
        ("55", 1, 3000, 400)
    ]


def test_platform_refund_reads_the_key_from_the_reason() -> None:
    refund = mapping.platform_refund({**REFUNDS[0], "created": "2026-03-05T21:40:11+00:00"}, "USD")
    assert (refund.id, refund.order_id, refund.total) == ("1", "120", 3350)
    assert refund.idempotency_key == "rb-1"
    assert [(x.line_id, x.quantity) for x in refund.lines] == [("55", 1)]
    assert refund.shipping is None
    foreign = mapping.platform_refund({**REFUNDS[0], "reason": "made by hand"}, "USD")
    assert foreign.idempotency_key is None


def test_adjustment_items_name_sku_else_variant_else_product() -> None:
    def item(**overrides: Any) -> ItemIdentity:
        return ItemIdentity.of(v2_product(**overrides))

    assert mapping.adjustment_item(item(), 1, 2) == {
        "location_id": 1,
        "quantity": 2,
        "sku": "TOWEL-1",
    }
    assert mapping.adjustment_item(item(sku=""), 1, 1)["variant_id"] == 770
    assert mapping.adjustment_item(item(sku="", variant_id=0), 1, 1)["product_id"] == 77
    with pytest.raises(PermanentError):
        mapping.adjustment_item(item(sku="", variant_id=0, product_id=0), 1, 1)


def test_order_numbers_accept_a_hash_and_refuse_anything_else() -> None:
    assert mapping.order_number("#1001") == 1001
    assert mapping.order_number(" 7 ") == 7
    assert mapping.order_number("gid://shopify/Order/1") is None
    assert mapping.order_number("0") is None


@given(amount=st.integers(min_value=0, max_value=10**13), currency=st.sampled_from(CURRENCIES))
def test_amounts_sent_read_back_to_the_same_minor_units(amount: int, currency: str) -> None:
    sent = mapping.wire_amount(amount, currency)
    text = json.dumps(sent)  # what goes on the wire
    assert mapping.minor(json.loads(text), currency) == amount
    exact = Decimal(amount).scaleb(-exponent(currency))
    assert Decimal(text) == exact  # the wire text is the exact decimal, oracle: Decimal


@given(cents=st.integers(min_value=0, max_value=10**12), extra=st.integers(0, 99))
def test_v2_four_decimal_strings_round_half_up(cents: int, extra: int) -> None:
    text = f"{Decimal(cents) / 100:.2f}{extra:02d}"
    expected = cents + (1 if extra >= 50 else 0)
    assert mapping.minor(text, "USD") == expected
