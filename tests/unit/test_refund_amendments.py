"""The two amended refund rules (refund-math §3.3, §3.6 and §3.9; issue 6).

1. All of a line's discounts are split over its units together, so no unit is worth less than
   nothing and a free gift returned with a paid item is refunded, not refused.
2. A shipping `amount` equal to what remains is computed as `full`, and shop-money shipping
   shares never exceed what remains of their shop twin.

Expected figures are worked out by hand in the comments.
"""

from __future__ import annotations

from typing import Any

import pytest

from returnbridge.domain.errors import DomainError
from returnbridge.domain.orders import Order
from returnbridge.domain.refunds import plan_refund
from support.planner import EVEN, UP, error, line, order, plan, request

# --- rule 1: a line's discounts split together ---------------------------------------------------


def _gift_order() -> Order:
    """4 gift units at 10.00 made free by 0.05 + 39.95, and a paid 25.00 mug with 2.00 tax."""
    return order(
        line(
            "GIFT",
            quantity=4,
            unit_price=1000,
            discount_allocations=[
                {"amount": 5, "code": "WELCOME", "level": "order"},
                {"amount": 3995, "code": "FREEGIFT"},
            ],
        ),
        line("MUG", unit_price=2500, tax_lines=[{"title": "Sales tax", "amount": 200}]),
        amount_paid=2700,
    )


def test_a_free_gift_returned_with_a_paid_item_is_refunded_not_refused() -> None:
    # D = 5 + 3995 = 4000 over 4 units -> 1000 each: the gift unit nets 0; the mug 2500 + 200.
    refund = plan(_gift_order(), request(("GIFT", 1), ("MUG", 1)))
    gift, mug = refund.lines
    assert (gift.gross, gift.discount, gift.subtotal, gift.total) == (1000, 1000, 0, 0)
    assert mug.total == 2700
    assert refund.total == 2700


def test_every_gift_unit_alone_refunds_nothing_and_the_whole_line_nets_zero() -> None:
    # Split one by one, unit 1 carried 2 + 999 = 1001 of discount; together 1000 per unit.
    snapshot = _gift_order()
    for returned in range(4):
        data = snapshot.model_dump()
        data["line_items"][0]["already_returned_quantity"] = returned
        one = plan(Order.model_validate(data), request(("GIFT", 1)))
        assert (one.lines[0].discount, one.total) == (1000, 0)


def test_units_of_a_nearly_free_line_never_go_below_zero() -> None:
    # 2 × 1.00 with 1.01 + 0.99 off: D = 200 over 2 -> 100 each; unit 1 alone refunds 0, not −1.
    of = order(
        line(
            quantity=2,
            unit_price=100,
            discount_allocations=[{"amount": 101}, {"amount": 99}],
        ),
        amount_paid=0,
    )
    assert plan(of, request(("L1", 1))).total == 0
    both = plan(of, request(("L1", 2)))
    assert (both.lines[0].discount, both.total) == (200, 0)


def test_line_and_unallocated_order_discounts_form_one_component() -> None:
    # Line: 3 × 10.00 with 1.00 off (line level) plus its share of a 2.00 order discount
    # (one line takes all of it): D = 300 over 3 units = 100 each. Split one by one:
    # 100/3 -> 34/33/33 and 200/3 -> 67/67/66, unit 1 would carry 101.
    of = order(
        line(quantity=3, discount_allocations=[{"amount": 100}]),
        order_discounts=[{"amount": 200}],
    )
    first = plan(of, request(("L1", 1)))
    assert first.lines[0].discount == 100


def test_last_units_take_the_rest_of_the_combined_discount_when_every_refund_is_recorded() -> None:
    # D = 301 + 200 = 501 over 3; the platform records 170 + 66 = 236 refunded on unit 1
    # (computed elsewhere). The last two units take 501 − 236 = 265, not S(3) − S(1) = 334.
    of = order(
        line(
            quantity=3,
            discount_allocations=[
                {"amount": 301, "already_refunded": 170},
                {"amount": 200, "already_refunded": 66},
            ],
            already_returned_quantity=1,
        )
    )
    assert plan(of, request(("L1", 2))).lines[0].discount == 265


def test_a_discount_without_a_recorded_refund_keeps_the_even_split() -> None:
    # Only one of the two discounts records its refund: 501 over 3 -> 167 each, last two 334.
    of = order(
        line(
            quantity=3,
            discount_allocations=[{"amount": 301, "already_refunded": 170}, {"amount": 200}],
            already_returned_quantity=1,
        )
    )
    assert plan(of, request(("L1", 2))).lines[0].discount == 334


def test_discounts_above_the_line_price_are_bad_order_data() -> None:
    # 2 × 1.00 with 2.01 of discount: no unit price can carry it.
    of = order(line(quantity=2, unit_price=100, discount_allocations=[{"amount": 201}]))
    with pytest.raises(DomainError) as caught:
        plan_refund(of, request(("L1", 1)), policy=UP)
    assert caught.value.code == "INVALID_ORDER"
    assert "L1" in caught.value.message


def test_shop_discounts_converted_above_the_shop_price_are_capped_at_it() -> None:
    # 4 units at 1 JPY, free by 3 + 1 JPY off; USD shop at 0.005 USD/JPY = 0.5 cent per yen.
    # HALF_EVEN: price 0.5 -> 0, so the shop gross is 0; discounts 1.5 -> 2 and 0.5 -> 0 = 2.
    # A discount cannot be worth more than the line: the shop discount is capped at 0.
    of = order(
        line(
            quantity=4,
            unit_price=1,
            discount_allocations=[{"amount": 3}, {"amount": 1}],
        ),
        currency="JPY",
        shop_currency="USD",
        exchange_rate="0.005",
    )
    refund = plan(of, request(("L1", 4), currency="JPY"), EVEN)
    assert refund.shop is not None
    shop_line = refund.shop.lines[0]
    assert (shop_line.gross, shop_line.discount, shop_line.total) == (0, 0, 0)


# --- rule 2: shipping equal to what remains is `full`; shop shares within their twin -----------


def _two_shipping_lines(**fields: Any) -> Order:
    """S1 5.00 whose price is refunded but 0.40 tax remains; S2 8.00 + 0.64 tax untouched."""
    return order(
        shipping_lines=[
            {
                "id": "S1",
                "price": 500,
                "tax_lines": [{"title": "tax", "amount": 40}],
                "already_refunded": 500,
            },
            {"id": "S2", "price": 800, "tax_lines": [{"title": "tax", "amount": 64}]},
        ],
        **fields,
    )


def test_an_amount_equal_to_what_remains_refunds_like_full() -> None:
    # Σ remaining = 0 + 800. Asking 800 is `full`: S1's leftover 40 tax goes too, S2 800 + 64.
    of = _two_shipping_lines()
    by_amount = plan(of, request(shipping={"mode": "amount", "amount": 800}))
    by_full = plan(of, request(shipping={"mode": "full"}))
    assert by_amount.to_breakdown() == by_full.to_breakdown()
    assert [(s.shipping_line_id, s.amount, s.tax) for s in by_amount.shipping.lines] == [
        ("S1", 0, 40),
        ("S2", 800, 64),
    ]


def test_an_amount_below_what_remains_is_spread_as_before() -> None:
    # 799 of 800: S1 weighs 0, S2 takes 799 with tax round(64 × 799 / 800) = round(63.92) = 64.
    refund = plan(_two_shipping_lines(), request(shipping={"mode": "amount", "amount": 799}))
    assert [(s.shipping_line_id, s.amount, s.tax) for s in refund.shipping.lines] == [
        ("S2", 799, 64)
    ]


def _jpy_shipping(**shipping: Any) -> Order:
    """A JPY order in a USD shop (0.0067 USD/JPY = 0.67 cent per yen), shipping 216 JPY."""
    return order(
        line(unit_price=3000, unit_price_shop=2010),
        currency="JPY",
        shop_currency="USD",
        exchange_rate="0.0067",
        shipping_lines=[{"id": "S1", "price": 216, "price_shop": 144, **shipping}],
    )


def test_the_last_partial_shipping_refund_closes_the_shop_twin_exactly() -> None:
    # 89 JPY refunded as 0.60; the remaining 127 JPY is `full`: shop 144 − 60 = 84, not
    # round(127 × 0.67) = 85 (0.60 + 0.85 = 1.45 against 1.44 charged).
    of = _jpy_shipping(already_refunded=89, already_refunded_shop=60)
    refund = plan(of, request(currency="JPY", shipping={"mode": "amount", "amount": 127}))
    assert refund.shop is not None
    assert refund.shipping.amount == 127
    assert refund.shop.shipping.amount == 84


def test_the_shop_twin_given_with_an_amount_equal_to_what_remains_is_not_used() -> None:
    # Computed as `full`: the shop side takes its own remaining 144, whatever the request says.
    of = _jpy_shipping()
    wanted = request(currency="JPY", shipping={"mode": "amount", "amount": 216, "amount_shop": 150})
    refund = plan(of, wanted)
    assert refund.shop is not None
    assert refund.shop.shipping.amount == 144


def test_a_converted_shop_amount_is_capped_at_what_remains_of_the_twin() -> None:
    # 215 of 216 JPY: round(215 × 0.67) = round(144.05) = 144 > the 140 the twin records.
    of = order(
        line(unit_price=3000, unit_price_shop=2010),
        currency="JPY",
        shop_currency="USD",
        exchange_rate="0.0067",
        shipping_lines=[{"id": "S1", "price": 216, "price_shop": 140}],
    )
    refund = plan(of, request(currency="JPY", shipping={"mode": "amount", "amount": 215}))
    assert refund.shop is not None
    assert (refund.shipping.amount, refund.shop.shipping.amount) == (215, 140)


def test_a_given_shop_amount_below_the_twin_is_used_as_given() -> None:
    # 100 JPY with an explicit 0.70: used as is (conversion would give 67).
    of = _jpy_shipping()
    wanted = request(currency="JPY", shipping={"mode": "amount", "amount": 100, "amount_shop": 70})
    refund = plan(of, wanted)
    assert refund.shop is not None
    assert refund.shop.shipping.amount == 70


def test_a_given_shop_amount_above_the_twin_is_refused() -> None:
    # 100 JPY with 1.45 asked in shop money against the 1.44 the twin records.
    of = _jpy_shipping()
    wanted = request(currency="JPY", shipping={"mode": "amount", "amount": 100, "amount_shop": 145})
    refused = error(of, wanted)
    assert refused.code == "SHIPPING_EXCEEDS_REMAINING"
    assert refused.field == "request.shipping.amount_shop"
    assert "144" in refused.message


@pytest.mark.parametrize("first", [1, 50, 89, 108, 150, 215])
def test_two_partial_shipping_refunds_add_up_to_the_twin_in_shop_money(first: int) -> None:
    # Whatever the split, the shop money refunded in two steps is exactly the 1.44 charged.
    of = _jpy_shipping()
    one = plan(of, request(currency="JPY", shipping={"mode": "amount", "amount": first}))
    assert one.shop is not None
    after = _jpy_shipping(already_refunded=first, already_refunded_shop=one.shop.shipping.amount)
    two = plan(after, request(currency="JPY", shipping={"mode": "amount", "amount": 216 - first}))
    assert two.shop is not None
    assert one.shop.shipping.amount + two.shop.shipping.amount == 144
