"""Boundaries of money, orders and tenders that the other unit tests never reach (issue 6).

Every expected figure is worked out by hand from docs/refund-math.md ("Money", "Tenders",
"Two currencies"); the arithmetic is in the comments.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from returnbridge.domain.errors import DomainError
from returnbridge.domain.money import Money, Rounding, exponent, parse_minor, round_fraction
from returnbridge.domain.orders import Order, Payment
from returnbridge.domain.tenders import RefundMethod, Tender, allocate_tenders, mirror_tenders

ORIGINAL = RefundMethod.ORIGINAL

# --- exponent(): a currency code is exactly three letters -------------------------------------


@pytest.mark.parametrize("code", ["EURO", "US1", "US", "", "U$D", "1234"])
def test_exponent_refuses_codes_that_are_not_three_letters(code: str) -> None:
    with pytest.raises(DomainError) as caught:
        exponent(code)
    assert caught.value.code == "INVALID_CURRENCY"


@pytest.mark.parametrize(
    ("code", "decimals"),
    [("usd", 2), ("JPY", 0), ("kwd", 3), ("CLF", 4), ("EUR", 2)],
)
def test_exponent_reads_iso_4217_whatever_the_case(code: str, decimals: int) -> None:
    assert exponent(code) == decimals


def test_money_refuses_a_four_letter_currency() -> None:
    with pytest.raises(DomainError) as caught:
        Money(100, "EURO")
    assert caught.value.code == "INVALID_CURRENCY"


# --- Money arithmetic ---------------------------------------------------------------------------


def test_adding_money_adds_minor_units_in_the_same_currency() -> None:
    # 1.50 + 0.25 = 1.75
    assert Money(150, "USD") + Money(25, "usd") == Money(175, "USD")


def test_subtracting_money_can_go_below_zero() -> None:
    # 1.50 − 1.75 = −0.25
    assert Money(150, "USD") - Money(175, "USD") == Money(-25, "USD")


def test_negating_money_flips_the_sign_and_keeps_the_currency() -> None:
    assert -Money(150, "JPY") == Money(-150, "JPY")
    assert -Money(-7, "KWD") == Money(7, "KWD")


@pytest.mark.parametrize("operation", ["add", "sub"])
def test_money_in_two_currencies_does_not_combine(operation: str) -> None:
    left, right = Money(100, "USD"), Money(100, "EUR")
    with pytest.raises(DomainError) as caught:
        _ = left + right if operation == "add" else left - right
    assert caught.value.code == "CURRENCY_MISMATCH"


def test_zero_is_no_minor_units_in_the_upper_cased_currency() -> None:
    zero = Money.zero("jpy")
    assert zero == Money(0, "JPY")
    assert zero.minor == 0
    assert zero.currency == "JPY"
    assert zero + Money(5, "JPY") == Money(5, "JPY")


def test_zero_refuses_a_code_that_is_not_a_currency() -> None:
    with pytest.raises(DomainError):
        Money.zero("US1")


# --- Order.line_by_sku --------------------------------------------------------------------------


def _order_with_skus() -> Order:
    return Order.model_validate(
        {
            "id": "O1",
            "currency": "USD",
            "amount_paid": 3000,
            "line_items": [
                {"id": "L1", "sku": "SKU-A", "quantity": 1, "unit_price": 1000},
                {"id": "L2", "sku": "SKU-B", "quantity": 1, "unit_price": 1000},
                {"id": "L3", "sku": "SKU-A", "quantity": 1, "unit_price": 1000},
                {"id": "L4", "quantity": 1, "unit_price": 0},
            ],
        }
    )


def test_line_by_sku_finds_every_line_with_the_sku_in_order() -> None:
    assert [line.id for line in _order_with_skus().line_by_sku("SKU-A")] == ["L1", "L3"]
    assert [line.id for line in _order_with_skus().line_by_sku("SKU-B")] == ["L2"]


def test_line_by_sku_finds_nothing_for_an_unknown_sku() -> None:
    assert _order_with_skus().line_by_sku("SKU-C") == []
    assert _order_with_skus().line_by_sku("sku-a") == []


# --- tenders: what each payment can still take (refund-math "Tenders") --------------------------


def _payment(pid: str, method: str, amount: int, refunded: int = 0) -> Payment:
    return Payment(id=pid, method=method, gateway=f"gw-{pid}", amount=amount, refunded=refunded)


def test_a_fully_refunded_payment_takes_nothing() -> None:
    # gift card 10.00 of which 10.00 refunded: 0 left, so the card takes all 5.00.
    payments = [_payment("G", "gift_card", 1000, 1000), _payment("C", "card", 2000)]
    tenders = allocate_tenders(500, payments, method=ORIGINAL)
    assert tenders == (Tender(method="card", amount=500, payment_id="C", gateway="gw-C"),)


def test_an_over_refunded_payment_takes_nothing_and_gives_nothing_back() -> None:
    # refunded above its amount: max(1000 − 1200, 0) = 0 left, never −2.00.
    payments = [_payment("G", "gift_card", 1000, 1200), _payment("C", "card", 2000)]
    tenders = allocate_tenders(500, payments, method=ORIGINAL)
    assert [(t.payment_id, t.amount) for t in tenders] == [("C", 500)]


def test_a_payment_with_one_minor_unit_left_takes_exactly_that_unit() -> None:
    # gift card 10.00 with 9.99 refunded: 1 left; closed loop first, so 1 + 499 = 500.
    payments = [_payment("C", "card", 2000), _payment("G", "gift_card", 1000, 999)]
    tenders = allocate_tenders(500, payments, method=ORIGINAL)
    assert [(t.method, t.payment_id, t.amount) for t in tenders] == [
        ("gift_card", "G", 1),
        ("card", "C", 499),
    ]
    assert tenders[0].gateway == "gw-G"


def test_closed_loop_tenders_come_first_then_the_rest_in_payment_order() -> None:
    # card 3.00, store credit 2.00, card 4.00, gift card 1.00; total 7.00:
    # store credit 200, gift card 100, first card 300, second card 100.
    payments = [
        _payment("C1", "card", 300),
        _payment("S", "store_credit", 200),
        _payment("C2", "card", 400),
        _payment("G", "gift_card", 100),
    ]
    tenders = allocate_tenders(700, payments, method=ORIGINAL)
    assert [(t.payment_id, t.amount) for t in tenders] == [
        ("S", 200),
        ("G", 100),
        ("C1", 300),
        ("C2", 100),
    ]


def test_payments_that_hold_exactly_the_total_take_it_all() -> None:
    # 3.00 − 1.00 + 2.00 − 0 = 4.00 left; a 4.00 refund is the last possible one.
    payments = [_payment("C1", "card", 300, 100), _payment("C2", "card", 200)]
    tenders = allocate_tenders(400, payments, method=ORIGINAL)
    assert [(t.payment_id, t.amount) for t in tenders] == [("C1", 200), ("C2", 200)]


def test_a_one_unit_shortfall_is_refused() -> None:
    # 2.00 + (3.00 − 1.00) = 4.00 left on the payments; 4.01 is one minor unit too many.
    payments = [_payment("C1", "card", 200), _payment("C2", "card", 300, 100)]
    with pytest.raises(DomainError) as caught:
        allocate_tenders(401, payments, method=ORIGINAL)
    assert caught.value.code == "REFUND_EXCEEDS_CAPTURED"
    assert caught.value.field == "order.payments"


def test_a_zero_total_needs_no_tender_from_the_payments() -> None:
    assert allocate_tenders(0, [_payment("C", "card", 100)], method=ORIGINAL) == ()


def test_a_negative_total_is_refused() -> None:
    with pytest.raises(DomainError) as caught:
        allocate_tenders(-1, [], method=ORIGINAL)
    assert caught.value.code == "INVALID_AMOUNT"


def test_without_payments_one_original_tender_takes_the_total() -> None:
    assert allocate_tenders(123, [], method=ORIGINAL) == (Tender(method="original", amount=123),)


def test_store_credit_ignores_the_payments() -> None:
    payments = [_payment("C", "card", 100, 100)]
    tenders = allocate_tenders(500, payments, method=RefundMethod.STORE_CREDIT)
    assert tenders == (Tender(method="store_credit", amount=500),)


# --- mirroring tenders into the shop currency ("Two currencies") --------------------------------


def test_mirrored_tenders_split_the_shop_total_by_largest_remainder() -> None:
    # presentment 300 + 200; shop total 999: exact 599.4 and 399.6, floors 599 + 399 = 998,
    # the one unit left goes to the larger fraction (.6): 599 and 400.
    tenders = (
        Tender(method="gift_card", amount=300, payment_id="G", gateway="gw-G"),
        Tender(method="card", amount=200, payment_id="C", gateway="gw-C"),
    )
    mirrored = mirror_tenders(tenders, 999)
    assert mirrored == (
        Tender(method="gift_card", amount=599, payment_id="G", gateway="gw-G"),
        Tender(method="card", amount=400, payment_id="C", gateway="gw-C"),
    )


def test_mirrored_tenders_across_three_tenders_break_ties_to_the_first() -> None:
    # weights 1, 1, 1 over 5: exact 1.666… each, floors 1 + 1 + 1 = 3, two units left, all
    # fractions equal, so the first two get one more: 2, 2, 1.
    tenders = tuple(Tender(method="card", amount=1, payment_id=f"P{i}") for i in range(3))
    assert [t.amount for t in mirror_tenders(tenders, 5)] == [2, 2, 1]


def test_mirroring_zero_tenders_gives_the_shop_total_to_the_first() -> None:
    tenders = (Tender(method="card", amount=0), Tender(method="gift_card", amount=0))
    assert [t.amount for t in mirror_tenders(tenders, 250)] == [250, 0]


def test_mirroring_no_tenders_gives_none() -> None:
    assert mirror_tenders((), 250) == ()


# --- parsing refuses, with its error code and field ---------------------------------------------


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "abc", "12.345", ""])
def test_parse_refuses_what_is_not_an_exact_amount_as_invalid_amount(text: str) -> None:
    with pytest.raises(DomainError) as caught:
        parse_minor(text, "USD")
    assert caught.value.code == "INVALID_AMOUNT"
    assert caught.value.field == "amount"


def test_parse_names_the_field_it_was_given() -> None:
    with pytest.raises(DomainError) as caught:
        parse_minor("100.5", "JPY", field="lines[0].price")
    assert caught.value.field == "lines[0].price"


@pytest.mark.parametrize("minor", [True, 1.5, "100"])
def test_money_refuses_minor_units_that_are_not_an_integer(minor: object) -> None:
    with pytest.raises(DomainError) as caught:
        Money(minor, "USD")  # type: ignore[arg-type]
    assert caught.value.code == "INVALID_AMOUNT"


# --- what a refusal says: the code, the value and the field it is about -------------------------


@pytest.mark.parametrize("code", ["EURO", "US1"])
def test_an_invalid_currency_code_is_quoted_in_the_message(code: str) -> None:
    with pytest.raises(DomainError) as caught:
        exponent(code)
    assert caught.value.message == f"'{code}' is not an ISO 4217 currency code"


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("abc", "USD", "price: 'abc' is not a decimal amount"),
        ("NaN", "USD", "price: 'NaN' is not a finite amount"),
        ("Infinity", "JPY", "price: 'Infinity' is not a finite amount"),
        # the currency is named as ISO writes it, whatever the case it was given in
        ("1.234", "usd", "price: '1.234' has more decimals than USD allows"),
        ("0.5", "jpy", "price: '0.5' has more decimals than JPY allows"),
    ],
)
def test_a_refused_amount_names_the_field_the_text_and_the_reason(
    text: str, currency: str, message: str
) -> None:
    with pytest.raises(DomainError) as caught:
        parse_minor(text, currency, field="price")
    assert caught.value.message == message


def test_parse_reads_a_decimal_as_it_is() -> None:
    # 12.30 USD is 1230 cents; 1E+1 JPY is 10 yen; -0.005 KWD is −5 fils.
    assert parse_minor(Decimal("12.30"), "USD") == 1230
    assert parse_minor(Decimal("1E+1"), "JPY") == 10
    assert parse_minor(Decimal("-0.005"), "KWD") == -5


def test_money_that_is_not_an_integer_says_what_it_got() -> None:
    with pytest.raises(DomainError) as caught:
        Money(1.5, "USD")  # type: ignore[arg-type]
    assert caught.value.message == "minor units must be an integer, got 1.5"


def test_money_in_two_currencies_names_both() -> None:
    with pytest.raises(DomainError) as caught:
        _ = Money(100, "USD") - Money(100, "eur")
    assert caught.value.message == "cannot combine USD with EUR"


# --- rounding ties (refund-math "Rounding", "How") ----------------------------------------------


@pytest.mark.parametrize(
    ("value", "half_up", "half_even"),
    [
        (Fraction(297, 2), 149, 148),  # 148.5: away from zero, or to the even 148
        (Fraction(291, 2), 146, 146),  # 145.5: 146 is both away from zero and even
        (Fraction(923, 5), 185, 185),  # 184.6 is no tie: the nearest integer in both modes
        (Fraction(922, 5), 184, 184),  # 184.4 likewise
        (Fraction(-297, 2), -149, -148),  # −148.5 rounds like its magnitude
        (Fraction(1, 2), 1, 0),  # 0.5: the even neighbour is 0
        (Fraction(-1, 2), -1, 0),
        (Fraction(0), 0, 0),
        (Fraction(7), 7, 7),
    ],
)
def test_ties_follow_the_mode_and_everything_else_the_nearest_integer(
    value: Fraction, half_up: int, half_even: int
) -> None:
    assert round_fraction(value, Rounding.HALF_UP) == half_up
    assert round_fraction(value, Rounding.HALF_EVEN) == half_even
