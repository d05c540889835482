"""Boundaries of the refund planner that the other unit tests never reach (issue 6).

Each expected figure is worked out by hand from docs/refund-math.md, with the arithmetic in a
comment; none is copied from what the planner prints.
"""

from __future__ import annotations

from typing import Any

import pytest

from returnbridge.domain.errors import DomainError
from returnbridge.domain.orders import Order
from returnbridge.domain.refunds import (
    RefundPlan,
    RefundPolicy,
    RefundRequest,
    plan_refund,
)
from returnbridge.domain.tenders import RefundMethod
from support.planner import CLAMP, EVEN, UP, error, line, order, plan, request

_line = line
_order = order


_request = request
_plan = plan
_error = error


# --- the refundable cap ("Cap") -----------------------------------------------------------------


def test_a_refund_equal_to_the_cap_is_accepted() -> None:
    # cap = 10.00 paid − 0.00 refunded = 1000; one unit of 10.00 refunds 1000 = the cap.
    plan = _plan(_order(amount_paid=1000), _request(("L1", 1)))
    assert plan.total == 1000
    assert plan.presentment.cap_adjustment == 0
    assert plan.presentment.refundable_before == 1000
    assert plan.presentment.refundable_after == 0


def test_one_minor_unit_over_the_cap_is_refused() -> None:
    # cap = 1000 − 1 = 999; the line refunds 1000, one unit more.
    error = _error(_order(amount_paid=1000, already_refunded_amount=1), _request(("L1", 1)))
    assert error.code == "REFUND_EXCEEDS_CAPTURED"
    assert error.field == "total"


def test_one_minor_unit_over_the_cap_is_clamped_to_the_cap() -> None:
    # cap 999, total 1000: cap_adjustment = 999 − 1000 = −1; the refund is 999.
    plan = _plan(_order(amount_paid=1000, already_refunded_amount=1), _request(("L1", 1)), CLAMP)
    assert plan.presentment.cap_adjustment == -1
    assert plan.total == 999
    assert plan.presentment.refundable_after == 0
    assert [t.amount for t in plan.tenders] == [999]


def test_an_order_already_over_refunded_clamps_to_nothing() -> None:
    # paid 10.00, already refunded 12.00: nothing is refundable, so the cap is 0 (never −2.00)
    # and a clamped refund of the 10.00 line is 1000 − 1000 = 0.
    order = _order(amount_paid=1000, already_refunded_amount=1200)
    plan = _plan(order, _request(("L1", 1)), CLAMP)
    assert plan.presentment.cap_adjustment == -1000
    assert plan.total == 0
    assert sum(t.amount for t in plan.tenders) == 0


def test_an_order_already_over_refunded_refuses_with_reject() -> None:
    order = _order(amount_paid=1000, already_refunded_amount=1200)
    assert _error(order, _request(("L1", 1))).code == "REFUND_EXCEEDS_CAPTURED"


# --- tenders through the planner ("Tenders") ----------------------------------------------------


def test_planner_skips_a_fully_refunded_gift_card_and_uses_one_unit_left_on_another() -> None:
    # line 10.00; gift card A fully refunded (0 left), gift card B with 0.01 left, card 20.00:
    # closed loop first: A takes 0, B takes 1, card takes 1000 − 1 = 999.
    order = _order(
        payments=[
            {"id": "C", "method": "card", "amount": 2000},
            {"id": "A", "method": "gift_card", "amount": 500, "refunded": 500},
            {"id": "B", "method": "gift_card", "amount": 500, "refunded": 499},
        ]
    )
    plan = _plan(order, _request(("L1", 1)))
    assert [(t.payment_id, t.amount) for t in plan.tenders] == [("B", 1), ("C", 999)]


def test_planner_refuses_a_refund_one_unit_more_than_the_payments_hold() -> None:
    # cap is large (amount_paid), but the payments hold 999 in all; the line refunds 1000.
    order = _order(payments=[{"id": "C", "method": "card", "amount": 1000, "refunded": 1}])
    error = _error(order, _request(("L1", 1)))
    assert error.code == "REFUND_EXCEEDS_CAPTURED"
    assert error.field == "order.payments"


# --- shipping ("Shipping") ----------------------------------------------------------------------


def _shipping_order(*shipping: dict[str, Any], **fields: Any) -> Order:
    return _order(shipping_lines=list(shipping), **fields)


def test_full_shipping_derives_tax_from_the_rate_on_the_discounted_price() -> None:
    # price 12.00 − discount 2.00 = 1000 net; R1: round(1000 × 0.075) = 75; total 1075.
    order = _shipping_order(
        {"id": "S1", "price": 1200, "discount": 200, "tax_lines": [{"title": "T", "rate": "0.075"}]}
    )
    shipping = _plan(order, _request(shipping={"mode": "full"})).shipping
    assert (shipping.amount, shipping.tax, shipping.total) == (1000, 75, 1075)


def test_partial_shipping_splits_a_rate_derived_tax_with_r3() -> None:
    # charged tax round(1000 × 0.075) = 75; 4.00 of 10.00: R3 round(75 × 400 / 1000) = 30.
    order = _shipping_order(
        {"id": "S1", "price": 1000, "tax_lines": [{"title": "T", "rate": "0.075"}]}
    )
    shipping = _plan(order, _request(shipping={"mode": "amount", "amount": 400})).shipping
    assert (shipping.amount, shipping.tax, shipping.total) == (400, 30, 430)


@pytest.mark.parametrize(("policy", "tax"), [(UP, 63), (EVEN, 62)])
def test_rate_derived_shipping_tax_rounds_ties_with_the_mode(
    policy: RefundPolicy, tax: int
) -> None:
    # R1: 1000 × 0.0625 = 62.5, a tie: HALF_UP 63, HALF_EVEN 62.
    order = _shipping_order(
        {"id": "S1", "price": 1000, "tax_lines": [{"title": "T", "rate": "0.0625"}]}
    )
    shipping = _plan(order, _request(shipping={"mode": "full"}), policy).shipping
    assert shipping.tax == tax
    assert shipping.total == 1000 + tax


def test_rate_derived_shipping_tax_in_a_tax_inclusive_order_is_the_included_part() -> None:
    # prices include tax: R1 round(1075 × 0.075 / 1.075) = 75, reported; the total is 1075.
    order = _shipping_order(
        {"id": "S1", "price": 1075, "tax_lines": [{"title": "T", "rate": "0.075"}]},
        taxes_included=True,
    )
    shipping = _plan(order, _request(shipping={"mode": "full"})).shipping
    assert (shipping.amount, shipping.tax, shipping.total) == (1075, 75, 1075)


def _two_shipping_lines() -> Order:
    # S1 fully refunded already (0 left, 0 tax left); S2 10.00 with 0.80 tax.
    return _shipping_order(
        {
            "id": "S1",
            "price": 500,
            "tax_lines": [{"title": "T", "amount": 40}],
            "already_refunded": 500,
            "already_refunded_tax": 40,
        },
        {"id": "S2", "price": 1000, "tax_lines": [{"title": "T", "amount": 80}]},
    )


def test_full_shipping_skips_a_line_with_nothing_left_and_refunds_the_next() -> None:
    # S1: 0 + 0, left out; S2: 1000 + 80.
    shipping = _plan(_two_shipping_lines(), _request(shipping={"mode": "full"})).shipping
    assert [(s.shipping_line_id, s.amount, s.tax, s.total) for s in shipping.lines] == [
        ("S2", 1000, 80, 1080)
    ]


def test_a_shipping_amount_passes_over_a_zero_share_line_to_the_next() -> None:
    # weights 0 and 1000 (a line with nothing left weighs nothing): S1 share 0 (left out),
    # S2 share 600, tax R3 round(80 × 600 / 1000) = 48.
    request = _request(shipping={"mode": "amount", "amount": 600})
    shipping = _plan(_two_shipping_lines(), request).shipping
    assert [(s.shipping_line_id, s.amount, s.tax, s.total) for s in shipping.lines] == [
        ("S2", 600, 48, 648)
    ]


def test_a_zero_shipping_share_refunds_no_tax_even_when_tax_is_left() -> None:
    # S1: price all refunded, its 0.40 tax not: remaining 0, weight 0, share 0 -> tax 0
    # ("a zero share refunds zero tax"); S2 takes the 5.00: tax round(80 × 500 / 1000) = 40.
    order = _shipping_order(
        {
            "id": "S1",
            "price": 500,
            "tax_lines": [{"title": "T", "amount": 40}],
            "already_refunded": 500,
        },
        {"id": "S2", "price": 1000, "tax_lines": [{"title": "T", "amount": 80}]},
    )
    shipping = _plan(order, _request(shipping={"mode": "amount", "amount": 500})).shipping
    assert [(s.shipping_line_id, s.amount, s.tax) for s in shipping.lines] == [("S2", 500, 40)]
    assert shipping.total == 540


def test_a_small_line_whose_largest_remainder_share_is_zero_is_left_out() -> None:
    # remaining 1 and 999, amount 1: exact 0.001 and 0.999, floors 0 + 0, the one unit goes to
    # the larger fraction (S2); S1 has share 0 and tax 0. S2: 1 of 999, tax round(80/999) = 0.
    order = _shipping_order(
        {"id": "S1", "price": 1, "tax_lines": [{"title": "T", "amount": 0}]},
        {"id": "S2", "price": 999, "tax_lines": [{"title": "T", "amount": 80}]},
    )
    shipping = _plan(order, _request(shipping={"mode": "amount", "amount": 1})).shipping
    assert [(s.shipping_line_id, s.amount, s.tax) for s in shipping.lines] == [("S2", 1, 0)]


def test_full_shipping_refunds_tax_still_left_after_the_price_was_refunded() -> None:
    # price 10.00 all refunded, tax 0.80 none refunded: remaining amount 0, remaining tax 80;
    # `full` refunds both: 0 + 80.
    order = _shipping_order(
        {
            "id": "S1",
            "price": 1000,
            "tax_lines": [{"title": "T", "amount": 80}],
            "already_refunded": 1000,
        }
    )
    shipping = _plan(order, _request(shipping={"mode": "full"})).shipping
    assert [(s.shipping_line_id, s.amount, s.tax, s.total) for s in shipping.lines] == [
        ("S1", 0, 80, 80)
    ]


# --- duties ("A line's refund") -----------------------------------------------------------------


def _duty_order(refunded: int | None) -> Order:
    duty: dict[str, Any] = {"id": "D1", "amount": 1000}
    if refunded is not None:
        duty["already_refunded"] = refunded
    return _order(_line(quantity=4, already_returned_quantity=1, duties=[duty]))


def test_full_duties_after_a_partial_duty_refund_refund_what_the_order_says_is_left() -> None:
    # duty 10.00 with 3.00 already refunded: `full` takes 1000 − 300 = 700; total 1000 + 700.
    plan = _plan(_duty_order(300), _request(("L1", 1), refund_duties="full"))
    assert plan.lines[0].duties == 700
    assert plan.total == 1700


def test_full_duties_without_a_recorded_refund_take_what_the_units_left() -> None:
    # 1000 over 4 units: 250 each; one unit refunded before: 1000 − S(1) = 750.
    plan = _plan(_duty_order(None), _request(("L1", 1), refund_duties="full"))
    assert plan.lines[0].duties == 750
    assert plan.total == 1750


def test_proportional_duties_take_one_unit_share_until_the_last_units() -> None:
    # one unit of 2..4: S(2) − S(1) = 250; the last three units: 1000 − 300 recorded = 700.
    one = _plan(_duty_order(300), _request(("L1", 1), refund_duties="proportional"))
    rest = _plan(_duty_order(300), _request(("L1", 3), refund_duties="proportional"))
    assert one.lines[0].duties == 250
    assert rest.lines[0].duties == 700


def test_duties_none_refunds_no_duty() -> None:
    plan = _plan(_duty_order(300), _request(("L1", 1), refund_duties="none"))
    assert plan.lines[0].duties == 0
    assert plan.total == 1000


# --- order discounts ("Order-level discounts") --------------------------------------------------


def _free_line_and_paid_line() -> Order:
    # A: 10.00 with a 10.00 line discount, weight max(1000 − 1000, 0) = 0; B: 30.00, weight 3000.
    # Order discount 29.99 over weights 0 and 3000: A 0, B 2999 (no unit left over).
    return _order(
        _line("A", discount_allocations=[{"amount": 1000}]),
        _line("B", unit_price=3000),
        order_discounts=[{"amount": 2999}],
    )


def test_a_fully_line_discounted_line_takes_no_share_of_an_order_discount() -> None:
    plan = _plan(_free_line_and_paid_line(), _request(("A", 1)))
    assert plan.presentment.order_discount_allocations == {"A": 0, "B": 2999}
    # A: 1000 − 1000 − 0 = 0, a free line, refunded as zero.
    assert plan.lines[0].discount == 1000
    assert plan.total == 0


def test_the_paid_line_carries_the_whole_order_discount() -> None:
    # B: 3000 − 2999 = 1.
    plan = _plan(_free_line_and_paid_line(), _request(("B", 1)))
    assert plan.lines[0].discount == 2999
    assert plan.total == 1


# --- tax-inclusive divisor ("Rounding", R1) -----------------------------------------------------


def test_a_tax_line_without_a_rate_adds_nothing_to_the_inclusive_divisor() -> None:
    # prices include tax; T1 rate 0.10 with no amount, T2 recorded 0.50 with no rate.
    # Sum of the line's rates = 0.10, so T1 = round(1100 × 0.10 / 1.10) = 100; T2 = 50.
    # The tax is the included part: total = subtotal = 1100, tax 150.
    order = _order(
        _line(
            unit_price=1100,
            tax_lines=[{"title": "T1", "rate": "0.10"}, {"title": "T2", "amount": 50}],
        ),
        taxes_included=True,
    )
    plan = _plan(order, _request(("L1", 1)))
    assert [(t.title, t.amount) for t in plan.lines[0].tax_lines] == [("T1", 100), ("T2", 50)]
    assert plan.lines[0].tax == 150
    assert plan.total == 1100


# --- two currencies: the shop side ("Two currencies", R4) ---------------------------------------


def _eur_order(**fields: Any) -> Order:
    # EUR presentment, USD shop, 1.10 USD per EUR. L1: 2 × 10.00 EUR (11.00 USD), tax 4.00 EUR
    # (4.40 USD); S1: 5.00 EUR (5.50 USD) with 0.50 EUR (0.55 USD) tax.
    data: dict[str, Any] = {
        "currency": "EUR",
        "shop_currency": "USD",
        "exchange_rate": "1.10",
        "line_items": [
            _line(
                quantity=2,
                unit_price_shop=1100,
                tax_lines=[{"title": "VAT", "amount": 400, "amount_shop": 440}],
            )
        ],
        "shipping_lines": [
            {
                "id": "S1",
                "price": 500,
                "price_shop": 550,
                "tax_lines": [{"title": "VAT", "amount": 50, "amount_shop": 55}],
            }
        ],
        "amount_paid": 2950,
        "amount_paid_shop": 3245,
        **fields,
    }
    return _order(**data)


def _shop(plan: RefundPlan) -> Any:
    assert plan.shop is not None
    return plan.shop


def test_shop_amounts_given_in_the_request_are_used_not_converted() -> None:
    # Presentment: line 1000 + 200 tax; shipping 200 + R3 round(50 × 200 / 500) = 20;
    # fees −50 −100: 1200 + 220 − 150 = 1270.
    # Shop: line 1100 + 220; shipping 225 (given) + R3 round(55 × 225 / 550) = round(22.5) = 23;
    # fees −53 −107 (given): 1320 + 248 − 160 = 1408.
    request = _request(
        ("L1", 1),
        currency="EUR",
        shipping={"mode": "amount", "amount": 200, "amount_shop": 225},
        restocking_fee={"type": "fixed", "amount": 50, "amount_shop": 53},
        return_label_fee=100,
        return_label_fee_shop=107,
    )
    plan = _plan(_eur_order(), request)
    assert plan.total == 1270
    shop = _shop(plan)
    assert (shop.shipping.amount, shop.shipping.tax) == (225, 23)
    assert (shop.fees.restocking, shop.fees.return_label) == (-53, -107)
    assert shop.total == 1408


def test_request_amounts_without_shop_twins_are_converted_with_the_order_rate() -> None:
    # Shop: shipping round(200 × 1.10) = 220 + round(55 × 220 / 550) = 22; fees round(50 × 1.10)
    # = 55 and round(100 × 1.10) = 110: 1320 + 242 − 165 = 1397.
    request = _request(
        ("L1", 1),
        currency="EUR",
        shipping={"mode": "amount", "amount": 200},
        restocking_fee={"type": "fixed", "amount": 50},
        return_label_fee=100,
    )
    shop = _shop(_plan(_eur_order(), request))
    assert (shop.shipping.amount, shop.shipping.tax) == (220, 22)
    assert (shop.fees.restocking, shop.fees.return_label) == (-55, -110)
    assert shop.total == 1397


def _jpy_order() -> Order:
    # JPY presentment, USD shop, 0.00675 USD per JPY = 0.675 cents per yen; no shop twins.
    return _order(
        _line(unit_price=1500),
        currency="JPY",
        shop_currency="USD",
        exchange_rate="0.00675",
        amount_paid=1500,
    )


@pytest.mark.parametrize(("policy", "cents"), [(UP, 1013), (EVEN, 1012)])
def test_shop_conversion_rounds_ties_with_the_mode(policy: RefundPolicy, cents: int) -> None:
    # R4: 1500 × 0.675 = 1012.5, a tie: HALF_UP 1013, HALF_EVEN 1012 (the even neighbour).
    # The shop cap is the paid amount converted the same way, minus nothing refunded.
    plan = _plan(_jpy_order(), _request(("L1", 1), currency="JPY"), policy)
    assert plan.total == 1500
    shop = _shop(plan)
    assert shop.currency == "USD"
    assert shop.lines[0].gross == cents
    assert shop.total == cents
    assert shop.refundable_before == cents
    assert [t.amount for t in shop.tenders] == [cents]


def _clamped_eur_order(**fields: Any) -> Order:
    # one line 10.00 EUR (11.00 USD); 9.99 EUR paid, so one cent over the presentment cap.
    data: dict[str, Any] = {
        "currency": "EUR",
        "shop_currency": "USD",
        "exchange_rate": "1.10",
        "line_items": [_line(unit_price_shop=1100)],
        "amount_paid": 999,
        **fields,
    }
    return _order(**data)


def test_clamp_brings_the_shop_refund_down_to_the_shop_cap() -> None:
    # presentment: cap 999, total 1000, adjustment −1. Shop: cap 1200 − 102 = 1098, draft 1100,
    # adjustment 1098 − 1100 = −2, refund 1098 (what is left in shop money).
    order = _clamped_eur_order(amount_paid_shop=1200, already_refunded_amount_shop=102)
    plan = _plan(order, _request(("L1", 1), currency="EUR"), CLAMP)
    assert (plan.presentment.cap_adjustment, plan.total) == (-1, 999)
    shop = _shop(plan)
    assert shop.refundable_before == 1098
    assert shop.cap_adjustment == -2
    assert shop.total == 1098
    assert [t.amount for t in shop.tenders] == [1098]


def test_clamp_in_shop_money_uses_the_converted_cap_without_shop_twins() -> None:
    # paid 19.99, refunded 10.00: presentment cap 999, total 1000, clamped.
    # No amount_paid_shop: shop cap = round(1999 × 1.10) − round(1000 × 1.10)
    # = round(2198.9) − 1100 = 2199 − 1100 = 1099; draft 1100, adjustment −1, refund 1099.
    order = _clamped_eur_order(amount_paid=1999, already_refunded_amount=1000)
    plan = _plan(order, _request(("L1", 1), currency="EUR"), CLAMP)
    assert plan.total == 999
    shop = _shop(plan)
    assert shop.refundable_before == 1099
    assert shop.cap_adjustment == -1
    assert shop.total == 1099


def test_the_cap_is_checked_in_presentment_money_first() -> None:
    order = _clamped_eur_order(amount_paid_shop=5000)
    assert _error(order, _request(("L1", 1), currency="EUR")).code == "REFUND_EXCEEDS_CAPTURED"


def test_clamp_on_an_order_over_refunded_in_both_currencies_refunds_nothing_in_shop_money() -> None:
    # presentment: paid 9.99, refunded 12.00: cap 0, refund 0. Shop: 10.00 paid, 12.00
    # refunded: cap 0, draft 1100, adjustment −1100, refund 0.
    order = _clamped_eur_order(
        already_refunded_amount=1200, amount_paid_shop=1000, already_refunded_amount_shop=1200
    )
    plan = _plan(order, _request(("L1", 1), currency="EUR"), CLAMP)
    assert plan.total == 0
    shop = _shop(plan)
    assert shop.cap_adjustment == -1100
    assert shop.total == 0
    assert sum(t.amount for t in shop.tenders) == 0


def test_shop_tenders_mirror_the_presentment_tenders_by_largest_remainder() -> None:
    # presentment 10.00 EUR: gift card 300 first (closed loop), card 700.
    # shop 10.99 USD over 300 : 700: exact 329.7 and 769.3, floors 329 + 769 = 1098, the unit
    # left goes to the larger fraction (.7, the gift card): 330 and 769.
    order = _order(
        _line(unit_price_shop=1099),
        currency="EUR",
        shop_currency="USD",
        amount_paid_shop=1_000_000,
        payments=[
            {"id": "C", "method": "card", "amount": 5000},
            {"id": "G", "method": "gift_card", "amount": 300},
        ],
    )
    plan = _plan(order, _request(("L1", 1), currency="EUR"))
    assert [(t.payment_id, t.amount) for t in plan.tenders] == [("G", 300), ("C", 700)]
    shop = _shop(plan)
    assert [(t.payment_id, t.method, t.amount) for t in shop.tenders] == [
        ("G", "gift_card", 330),
        ("C", "card", 769),
    ]


def test_shop_amounts_already_refunded_are_read_from_their_own_twins() -> None:
    # The last unit of 2; the order records what was refunded on each component, in both
    # currencies (the shop twins deliberately not 1.10 × presentment).
    # Presentment: 1000 − (100 − 50) + (400 − 200) = 1150; duty full 300 − 100 = 200;
    #   shipping full (500 − 100) + (50 − 10) = 440. Total 1790.
    # Shop: 1100 − (110 − 56) + (440 − 219) = 1267; duty 330 − 112 = 218;
    #   shipping (550 − 111) + (55 − 12) = 482. Total 1967.
    line = _line(
        quantity=2,
        already_returned_quantity=1,
        unit_price_shop=1100,
        discount_allocations=[
            {"amount": 100, "amount_shop": 110, "already_refunded": 50, "already_refunded_shop": 56}
        ],
        tax_lines=[
            {
                "title": "VAT",
                "amount": 400,
                "amount_shop": 440,
                "already_refunded": 200,
                "already_refunded_shop": 219,
            }
        ],
        duties=[
            {
                "amount": 300,
                "amount_shop": 330,
                "already_refunded": 100,
                "already_refunded_shop": 112,
            }
        ],
    )
    shipping = {
        "id": "S1",
        "price": 500,
        "price_shop": 550,
        "tax_lines": [{"title": "VAT", "amount": 50, "amount_shop": 55}],
        "already_refunded": 100,
        "already_refunded_shop": 111,
        "already_refunded_tax": 10,
        "already_refunded_tax_shop": 12,
    }
    order = _order(
        line,
        currency="EUR",
        shop_currency="USD",
        exchange_rate="1.10",
        shipping_lines=[shipping],
        amount_paid_shop=1_100_000,
    )
    request = _request(("L1", 1), currency="EUR", shipping={"mode": "full"}, refund_duties="full")
    plan = _plan(order, request)
    assert (plan.lines[0].discount, plan.lines[0].tax, plan.lines[0].duties) == (50, 200, 200)
    assert (plan.shipping.amount, plan.shipping.tax) == (400, 40)
    assert plan.total == 1790
    shop = _shop(plan)
    assert (shop.lines[0].discount, shop.lines[0].tax, shop.lines[0].duties) == (54, 221, 218)
    assert (shop.shipping.amount, shop.shipping.tax) == (439, 43)
    assert shop.total == 1967


def _eur_twin_order(line: dict[str, Any], *shipping: dict[str, Any], **fields: Any) -> Order:
    data: dict[str, Any] = {
        "currency": "EUR",
        "shop_currency": "USD",
        "exchange_rate": "1.10",
        "shipping_lines": list(shipping),
        "amount_paid_shop": 1_100_000,
        **fields,
    }
    return _order(line, **data)


def test_a_rate_only_tax_is_derived_on_each_side_from_that_side_s_net() -> None:
    # R1 on each side: presentment round(1000 × 0.10) = 100; shop round(1100 × 0.10) = 110.
    order = _eur_twin_order(_line(unit_price_shop=1100, tax_lines=[{"title": "T", "rate": "0.10"}]))
    plan = _plan(order, _request(("L1", 1), currency="EUR"))
    assert plan.lines[0].tax == 100
    assert _shop(plan).lines[0].tax == 110


def test_a_rate_only_tax_with_a_recorded_shop_amount_uses_it_in_shop_money_only() -> None:
    # presentment has only the rate: round(1000 × 0.10) = 100; the shop twin 1.23 is recorded.
    tax = {"title": "T", "rate": "0.10", "amount_shop": 123}
    order = _eur_twin_order(_line(unit_price_shop=1100, tax_lines=[tax]))
    plan = _plan(order, _request(("L1", 1), currency="EUR"))
    assert plan.lines[0].tax == 100
    assert _shop(plan).lines[0].tax == 123


def test_shipping_rate_only_tax_follows_the_same_rule_on_each_side() -> None:
    # S1 (rate only): presentment round(500 × 0.10) = 50, shop round(550 × 0.10) = 55.
    # S2 (rate, shop amount recorded): presentment round(200 × 0.10) = 20, shop 23 as recorded.
    order = _eur_twin_order(
        _line(unit_price_shop=1100),
        {
            "id": "S1",
            "price": 500,
            "price_shop": 550,
            "tax_lines": [{"title": "T", "rate": "0.10"}],
        },
        {
            "id": "S2",
            "price": 200,
            "price_shop": 220,
            "tax_lines": [{"title": "T", "rate": "0.10", "amount_shop": 23}],
        },
    )
    plan = _plan(order, _request(currency="EUR", shipping={"mode": "full"}))
    assert [(s.shipping_line_id, s.tax) for s in plan.shipping.lines] == [("S1", 50), ("S2", 20)]
    assert [(s.shipping_line_id, s.tax) for s in _shop(plan).shipping.lines] == [
        ("S1", 55),
        ("S2", 23),
    ]


def test_a_shipping_line_adds_a_recorded_tax_and_a_rate_derived_one() -> None:
    # 0.30 recorded + R1 round(1000 × 0.05) = 50: tax 80, total 1080.
    order = _shipping_order(
        {
            "id": "S1",
            "price": 1000,
            "tax_lines": [{"title": "A", "amount": 30}, {"title": "B", "rate": "0.05"}],
        }
    )
    shipping = _plan(order, _request(shipping={"mode": "full"})).shipping
    assert (shipping.tax, shipping.total) == (80, 1080)


def test_a_shop_refund_recorded_only_in_shop_money_is_used_on_the_shop_side_only() -> None:
    # last unit of 2, tax 4.00 EUR / 4.40 USD; only the shop side records a refund (2.19 USD).
    # Presentment: split 200/200, unit 2 = 200. Shop: 440 − 219 = 221.
    tax = {"title": "VAT", "amount": 400, "amount_shop": 440, "already_refunded_shop": 219}
    line = _line(quantity=2, already_returned_quantity=1, unit_price_shop=1100, tax_lines=[tax])
    plan = _plan(_eur_twin_order(line), _request(("L1", 1), currency="EUR"))
    assert plan.lines[0].tax == 200
    assert _shop(plan).lines[0].tax == 221


def test_an_order_discount_uses_its_shop_twin_not_a_conversion() -> None:
    # presentment 1000 − 300 = 700; shop 1100 − 333 (recorded; 330 if converted) = 767.
    order = _eur_twin_order(
        _line(unit_price_shop=1100), order_discounts=[{"amount": 300, "amount_shop": 333}]
    )
    plan = _plan(order, _request(("L1", 1), currency="EUR"))
    assert plan.total == 700
    shop = _shop(plan)
    assert shop.order_discount_allocations == {"L1": 333}
    assert shop.total == 767


# --- a missing shop twin with no recorded rate is refused, naming what is missing -------------


def _twinned(**overrides: Any) -> tuple[Order, RefundRequest]:
    """A EUR/USD order and request with every shop twin present and no exchange rate."""
    line: dict[str, Any] = {
        "id": "L1",
        "quantity": 2,
        "unit_price": 1000,
        "unit_price_shop": 1100,
        "discount_allocations": [{"amount": 100, "amount_shop": 110}],
        "tax_lines": [{"title": "VAT", "amount": 180, "amount_shop": 198}],
        "duties": [{"amount": 50, "amount_shop": 55}],
    }
    shipping: dict[str, Any] = {
        "id": "S1",
        "price": 500,
        "price_shop": 550,
        "discount": 100,
        "discount_shop": 110,
        "tax_lines": [{"title": "VAT", "amount": 40, "amount_shop": 44}],
    }
    request: dict[str, Any] = {"refund_duties": "proportional", "shipping": {"mode": "full"}}
    order_fields: dict[str, Any] = {}
    for key, value in overrides.items():
        target, _, name = key.partition("__")
        {"line": line, "shipping": shipping, "request": request, "order": order_fields}[target][
            name
        ] = value
    order = _order(
        line, currency="EUR", shop_currency="USD", shipping_lines=[shipping], **order_fields
    )
    return order, _request(("L1", 1), currency="EUR", **request)


def test_with_every_twin_and_no_rate_the_shop_side_is_computed_without_a_cap() -> None:
    # shop: 1100 − 55 (110 over 2) + 99 (198 over 2) + 28 (55 over 2: 28/27) = 1172;
    # shipping 550 − 110 = 440 + 44 = 484. No amount_paid_shop and no rate: no shop cap.
    order, request = _twinned()
    plan = _plan(order, request)
    shop = _shop(plan)
    assert shop.total == 1172 + 484
    assert shop.refundable_before is None
    assert "cap" not in plan.to_breakdown()["shop"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"line__unit_price_shop": None}, "L1"),
        ({"line__discount_allocations": [{"amount": 100}]}, "L1"),
        (
            {
                "line__discount_allocations": [
                    {"amount": 100, "amount_shop": 110, "already_refunded": 5}
                ]
            },
            "L1",
        ),
        ({"line__tax_lines": [{"title": "VAT", "amount": 180}]}, "L1"),
        (
            {
                "line__tax_lines": [
                    {"title": "VAT", "amount": 180, "amount_shop": 198, "already_refunded": 5}
                ]
            },
            "L1",
        ),
        ({"line__duties": [{"amount": 50}]}, "L1"),
        ({"line__duties": [{"amount": 50, "amount_shop": 55, "already_refunded": 5}]}, "L1"),
        ({"shipping__price_shop": None}, "S1"),
        ({"shipping__discount_shop": None}, "S1"),
        ({"shipping__tax_lines": [{"title": "VAT", "amount": 40}]}, "S1"),
        ({"shipping__already_refunded": 50}, "S1"),
        ({"shipping__already_refunded_tax": 4}, "S1"),
        ({"order__order_discounts": [{"amount": 100}]}, "order discount"),
        (
            {
                "line__unit_price_shop": None,
                "order__order_discounts": [{"amount": 100, "amount_shop": 110}],
            },
            "L1",
        ),
        (
            {
                "line__discount_allocations": [{"amount": 100}],
                "order__order_discounts": [{"amount": 100, "amount_shop": 110}],
            },
            "L1",
        ),
        ({"request__shipping": {"mode": "amount", "amount": 100}}, "request.shipping.amount_shop"),
        (
            {"request__restocking_fee": {"type": "fixed", "amount": 100}},
            "request.restocking_fee.amount_shop",
        ),
        ({"request__return_label_fee": 100}, "request.return_label_fee_shop"),
    ],
)
def test_a_missing_shop_twin_without_a_rate_is_refused(
    overrides: dict[str, Any], field: str
) -> None:
    order, request = _twinned(**overrides)
    with pytest.raises(DomainError) as caught:
        plan_refund(order, request, policy=UP)
    assert caught.value.code == "MISSING_SHOP_AMOUNT"
    assert field in (caught.value.field or "")
    if field.startswith("request.") or field == "order discount":
        assert caught.value.field == field  # named exactly


# --- what the plan and its breakdown carry ("The breakdown") ------------------------------------


def test_the_plan_names_its_order_and_refund_method() -> None:
    plan = _plan(_order(), _request(("L1", 1), refund_method="store_credit"))
    assert plan.order_id == "O1"
    assert plan.refund_method is RefundMethod.STORE_CREDIT
    assert plan.to_breakdown()["tenders"] == [{"method": "store_credit", "amount": 1000}]


def test_unset_duties_and_method_mean_none_and_original() -> None:
    order = _order(_line(duties=[{"amount": 300}]))
    plan = _plan(order, _request(("L1", 1), refund_duties=None, refund_method=None))
    assert plan.lines[0].duties == 0
    assert plan.refund_method is RefundMethod.ORIGINAL
    assert plan.total == 1000


def test_the_breakdown_shows_duties_only_on_lines_that_carry_them() -> None:
    # L1 duty 3.00 refunded proportional (1 unit of 1): 300; L2 has none.
    order = _order(_line("L1", duties=[{"amount": 300}]), _line("L2"))
    plan = _plan(order, _request(("L1", 1), ("L2", 1), refund_duties="proportional"))
    lines = plan.to_breakdown()["lines"]
    assert lines[0]["duties"] == 300
    assert "duties" not in lines[1]
    assert plan.to_breakdown()["duties"] == 300
    assert "order_discount_allocations" not in plan.to_breakdown()


def test_the_breakdown_names_each_tender_s_payment_and_gateway() -> None:
    order = _order(payments=[{"id": "P1", "method": "card", "gateway": "stripe", "amount": 5000}])
    tenders = _plan(order, _request(("L1", 1))).to_breakdown()["tenders"]
    assert tenders == [{"method": "card", "amount": 1000, "payment_id": "P1", "gateway": "stripe"}]


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        (
            {"shipping": {"mode": "amount", "amount": 100, "amount_shop": -1}},
            "NEGATIVE_AMOUNT",
            "request.shipping.amount_shop",
        ),
        (
            {"shipping": {"mode": "amount", "amount": 100, "amount_shop": "1.10"}},
            "INVALID_AMOUNT",
            "request.shipping.amount_shop",
        ),
        (
            {"restocking_fee": {"type": "fixed", "amount": 100, "amount_shop": -1}},
            "NEGATIVE_AMOUNT",
            "request.restocking_fee.amount_shop",
        ),
        (
            {"return_label_fee": 100, "return_label_fee_shop": -1},
            "NEGATIVE_AMOUNT",
            "request.return_label_fee_shop",
        ),
    ],
)
def test_a_bad_shop_twin_in_the_request_is_refused_by_its_field(
    fields: dict[str, Any], code: str, field: str
) -> None:
    # Validation step 3: money fields, shop twins included, are integers >= 0.
    error = _error(_eur_order(), _request(("L1", 1), currency="EUR", **fields))
    assert (error.code, error.field) == (code, field)
