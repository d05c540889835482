"""Refund planner edges the other unit tests leave open (issue 6 mutation run).

Shipping `amount` at the boundaries of "what remains", the shop-currency cap and clamp, bad
order data, and the words of every refusal a tenant reads. Figures are worked out by hand.
"""

from __future__ import annotations

from typing import Any

import pytest

from returnbridge.domain.errors import DomainError
from returnbridge.domain.orders import Order
from returnbridge.domain.refunds import RefundRequest, plan_refund
from support.planner import CLAMP, EVEN, UP, error, line, order, plan, request

# --- shipping amount at the edges of what remains ------------------------------------------------


def _refunded_price_with_tax_left(*more: dict[str, Any]) -> Order:
    """S1's 5.00 price is refunded but its 0.40 tax is not; `more` shipping lines follow."""
    s1 = {
        "id": "S1",
        "price": 500,
        "tax_lines": [{"title": "tax", "amount": 40}],
        "already_refunded": 500,
    }
    return order(shipping_lines=[s1, *more])


def test_a_zero_amount_when_nothing_remains_is_still_nothing_to_refund() -> None:
    # Σ remaining = 0 and A = 0: not `full` (that would refund S1's 40 of tax), so nothing.
    refused = error(
        _refunded_price_with_tax_left(), request(shipping={"mode": "amount", "amount": 0})
    )
    assert refused.code == "NOTHING_TO_REFUND"


def test_a_one_unit_amount_equal_to_what_remains_is_full() -> None:
    # S2 has 0.01 left, S1 none: A = 1 = Σ remaining, so `full`: S1's 40 tax + S2's 1.
    of = _refunded_price_with_tax_left({"id": "S2", "price": 1})
    refund = plan(of, request(shipping={"mode": "amount", "amount": 1}))
    assert [(s.shipping_line_id, s.amount, s.tax) for s in refund.shipping.lines] == [
        ("S1", 0, 40),
        ("S2", 1, 0),
    ]
    assert refund.total == 41


def _eur_shipping_without_twin() -> Order:
    """EUR order in a USD shop at 0.5 USD/EUR; shipping 0.05 EUR has no shop twin (2.5 cents)."""
    return order(
        line(unit_price=1000, unit_price_shop=500),
        currency="EUR",
        shop_currency="USD",
        exchange_rate="0.5",
        shipping_lines=[{"id": "S1", "price": 5}],
    )


def test_a_given_shop_amount_equal_to_the_converted_remainder_is_accepted() -> None:
    # Shop remainder: round(5 × 0.5) = round(2.5) = 3 under HALF_UP; 3 ≤ 3 is accepted.
    wanted = request(currency="EUR", shipping={"mode": "amount", "amount": 4, "amount_shop": 3})
    refund = plan(_eur_shipping_without_twin(), wanted, UP)
    assert refund.shop is not None
    assert refund.shop.shipping.amount == 3


def test_the_shop_remainder_is_rounded_with_the_policy_mode() -> None:
    # Under HALF_EVEN the same remainder is round(2.5) = 2, so asking 3 is refused.
    wanted = request(currency="EUR", shipping={"mode": "amount", "amount": 4, "amount_shop": 3})
    refused = error(_eur_shipping_without_twin(), wanted, EVEN)
    assert (refused.code, refused.field) == (
        "SHIPPING_EXCEEDS_REMAINING",
        "request.shipping.amount_shop",
    )


# --- bad order data ------------------------------------------------------------------------------


def test_a_tax_line_with_neither_amount_nor_rate_is_bad_order_data() -> None:
    of = order(line(tax_lines=[{"title": "Mystery tax"}]))
    with pytest.raises(DomainError) as caught:
        plan_refund(of, request(("L1", 1)), policy=UP)
    assert caught.value.code == "INVALID_ORDER"
    assert "'Mystery tax' has neither amount nor rate" in caught.value.message


def test_an_order_discount_with_nothing_to_spread_over_is_bad_order_data() -> None:
    # Every line is free (weight 0), so 1.00 of order discount cannot be allocated.
    of = order(line(unit_price=0), order_discounts=[{"amount": 100}])
    with pytest.raises(DomainError) as caught:
        plan_refund(of, request(("L1", 1)), policy=UP)
    assert caught.value.code == "INVALID_ORDER"
    assert "order discount 100 cannot be allocated" in caught.value.message


def test_discounts_above_the_line_price_name_the_line_s_discounts() -> None:
    of = order(line(unit_price=100, discount_allocations=[{"amount": 101}]))
    with pytest.raises(DomainError) as caught:
        plan_refund(of, request(("L1", 1)), policy=UP)
    assert caught.value.field == "order.line_items.L1.discount_allocations"
    assert "101 of discounts on a price of 100" in caught.value.message


def test_recorded_zero_refunds_leave_the_whole_discount_to_the_last_units() -> None:
    # Both discounts record 0 refunded although unit 1 came back: the last two units take
    # D − 0 = 300 + 200 = 500 (the platform's record wins over the split's 333).
    of = order(
        line(
            quantity=3,
            discount_allocations=[
                {"amount": 300, "already_refunded": 0},
                {"amount": 200, "already_refunded": 0},
            ],
            already_returned_quantity=1,
        )
    )
    assert plan(of, request(("L1", 2))).lines[0].discount == 500


def test_shop_weights_of_an_order_discount_use_the_line_discount_twins() -> None:
    # No exchange rate: every shop figure must come from a twin. Shop weights: L1 2000 − 200 =
    # 1800 and L2 1000; 280 of order discount → 180 and 100.
    of = order(
        line(
            "L1",
            unit_price=1000,
            unit_price_shop=1000,
            quantity=2,
            discount_allocations=[{"amount": 100, "amount_shop": 200}],
        ),
        line("L2", unit_price=1000, unit_price_shop=1000),
        currency="EUR",
        shop_currency="USD",
        order_discounts=[{"amount": 250, "amount_shop": 280}],
    )
    refund = plan(of, request(("L2", 1), currency="EUR"))
    assert refund.shop is not None
    assert refund.shop.order_discount_allocations == {"L1": 180, "L2": 100}


# --- shop-currency cap and clamp ----------------------------------------------------------------


def _eur_in_usd_shop(**fields: Any) -> Order:
    """One 10.00 EUR unit worth 8.00 USD."""
    return order(
        line(unit_price=1000, unit_price_shop=800), currency="EUR", shop_currency="USD", **fields
    )


def test_the_shop_side_is_not_clamped_when_the_presentment_refund_was_not() -> None:
    # Presentment within its cap; the shop cap (7.00) is below the shop total (8.00), but the
    # cap is checked in presentment money only, so no shop adjustment.
    of = _eur_in_usd_shop(amount_paid=1000, amount_paid_shop=700)
    refund = plan(of, request(("L1", 1), currency="EUR"))
    assert refund.shop is not None
    assert (refund.shop.cap_adjustment, refund.shop.total) == (0, 800)


def test_a_clamped_refund_leaves_a_shop_total_within_its_cap_alone() -> None:
    # Presentment 1000 over a cap of 900: clamped by −100. Shop 800 is within its cap of 5000.
    of = _eur_in_usd_shop(amount_paid=900, amount_paid_shop=5000)
    refund = plan(of, request(("L1", 1), currency="EUR"), CLAMP)
    assert refund.presentment.cap_adjustment == -100
    assert refund.shop is not None
    assert (refund.shop.cap_adjustment, refund.shop.total) == (0, 800)


def test_both_breakdowns_name_their_currency_and_tax_basis() -> None:
    out = plan(_eur_in_usd_shop(), request(("L1", 1), currency="EUR")).to_breakdown()
    assert out["currency"] == "EUR"
    assert out["shop"]["currency"] == "USD"
    assert out["tax_included_in_totals"] is False
    assert out["shop"]["tax_included_in_totals"] is False


# --- the words of every refusal ------------------------------------------------------------------


def _wanted(**fields: Any) -> RefundRequest:
    return RefundRequest.model_validate({"currency": "USD", **fields})


_ONE = [{"line_id": "L1", "quantity": 1}]

REFUSALS = [
    (_wanted(currency="EUR"), "the refund must be in the order's presentment currency USD"),
    (_wanted(lines=[{"line_id": "NOPE", "quantity": 1}]), "line 'NOPE' is not on the order"),
    (_wanted(lines=_ONE * 2), "line 'L1' appears more than once in the request"),
    (
        _wanted(lines=[{"line_id": "L1", "quantity": 0}]),
        "quantity of line L1 must be an integer >= 1, got 0",
    ),
    (
        _wanted(lines=[{"line_id": "L1", "quantity": 2}]),
        "requested 2 but only 1 of line L1 remain returnable",
    ),
    (
        _wanted(lines=_ONE, return_label_fee="1.00"),
        "request.return_label_fee must be an integer of minor units, got '1.00'",
    ),
    (_wanted(lines=_ONE, return_label_fee=-5), "request.return_label_fee must be >= 0, got -5"),
    (
        _wanted(lines=_ONE, restocking_fee={"type": "percent", "rate": "lots"}),
        "request.restocking_fee.rate must be a decimal rate in [0, 1], got 'lots'",
    ),
    (
        _wanted(lines=_ONE, restocking_fee={"type": "percent", "rate": "1.5"}),
        "request.restocking_fee.rate must be within [0, 1], got 1.5",
    ),
    (
        _wanted(lines=_ONE, restocking_fee={"type": "flat"}),
        "restocking fee type must be percent | fixed, got 'flat'",
    ),
    (
        _wanted(lines=_ONE, shipping={"mode": "some"}),
        "request.shipping.mode must be one of none | full | amount, got 'some'",
    ),
    (
        _wanted(shipping={"mode": "amount", "amount": 501}),
        "shipping amount 501 is more than the 500 still refundable",
    ),
    (
        _wanted(lines=_ONE, return_label_fee=2000),
        "deductions of 2000 exceed the 1000 being refunded",
    ),
]


@pytest.mark.parametrize(("wanted", "words"), REFUSALS)
def test_each_refusal_says_what_is_wrong_in_our_words(wanted: RefundRequest, words: str) -> None:
    of = order(shipping_lines=[{"id": "S1", "price": 500}])
    assert words in error(of, wanted).message


def test_nothing_to_refund_is_said_in_one_plain_sentence() -> None:
    refused = error(order(), _wanted())
    assert refused.message == "the request returns no line and refunds no shipping"


def test_the_cap_refusal_names_both_figures() -> None:
    refused = error(order(amount_paid=999), request(("L1", 1)))
    assert "refund of 1000 exceeds the 999 still refundable on the order" in refused.message


def test_a_tender_shortfall_keeps_the_tender_s_words() -> None:
    # Payments can give back 9.99 of the 10.00 (cap 1000 is fine, the tenders are not).
    of = order(payments=[{"id": "P1", "amount": 999}], amount_paid=1000)
    refused = error(of, request(("L1", 1)))
    assert refused.code == "REFUND_EXCEEDS_CAPTURED"
    assert "can take back only 999 of 1000" in refused.message


def test_a_shop_twin_above_the_shop_remainder_says_so_in_shop_money() -> None:
    of = order(
        line(unit_price=1000, unit_price_shop=500),
        currency="EUR",
        shop_currency="USD",
        shipping_lines=[{"id": "S1", "price": 500, "price_shop": 250}],
    )
    wanted = request(currency="EUR", shipping={"mode": "amount", "amount": 100, "amount_shop": 251})
    refused = error(of, wanted)
    assert "amount_shop 251 is more than the 250 still refundable in the shop currency" in (
        refused.message
    )


def test_a_missing_shop_amount_names_what_lacks_it() -> None:
    of = order(line(unit_price=1000), currency="EUR", shop_currency="USD")
    with pytest.raises(DomainError) as caught:
        plan_refund(of, request(("L1", 1), currency="EUR"), policy=UP)
    assert caught.value.message == (
        "line L1 unit_price has no shop-currency amount and the order records no exchange rate"
    )


# --- found by the oracle (tests/unit/test_refund_oracle.py) --------------------------------------


def test_an_amount_equal_to_what_remains_needs_no_shop_twin_or_rate() -> None:
    # Computed as `full`, so the shop side takes its remaining twin (4.50) and never converts
    # the 5.00 asked (there is no rate to convert it with).
    of = order(
        line(unit_price=1000, unit_price_shop=900),
        shop_currency="EUR",
        shipping_lines=[{"id": "S1", "price": 500, "price_shop": 450}],
    )
    refund = plan(of, request(shipping={"mode": "amount", "amount": 500}))
    assert refund.shop is not None
    assert refund.shop.shipping.amount == 450


def test_the_shop_cap_converts_a_refund_recorded_without_its_twin() -> None:
    # Paid 5.00 USD (twin); 400 JPY refunded without a twin converts to 200: cap 500 − 200.
    of = order(
        line(unit_price=700),
        currency="JPY",
        shop_currency="USD",
        exchange_rate="0.005",
        amount_paid=1000,
        amount_paid_shop=500,
        already_refunded_amount=400,
    )
    refund = plan(of, request(("L1", 1), currency="JPY"), CLAMP)
    # Presentment: 700 against a cap of 600, clamped by −100. Shop: 700 × 0.5 = 350 against
    # a cap of 300, clamped by −50.
    assert refund.presentment.cap_adjustment == -100
    assert refund.shop is not None
    assert refund.shop.refundable_before == 300
    assert (refund.shop.cap_adjustment, refund.shop.total) == (-50, 300)


def test_the_shop_cap_uses_the_refunded_twin_when_the_paid_one_is_converted() -> None:
    # Paid 2000 USD cents × 0.9 = 1800 EUR cents (no twin); refunded twin 950: cap 850.
    of = order(
        line(unit_price=500),
        shop_currency="EUR",
        exchange_rate="0.9",
        amount_paid=2000,
        already_refunded_amount=1000,
        already_refunded_amount_shop=950,
    )
    refund = plan(of, request(("L1", 1)))
    assert refund.shop is not None
    assert refund.shop.refundable_before == 850


def test_a_refund_recorded_without_a_twin_or_a_rate_is_refused_for_the_shop_cap() -> None:
    of = order(
        line(unit_price=500, unit_price_shop=250),
        shop_currency="EUR",
        amount_paid=2000,
        amount_paid_shop=1000,
        already_refunded_amount=100,
    )
    with pytest.raises(DomainError) as caught:
        plan_refund(of, request(("L1", 1)), policy=UP)
    assert (caught.value.code, caught.value.field) == (
        "MISSING_SHOP_AMOUNT",
        "order.already_refunded_amount",
    )
