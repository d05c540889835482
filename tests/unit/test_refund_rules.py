"""Hand-written rule tests for refund-math.md parts the public cases do not exercise."""

from __future__ import annotations

from typing import Any

import pytest

from returnbridge.domain.errors import DomainError
from returnbridge.domain.orders import Order
from returnbridge.domain.refunds import (
    RefundRequest,
)
from support.planner import CLAMP, EVEN, UP, error, line, order, plan, request

_line = line
_order = order


_request = request
_plan = plan
_error = error


# --- rounding modes (§3.10) -----------------------------------------------------------------


def test_rate_derived_tax_rounds_ties_with_the_configured_mode() -> None:
    order = _order(_line(unit_price=185, tax_lines=[{"title": "T", "rate": "0.10"}]))
    request = _request(("L1", 1))
    assert _plan(order, request, UP).lines[0].tax == 19  # 18.5 -> away from zero
    assert _plan(order, request, EVEN).lines[0].tax == 18  # 18.5 -> even neighbour
    assert _plan(order, request, EVEN).total == 203


def test_percent_restocking_fee_rounds_ties_with_the_configured_mode() -> None:
    order = _order(_line(unit_price=1850))
    request = _request(("L1", 1), restocking_fee={"type": "percent", "rate": "0.05"})
    assert _plan(order, request, UP).fees.restocking == -93  # 92.5
    assert _plan(order, request, EVEN).fees.restocking == -92
    assert _plan(order, request, EVEN).total == 1850 - 92


def test_percent_restocking_fee_is_rounded_per_line_then_summed() -> None:
    order = _order(_line("L1", unit_price=105), _line("L2", unit_price=105))
    request = _request(("L1", 1), ("L2", 1), restocking_fee={"type": "percent", "rate": "0.1"})
    # 10.5 + 10.5: per line 11 + 11 = 22 (rounding the sum 21.0 once would give 21)
    assert _plan(order, request, UP).fees.restocking == -22
    assert _plan(order, request, EVEN).fees.restocking == -20


def test_partial_shipping_tax_share_rounds_ties_with_the_configured_mode() -> None:
    order = _order(
        shipping_lines=[{"id": "S1", "price": 1000, "tax_lines": [{"title": "T", "amount": 5}]}]
    )
    request = _request(shipping={"mode": "amount", "amount": 500})
    assert _plan(order, request, UP).shipping.tax == 3  # 2.5
    assert _plan(order, request, EVEN).shipping.tax == 2


def test_allocations_never_round_so_the_mode_does_not_change_splits() -> None:
    order = _order(
        _line(
            quantity=3,
            unit_price=1200,
            discount_allocations=[{"amount": 500}],
            tax_lines=[{"title": "T", "amount": 155}],
        ),
    )
    request = _request(("L1", 2))
    assert _plan(order, request, UP).to_breakdown() == _plan(order, request, EVEN).to_breakdown()


# --- cap (§3.8) -----------------------------------------------------------------------------


def test_cap_rejects_by_default_and_clamps_with_a_negative_adjustment() -> None:
    order = _order(_line(unit_price=600), amount_paid=1000, already_refunded_amount=500)
    request = _request(("L1", 1))
    error = _error(order, request)
    assert error.code == "REFUND_EXCEEDS_CAPTURED"
    plan = _plan(order, request, CLAMP)
    breakdown = plan.to_breakdown()
    assert breakdown["cap_adjustment"] == -100
    assert breakdown["total"] == 500
    assert breakdown["cap"] == {"refundable_before": 500, "refundable_after": 0}
    assert sum(t["amount"] for t in breakdown["tenders"]) == 500


def test_total_equal_to_cap_is_allowed() -> None:
    order = _order(_line(unit_price=600), amount_paid=600)
    assert _plan(order, _request(("L1", 1))).to_breakdown()["cap"]["refundable_after"] == 0


# --- tenders (§3.8) -------------------------------------------------------------------------


def _paid_with_gift_card() -> Order:
    return _order(
        _line(unit_price=1500),
        amount_paid=4000,
        payments=[
            {"id": "P1", "method": "card", "amount": 3000},
            {"id": "P2", "method": "gift_card", "amount": 1000, "refunded": 200},
        ],
    )


def test_original_refund_goes_to_closed_loop_tenders_first_each_up_to_its_remainder() -> None:
    tenders = _plan(_paid_with_gift_card(), _request(("L1", 1))).to_breakdown()["tenders"]
    assert tenders == [
        {"method": "gift_card", "amount": 800, "payment_id": "P2"},
        {"method": "card", "amount": 700, "payment_id": "P1"},
    ]


def test_store_credit_refund_is_one_new_store_credit_tender() -> None:
    request = _request(("L1", 1), refund_method="store_credit")
    plan = _plan(_paid_with_gift_card(), request)
    assert plan.to_breakdown()["tenders"] == [{"method": "store_credit", "amount": 1500}]
    assert plan.to_breakdown()["cap"]["refundable_after"] == 4000 - 1500


def test_store_credit_refund_still_counts_against_the_cap() -> None:
    order = _order(_line(unit_price=1500), amount_paid=1000)
    error = _error(order, _request(("L1", 1), refund_method="store_credit"))
    assert error.code == "REFUND_EXCEEDS_CAPTURED"


# --- tax-inclusive and rate-derived tax (§3.4) ----------------------------------------------


def test_tax_inclusive_rate_derived_tax_is_derived_once_for_the_line_then_split() -> None:
    line = _line(quantity=3, tax_lines=[{"title": "VAT", "rate": "0.19"}])
    order = _order(line, taxes_included=True)
    plan = _plan(order, _request(("L1", 2)))
    # T = round(3000 * 0.19 / 1.19) = round(478.99) = 479 -> units 160/160/159
    assert plan.lines[0].tax == 320
    assert plan.lines[0].total == 2000  # included tax is reported, not added
    assert plan.to_breakdown()["tax_included_in_totals"] is True
    last = _order({**line, "already_returned_quantity": 2}, taxes_included=True)
    assert _plan(last, _request(("L1", 1))).lines[0].tax == 159


def test_tax_inclusive_derivation_divides_by_one_plus_all_rates_of_the_line() -> None:
    taxes = [{"title": "A", "rate": "0.05"}, {"title": "B", "rate": "0.10"}]
    order = _order(_line(unit_price=1150, tax_lines=taxes), taxes_included=True)
    tax_lines = _plan(order, _request(("L1", 1))).to_breakdown()["lines"][0]["tax_lines"]
    assert tax_lines == [{"title": "A", "amount": 50}, {"title": "B", "amount": 100}]


def test_rate_derived_tax_uses_the_net_after_discounts() -> None:
    line = _line(
        unit_price=1000,
        discount_allocations=[{"amount": 100}],
        tax_lines=[{"title": "T", "rate": "0.1"}],
    )
    assert _plan(_order(line), _request(("L1", 1))).lines[0].tax == 90


def test_each_tax_line_is_split_on_its_own() -> None:
    taxes = [{"title": "CGST", "amount": 1}, {"title": "SGST", "amount": 1}]
    order = _order(_line(quantity=2, tax_lines=taxes))
    # Each 1 -> units 1/0: the first unit carries both, a combined 2 would be 1/1.
    assert _plan(order, _request(("L1", 1))).lines[0].tax == 2


# --- duties (§3.5) --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "already", "expected"),
    [
        ("none", 0, 0),
        ("proportional", 0, 501),
        ("full", 0, 1001),
        ("full", 1, 500),
        ("proportional", 1, 500),
    ],
)
def test_duties_by_mode(mode: str, already: int, expected: int) -> None:
    line = _line(
        quantity=2, unit_price=5000, duties=[{"amount": 1001}], already_returned_quantity=already
    )
    for included in (False, True):
        plan = _plan(_order(line, taxes_included=included), _request(("L1", 1), refund_duties=mode))
        assert plan.lines[0].duties == expected
        assert plan.lines[0].total == 5000 + expected
        assert plan.to_breakdown()["duties"] == expected


# --- shipping (§3.6) ------------------------------------------------------------------------


def _two_shipping_lines(**first: Any) -> Order:
    return _order(
        shipping_lines=[
            {"id": "S1", "price": 1000, "tax_lines": [{"title": "T", "amount": 100}], **first},
            {"id": "S2", "price": 2000, "tax_lines": [{"title": "T", "amount": 200}]},
        ]
    )


def test_partial_shipping_is_spread_over_shipping_lines_by_remaining_amount() -> None:
    plan = _plan(_two_shipping_lines(), _request(shipping={"mode": "amount", "amount": 600}))
    assert plan.to_breakdown()["shipping"] == {
        "amount": 600,
        "tax": 60,
        "total": 660,
        "lines": [
            {"shipping_line_id": "S1", "amount": 200, "tax": 20, "total": 220},
            {"shipping_line_id": "S2", "amount": 400, "tax": 40, "total": 440},
        ],
    }


def test_partial_shipping_tie_goes_to_the_first_shipping_line() -> None:
    order = _order(shipping_lines=[{"id": "S1", "price": 1000}, {"id": "S2", "price": 1000}])
    lines = _plan(order, _request(shipping={"mode": "amount", "amount": 1})).shipping.lines
    assert [(s.shipping_line_id, s.amount) for s in lines] == [("S1", 1)]


def test_full_shipping_refunds_what_is_left_on_each_line() -> None:
    order = _two_shipping_lines(already_refunded=200, already_refunded_tax=20, discount=100)
    shipping = _plan(order, _request(shipping={"mode": "full"})).shipping
    assert [(s.amount, s.tax) for s in shipping.lines] == [(700, 80), (2000, 200)]
    assert shipping.total == 2980


def test_partial_shipping_equal_to_what_is_left_takes_all_remaining_tax() -> None:
    order = _order(
        shipping_lines=[
            {
                "id": "S1",
                "price": 999,
                "tax_lines": [{"title": "T", "amount": 7}],
                "already_refunded": 333,
                "already_refunded_tax": 2,
            }
        ]
    )
    plan = _plan(order, _request(shipping={"mode": "amount", "amount": 666}))
    assert (plan.shipping.amount, plan.shipping.tax) == (666, 5)


def test_tax_inclusive_shipping_reports_tax_without_adding_it() -> None:
    order = _order(
        taxes_included=True,
        shipping_lines=[{"id": "S1", "price": 1190, "tax_lines": [{"title": "T", "amount": 190}]}],
    )
    plan = _plan(order, _request(shipping={"mode": "amount", "amount": 595}))
    assert (plan.shipping.amount, plan.shipping.tax, plan.shipping.total) == (595, 95, 595)


# --- fees (§3.7) ----------------------------------------------------------------------------


def test_fixed_fees_are_negative_and_deductions_may_equal_the_refund() -> None:
    order = _order(_line(unit_price=1000))
    plan = _plan(
        order,
        _request(("L1", 1), restocking_fee={"type": "fixed", "amount": 600}, return_label_fee=400),
    )
    assert plan.fees.to_dict() == {"restocking": -600, "return_label": -400, "total": -1000}
    assert plan.total == 0
    assert plan.to_breakdown()["tenders"] == [{"method": "original", "amount": 0}]


def test_deductions_above_the_refund_are_rejected() -> None:
    order = _order(_line(unit_price=1000))
    error = _error(order, _request(("L1", 1), return_label_fee=1001))
    assert (error.code, error.field) == ("DEDUCTIONS_EXCEED_REFUND", "request.return_label_fee")


# --- step A and per-unit splits (§3.2, §3.3) ------------------------------------------------


def test_order_discount_weights_are_gross_minus_line_discounts_of_the_original_order() -> None:
    lines = [
        _line("L1", quantity=2, unit_price=1000, discount_allocations=[{"amount": 1000}]),
        _line("L2", quantity=1, unit_price=1000, already_returned_quantity=0),
    ]
    order = _order(*lines, order_discounts=[{"amount": 301}, {"amount": 99}])
    plan = _plan(order, _request(("L2", 1)))
    # weights 1000/1000: 150.5/150.5 -> 151/150; 49.5/49.5 -> 50/49
    assert plan.to_breakdown()["order_discount_allocations"] == {"L1": 201, "L2": 199}
    assert plan.lines[0].discount == 199


def test_order_discount_allocation_does_not_change_after_a_first_return() -> None:
    first = _order(_line("L1", quantity=2), _line("L2"), order_discounts=[{"amount": 101}])
    second = _order(
        _line("L1", quantity=2, already_returned_quantity=1),
        _line("L2"),
        order_discounts=[{"amount": 101}],
    )
    a = _plan(first, _request(("L1", 1))).to_breakdown()
    b = _plan(second, _request(("L1", 1))).to_breakdown()
    assert (
        a["order_discount_allocations"] == b["order_discount_allocations"] == {"L1": 67, "L2": 34}
    )
    assert (a["lines"][0]["discount"], b["lines"][0]["discount"]) == (34, 33)


def test_known_component_refunds_are_absorbed_by_the_last_units() -> None:
    line = _line(
        quantity=3,
        unit_price=1000,
        already_returned_quantity=1,
        discount_allocations=[{"amount": 100, "already_refunded": 33}],
        tax_lines=[{"title": "T", "amount": 10, "already_refunded": 3}],
    )
    plan = _plan(_order(line), _request(("L1", 2)))
    assert (plan.lines[0].discount, plan.lines[0].tax) == (67, 7)  # S() would give 66 and 6
    partial = _plan(_order(line), _request(("L1", 1)))
    assert (partial.lines[0].discount, partial.lines[0].tax) == (33, 3)  # S(2) - S(1)


def test_free_gift_return_of_zero_value_is_not_an_error() -> None:
    order = _order(_line(unit_price=1000, discount_allocations=[{"amount": 1000}]))
    plan = _plan(order, _request(("L1", 1)))
    assert plan.total == 0


# --- currencies (§1, §3.9) ------------------------------------------------------------------


def _in(currency: str, *lines: tuple[str, int], **fields: Any) -> RefundRequest:
    return _request(*lines, **{"currency": currency, **fields})


def test_jpy_and_kwd_work_in_their_own_minor_units() -> None:
    jpy = _order(
        _line(quantity=3, unit_price=1000, tax_lines=[{"title": "JCT", "rate": "0.1"}]),
        currency="JPY",
    )
    assert _plan(jpy, _in("JPY", ("L1", 1))).lines[0].tax == 100
    kwd = _order(
        _line(quantity=3, unit_price=1001, tax_lines=[{"title": "VAT", "rate": "0.05"}]),
        currency="KWD",
    )
    # round(3003 * 0.05 = 150.15) = 150 -> 50 per unit
    assert _plan(kwd, _in("KWD", ("L1", 1))).lines[0].total == 1051


def _multi_currency(**fields: Any) -> Order:
    line = _line(
        quantity=2,
        unit_price=1000,
        unit_price_shop=1100,
        discount_allocations=[{"amount": 101, "amount_shop": 111}],
        tax_lines=[{"title": "T", "amount": 200, "amount_shop": 221}],
    )
    data: dict[str, Any] = {
        "currency": "EUR",
        "shop_currency": "USD",
        "amount_paid": 2099,
        "amount_paid_shop": 2310,
        "shipping_lines": [{"id": "S1", "price": 500, "price_shop": 550}],
        **fields,
    }
    return _order(line, **data)


def test_multi_currency_shop_figures_come_from_the_shop_twins() -> None:
    plan = _plan(_multi_currency(), _in("EUR", ("L1", 1), shipping={"mode": "full"}))
    presentment, shop = plan.to_breakdown(), plan.to_breakdown()["shop"]
    assert presentment["total"] == 1000 - 51 + 100 + 500
    assert shop["currency"] == "USD"
    assert shop["lines"][0] | {"tax_lines": None} == {
        "line_id": "L1",
        "quantity": 1,
        "gross": 1100,
        "discount": 56,
        "subtotal": 1044,
        "tax_lines": None,
        "tax": 111,
        "total": 1155,
    }
    assert shop["shipping"]["total"] == 550
    assert shop["total"] == 1705
    assert shop["cap"] == {"refundable_before": 2310, "refundable_after": 605}
    assert shop["tenders"] == [{"method": "original", "amount": 1705}]


def test_multi_currency_request_in_the_shop_currency_is_rejected() -> None:
    error = _error(_multi_currency(), _in("USD", ("L1", 1)))
    assert (error.code, error.field) == ("CURRENCY_MISMATCH", "request.currency")


def test_missing_shop_twins_are_converted_per_component_with_the_recorded_rate() -> None:
    line = _line(
        quantity=2,
        unit_price=1005,
        discount_allocations=[{"amount": 3}],
        tax_lines=[{"title": "T", "amount": 201}],
    )
    order = _order(
        line, currency="EUR", shop_currency="JPY", exchange_rate="160.5", amount_paid=2211
    )
    plan = _plan(order, _in("EUR", ("L1", 1), shipping={"mode": "none"}))
    shop = plan.to_breakdown()["shop"]
    # unit 10.05 EUR -> 1613.025 -> 1613 JPY; discount 0.03 -> 4.815 -> 5 -> 3/2;
    # tax 2.01 -> 322.605 -> 323 -> 162/161
    assert (shop["lines"][0]["gross"], shop["lines"][0]["discount"], shop["lines"][0]["tax"]) == (
        1613,
        3,
        162,
    )
    assert shop["total"] == 1613 - 3 + 162
    assert shop["cap"]["refundable_before"] == 3549  # 22.11 EUR * 160.5 = 3548.655 JPY


def test_multi_currency_order_without_twins_or_rate_cannot_be_planned() -> None:
    order = _order(_line(), currency="EUR", shop_currency="USD")
    with pytest.raises(DomainError) as caught:
        _plan(order, _in("EUR", ("L1", 1)))
    assert caught.value.code == "MISSING_SHOP_AMOUNT"


# --- validation: every error kind with its field, and the fixed order (§3.1) ----------------


_ORDER = _order(
    _line("L1", quantity=2),
    _line("L2", quantity=1, already_returned_quantity=1),
    shipping_lines=[{"id": "S1", "price": 500}],
    amount_paid=1500,
)


@pytest.mark.parametrize(
    ("request_fields", "code", "field"),
    [
        ({"currency": "EUR"}, "CURRENCY_MISMATCH", "request.currency"),
        ({"currency": None}, "CURRENCY_MISMATCH", "request.currency"),
        ({"lines": [{"line_id": "L9", "quantity": 1}]}, "UNKNOWN_LINE", "request.lines[0].line_id"),
        (
            {"lines": [{"line_id": "L1", "quantity": 1}, {"line_id": "L1", "quantity": 1}]},
            "DUPLICATE_LINE",
            "request.lines[1].line_id",
        ),
        (
            {"lines": [{"line_id": "L1", "quantity": 0}]},
            "INVALID_QUANTITY",
            "request.lines[0].quantity",
        ),
        (
            {"lines": [{"line_id": "L1", "quantity": -1}]},
            "INVALID_QUANTITY",
            "request.lines[0].quantity",
        ),
        (
            {"lines": [{"line_id": "L1", "quantity": 1.5}]},
            "INVALID_QUANTITY",
            "request.lines[0].quantity",
        ),
        (
            {"lines": [{"line_id": "L1", "quantity": "2"}]},
            "INVALID_QUANTITY",
            "request.lines[0].quantity",
        ),
        (
            {"lines": [{"line_id": "L1", "quantity": True}]},
            "INVALID_QUANTITY",
            "request.lines[0].quantity",
        ),
        (
            {"lines": [{"line_id": "L2", "quantity": 1}]},
            "QUANTITY_EXCEEDS_REMAINING",
            "request.lines[0].quantity",
        ),
        (
            {"shipping": {"mode": "amount", "amount": -1}},
            "NEGATIVE_AMOUNT",
            "request.shipping.amount",
        ),
        (
            {"shipping": {"mode": "amount", "amount": 1.5}},
            "INVALID_AMOUNT",
            "request.shipping.amount",
        ),
        (
            {"shipping": {"mode": "amount", "amount": "100"}},
            "INVALID_AMOUNT",
            "request.shipping.amount",
        ),
        ({"shipping": {"mode": "amount"}}, "INVALID_AMOUNT", "request.shipping.amount"),
        ({"return_label_fee": -5}, "NEGATIVE_AMOUNT", "request.return_label_fee"),
        ({"return_label_fee": 2.5}, "INVALID_AMOUNT", "request.return_label_fee"),
        (
            {"restocking_fee": {"type": "fixed", "amount": -1}},
            "NEGATIVE_AMOUNT",
            "request.restocking_fee.amount",
        ),
        (
            {"restocking_fee": {"type": "percent", "rate": "1.5"}},
            "INVALID_FEE",
            "request.restocking_fee.rate",
        ),
        (
            {"restocking_fee": {"type": "percent", "rate": 1.5}},
            "INVALID_FEE",
            "request.restocking_fee.rate",
        ),
        (
            {"restocking_fee": {"type": "percent", "rate": "-0.1"}},
            "INVALID_FEE",
            "request.restocking_fee.rate",
        ),
        (
            {"restocking_fee": {"type": "percent", "rate": "ten"}},
            "INVALID_FEE",
            "request.restocking_fee.rate",
        ),
        ({"restocking_fee": {"type": "percent"}}, "INVALID_FEE", "request.restocking_fee.rate"),
        ({"restocking_fee": {"type": "bogus"}}, "INVALID_FEE", "request.restocking_fee.type"),
        (
            {"shipping": {"mode": "amount", "amount": 501}},
            "SHIPPING_EXCEEDS_REMAINING",
            "request.shipping.amount",
        ),
        ({"lines": []}, "NOTHING_TO_REFUND", "request.lines"),
        (
            {"lines": [], "shipping": {"mode": "amount", "amount": 0}},
            "NOTHING_TO_REFUND",
            "request.lines",
        ),
        (
            {"restocking_fee": {"type": "fixed", "amount": 1001}},
            "DEDUCTIONS_EXCEED_REFUND",
            "request.restocking_fee",
        ),
        (
            {"lines": [{"line_id": "L1", "quantity": 2}], "shipping": {"mode": "full"}},
            "REFUND_EXCEEDS_CAPTURED",
            "total",
        ),
    ],
)
def test_every_error_kind_with_its_field(
    request_fields: dict[str, Any], code: str, field: str
) -> None:
    data: dict[str, Any] = {
        "currency": "USD",
        "lines": [{"line_id": "L1", "quantity": 1}],
        **request_fields,
    }
    error = _error(_ORDER, RefundRequest.model_validate(data))
    assert (error.code, error.field) == (code, field), error.message
    assert error.message


@pytest.mark.parametrize(
    ("request_fields", "code", "field"),
    [
        # currency is checked before lines
        (
            {"currency": "EUR", "lines": [{"line_id": "L9", "quantity": 0}]},
            "CURRENCY_MISMATCH",
            "request.currency",
        ),
        # lines in request order: line 0's bad quantity before line 1's unknown id
        (
            {"lines": [{"line_id": "L1", "quantity": 0}, {"line_id": "L9", "quantity": 1}]},
            "INVALID_QUANTITY",
            "request.lines[0].quantity",
        ),
        # for one line: duplicate (2b) before its quantity (2c)
        (
            {"lines": [{"line_id": "L1", "quantity": 1}, {"line_id": "L1", "quantity": 0}]},
            "DUPLICATE_LINE",
            "request.lines[1].line_id",
        ),
        # line checks before request amounts
        (
            {"lines": [{"line_id": "L1", "quantity": 3}], "return_label_fee": -1},
            "QUANTITY_EXCEEDS_REMAINING",
            "request.lines[0].quantity",
        ),
        # request amounts before shipping remaining
        (
            {"shipping": {"mode": "amount", "amount": 9999}, "return_label_fee": -1},
            "NEGATIVE_AMOUNT",
            "request.return_label_fee",
        ),
        # shipping remaining before nothing-to-refund
        (
            {"lines": [], "shipping": {"mode": "amount", "amount": 9999}},
            "SHIPPING_EXCEEDS_REMAINING",
            "request.shipping.amount",
        ),
        # deductions before the cap
        (
            {"lines": [{"line_id": "L1", "quantity": 2}], "return_label_fee": 999_999},
            "DEDUCTIONS_EXCEED_REFUND",
            "request.return_label_fee",
        ),
    ],
)
def test_validation_follows_the_fixed_order(
    request_fields: dict[str, Any], code: str, field: str
) -> None:
    data: dict[str, Any] = {
        "currency": "USD",
        "lines": [{"line_id": "L1", "quantity": 1}],
        **request_fields,
    }
    error = _error(_ORDER, RefundRequest.model_validate(data))
    assert (error.code, error.field) == (code, field), error.message


def test_shipping_mode_full_alone_is_something_to_refund() -> None:
    plan = _plan(_ORDER, _request(shipping={"mode": "full"}))
    assert plan.total == 500


@pytest.mark.parametrize(
    ("request_fields", "code", "field"),
    [
        ({"lines": None}, "NOTHING_TO_REFUND", "request.lines"),
        ({"lines": ["L1"]}, "INVALID_QUANTITY", "request.lines[0].quantity"),
        ({"shipping": None, "restocking_fee": 5}, "INVALID_FEE", "request.restocking_fee.type"),
        ({"shipping": "sometimes"}, "INVALID_AMOUNT", "request.shipping.mode"),
        ({"refund_duties": "most"}, "INVALID_AMOUNT", "request.refund_duties"),
        ({"refund_method": "cash"}, "INVALID_AMOUNT", "request.refund_method"),
    ],
)
def test_malformed_requests_parse_and_are_reported_by_the_planner(
    request_fields: dict[str, Any], code: str, field: str
) -> None:
    data: dict[str, Any] = {"currency": "USD", **request_fields}
    error = _error(_ORDER, RefundRequest.model_validate(data))
    assert (error.code, error.field) == (code, field), error.message


def test_payments_that_cannot_take_the_refund_back_are_reported() -> None:
    order = _order(
        _line(unit_price=1500), amount_paid=4000, payments=[{"id": "P1", "amount": 1000}]
    )
    error = _error(order, _request(("L1", 1)))
    assert (error.code, error.field) == ("REFUND_EXCEEDS_CAPTURED", "order.payments")


def test_shop_tenders_mirror_the_presentment_tenders() -> None:
    order = _multi_currency(
        payments=[
            {"id": "P1", "method": "card", "amount": 1599},
            {"id": "P2", "method": "gift_card", "amount": 500},
        ]
    )
    plan = _plan(order, _in("EUR", ("L1", 1), shipping={"mode": "full"}))
    presentment = plan.to_breakdown()["tenders"]
    shop = plan.to_breakdown()["shop"]["tenders"]
    assert [t["payment_id"] for t in presentment] == [t["payment_id"] for t in shop] == ["P2", "P1"]
    assert sum(t["amount"] for t in shop) == plan.to_breakdown()["shop"]["total"]
