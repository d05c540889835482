"""WooCommerce JSON <-> domain: orders, refunds and search, from hand-written payloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from returnbridge.connectors.base.connector import OrderQuery
from returnbridge.connectors.base.search import matches
from returnbridge.connectors.woocommerce import mapping
from returnbridge.domain.errors import DomainError


def order_json(**overrides: Any) -> dict[str, Any]:
    """2 x 12.50 (a 2.00 coupon share, 10% tax), shipping 5.00 + 0.50 tax, total 28.80."""
    order: dict[str, Any] = {
        "id": 723,
        "number": "WC-723",
        "status": "completed",
        "currency": "usd",
        "date_created": "2026-03-01T09:00:00",
        "date_created_gmt": "2026-03-01T08:00:00",
        "prices_include_tax": False,
        "total": "28.80",
        "payment_method": "stripe",
        "transaction_id": "ch_1",
        "billing": {"email": "Ann@Example.com", "phone": "555"},
        "shipping": {"postcode": "10115"},
        "tax_lines": [{"id": 90, "rate_id": 4, "rate_code": "US-TAX-1", "label": "Sales tax"}],
        "coupon_lines": [{"code": "SPRING"}],
        "line_items": [
            {
                "id": 111,
                "product_id": 51,
                "variation_id": 0,
                "sku": "CAP",
                "name": "Cap",
                "quantity": 2,
                "subtotal": "25.00",
                "subtotal_tax": "2.50",
                "total": "23.00",
                "total_tax": "2.30",
                "taxes": [{"id": 4, "total": "2.30", "subtotal": "2.50"}],
                "price": 11.5,
            }
        ],
        "shipping_lines": [
            {
                "id": 112,
                "method_title": "Flat rate",
                "total": "5.00",
                "total_tax": "0.50",
                "taxes": [{"id": 4, "total": "0.50", "subtotal": ""}],
            }
        ],
        "refunds": [],
    }
    order.update(overrides)
    return order


def refund_json(**overrides: Any) -> dict[str, Any]:
    refund: dict[str, Any] = {
        "id": 900,
        "date_created_gmt": "2026-03-02T10:00:00",
        "amount": "13.15",
        "reason": "returnbridge rb-1 (return R1)",
        "meta_data": [
            {"id": 1, "key": "_returnbridge_key", "value": "rb-1"},
            {"id": 2, "key": "_returnbridge_restock", "value": "yes"},
        ],
        "line_items": [
            {
                "id": 901,
                "quantity": -1,
                "total": "-11.50",
                "total_tax": "-1.15",
                "taxes": [{"id": 4, "total": "-1.15", "subtotal": "-1.15"}],
                "meta_data": [{"key": "_refunded_item_id", "value": "111"}],
            }
        ],
        "shipping_lines": [
            {
                "id": 902,
                "total": "0.45",
                "total_tax": "-0.05",
                "taxes": [{"id": 4, "total": "-0.05"}],
                "meta_data": [{"key": "_refunded_item_id", "value": "112"}],
            }
        ],
    }
    refund.update(overrides)
    return refund


def test_an_order_maps_discount_taxes_shipping_and_payment() -> None:
    order = mapping.order_from_woocommerce(order_json())
    assert (order.id, order.name, order.email, order.platform) == (
        "723",
        "WC-723",
        "Ann@Example.com",
        "woocommerce",
    )
    assert (order.currency, order.currency_exponent, order.taxes_included) == ("USD", 2, False)
    assert order.created_at == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    (line,) = order.line_items
    assert (line.id, line.sku, line.variant_id, line.unit_price) == ("111", "CAP", "51", 1250)
    assert [(d.amount, d.code, d.level) for d in line.discount_allocations] == [
        (200, "SPRING", "line")
    ]
    assert [(t.title, t.id, t.amount, t.already_refunded) for t in line.tax_lines] == [
        ("Sales tax", "4", 230, 0)
    ]
    (shipping,) = order.shipping_lines
    assert (shipping.id, shipping.title, shipping.price) == ("112", "Flat rate", 500)
    assert [(t.id, t.amount) for t in shipping.tax_lines] == [("4", 50)]
    (payment,) = order.payments
    assert (payment.id, payment.gateway, payment.method, payment.amount) == (
        "ch_1",
        "stripe",
        "card",
        2880,
    )
    assert order.amount_paid == 2880


def test_refunds_fill_what_was_already_given_back() -> None:
    order = mapping.order_from_woocommerce(order_json(), [refund_json()])
    (line,) = order.line_items
    assert line.already_returned_quantity == 1
    assert [t.already_refunded for t in line.tax_lines] == [115]
    (shipping,) = order.shipping_lines
    assert (shipping.already_refunded, shipping.already_refunded_tax) == (45, 5)
    assert order.already_refunded_amount == 1315
    assert order.payments[0].refunded == 1315


def test_prices_with_tax_put_the_tax_inside_prices_and_refunded_shipping() -> None:
    order = mapping.order_from_woocommerce(order_json(prices_include_tax=True), [refund_json()])
    (line,) = order.line_items
    assert order.taxes_included
    assert line.unit_price == 1375  # (25.00 + 2.50) / 2
    assert [d.amount for d in line.discount_allocations] == [220]  # 27.50 - 25.30
    (shipping,) = order.shipping_lines
    assert (shipping.price, shipping.already_refunded, shipping.already_refunded_tax) == (
        550,
        50,
        5,
    )


def test_a_subtotal_not_divisible_by_the_quantity_keeps_the_net_exact() -> None:
    item = {
        **order_json()["line_items"][0],
        "quantity": 3,
        "subtotal": "10.00",
        "total": "10.00",
    }
    (line,) = mapping.order_from_woocommerce(order_json(line_items=[item])).line_items
    assert line.unit_price == 334
    assert [d.amount for d in line.discount_allocations] == [2]
    assert line.unit_price * line.quantity - 2 == 1000


@pytest.mark.parametrize("status", ["pending", "on-hold", "failed", "cancelled"])
def test_unpaid_orders_have_nothing_paid(status: str) -> None:
    order = mapping.order_from_woocommerce(order_json(status=status))
    assert (order.amount_paid, order.payments) == (0, ())


def test_manual_gateways_and_several_coupons() -> None:
    order = mapping.order_from_woocommerce(
        order_json(payment_method="cod", coupon_lines=[{"code": "A"}, {"code": "B"}])
    )
    assert order.payments[0].method == "manual"
    assert order.line_items[0].discount_allocations[0].code == "A, B"


def test_zero_decimal_currencies_and_too_many_decimals() -> None:
    yen = order_json(
        currency="JPY",
        total="1500.00",
        line_items=[
            {
                "id": 1,
                "quantity": 1,
                "subtotal": "1500.00",
                "total": "1500.00",
                "taxes": [],
            }
        ],
        shipping_lines=[],
    )
    order = mapping.order_from_woocommerce(yen)
    assert (order.currency_exponent, order.amount_paid, order.line_items[0].unit_price) == (
        0,
        1500,
        1500,
    )
    with pytest.raises(DomainError):
        mapping.order_from_woocommerce({**yen, "total": "1500.5"})


def test_a_refund_maps_key_note_lines_and_shipping() -> None:
    refund = mapping.refund_from_woocommerce(
        refund_json(), order_id="723", currency="USD", taxes_included=False
    )
    assert (refund.id, refund.order_id, refund.total, refund.currency) == (
        "900",
        "723",
        1315,
        "USD",
    )
    assert (refund.idempotency_key, refund.note) == ("rb-1", "returnbridge rb-1 (return R1)")
    assert refund.created_at == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert [(x.line_id, x.quantity, x.restock, x.subtotal, x.tax) for x in refund.lines] == [
        ("111", 1, "return", 1150, 115)
    ]
    assert refund.shipping == 45


def test_refund_amounts_follow_the_order_convention_or_stay_unknown() -> None:
    inclusive = mapping.refund_from_woocommerce(
        refund_json(), order_id="723", currency="USD", taxes_included=True
    )
    assert ([x.subtotal for x in inclusive.lines], inclusive.shipping) == ([1265], 50)
    unknown = mapping.refund_from_woocommerce(
        refund_json(meta_data=[]), order_id="723", currency="USD", taxes_included=None
    )
    assert ([x.subtotal for x in unknown.lines], unknown.shipping) == ([None], None)
    assert [x.restock for x in unknown.lines] == ["none"]
    assert unknown.idempotency_key is None


def test_search_terms_prefer_numbers_then_email() -> None:
    assert mapping.search_terms(OrderQuery(name="#1001", email="a@b.c")) == ["1001"]
    assert mapping.search_terms(OrderQuery(names=("#1001", "1001", "WC-1001"))) == [
        "1001",
        "wc-1001",
    ]
    assert mapping.search_terms(OrderQuery(email=" a@b.c ")) == ["a@b.c"]
    assert mapping.search_terms(OrderQuery(skus=("X",))) == []


def test_matches_is_exact_on_number_email_date_and_skus() -> None:
    summary = mapping.order_summary(order_json())
    assert (summary.name, summary.postal_code, summary.total, summary.skus) == (
        "WC-723",
        "10115",
        2880,
        ("CAP",),
    )
    assert matches(summary, OrderQuery(name="wc-723", email="ann@example.com"))
    assert not matches(summary, OrderQuery(name="723"))
    assert not matches(summary, OrderQuery(email="ann@example.co"))
    assert not matches(summary, OrderQuery(name="WC-723", skus=("CAP", "HAT")))
    day = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert matches(summary, OrderQuery(name="WC-723", created_from=day))
    assert not matches(summary, OrderQuery(name="WC-723", created_from=day + timedelta(seconds=1)))


def test_after_is_one_second_before_in_utc() -> None:
    moment = datetime(2026, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    assert mapping.after_param(moment) == "2026-03-01T07:59:59"
    assert mapping.after_param(datetime(2026, 3, 1)) == "2026-02-28T23:59:59"


def test_refund_ids_are_compared_only_when_the_order_lists_them() -> None:
    assert mapping.refund_ids(order_json(refunds=[{"id": 9, "total": "-1.00"}])) == {"9"}
    without = order_json()
    del without["refunds"]
    assert mapping.refund_ids(without) is None


def test_an_order_without_currency_is_invalid_platform_data() -> None:
    with pytest.raises(DomainError) as invalid:
        mapping.order_from_woocommerce(order_json(currency=""))
    assert invalid.value.code == "INVALID_PLATFORM_DATA"
