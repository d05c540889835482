"""The refund request body: amounts from the plan, tax per rate id, checked before sending."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from returnbridge.connectors.base.connector import (
    LineMoney,
    RefundCommand,
    RefundLineCommand,
    RefundMoney,
    RestockKind,
    ShippingMoney,
    TaxAmount,
)
from returnbridge.connectors.woocommerce.refunds import rate_taxes, refund_body
from returnbridge.domain.errors import PermanentError, Rejected
from returnbridge.domain.orders import Order, OrderLine, ShippingLine, TaxLine


def order(*, inclusive: bool = False, returned: int = 0) -> Order:
    """Line 11 (3 units, state 7 + county 8 taxes), shipping line 12 with the same rates."""
    return Order(
        id="10",
        currency="EUR",
        taxes_included=inclusive,
        amount_paid=10_000,
        line_items=(
            OrderLine(
                id="11",
                quantity=3,
                unit_price=2000,
                tax_lines=(
                    TaxLine(title="State", id="7", amount=480),
                    TaxLine(title="County", id="8", amount=120),
                ),
                already_returned_quantity=returned,
            ),
        ),
        shipping_lines=(
            ShippingLine(
                id="12",
                price=1000,
                tax_lines=(
                    TaxLine(title="State", id="7", amount=80),
                    TaxLine(title="County", id="8", amount=20, already_refunded=20),
                ),
            ),
        ),
    )


def command(
    *,
    quantity: int = 1,
    taxes: tuple[TaxAmount, ...] = (
        TaxAmount(title="State", amount=160, tax_id="7"),
        TaxAmount(title="County", amount=40, tax_id="8"),
    ),
    shipping: tuple[ShippingMoney, ...] = (),
    restock: RestockKind = "return",
    **money: Any,
) -> RefundCommand:
    line_tax = sum(t.amount for t in taxes)
    parts = 2000 + line_tax + sum(s.amount + s.tax for s in shipping)
    figures = {"total": parts, **money}
    return RefundCommand(
        order_id="10",
        currency="EUR",
        idempotency_key="rb-r-1-1",
        lines=(RefundLineCommand(line_id="11", quantity=quantity, restock=restock),),
        note="returnbridge rb-r-1-1 (return R)",
        money=RefundMoney(
            lines=(
                LineMoney(
                    line_id="11", quantity=quantity, subtotal=2000, taxes=taxes, tax=line_tax
                ),
            ),
            shipping=shipping,
            **figures,
        ),
    )


def added(body: dict[str, Any]) -> Decimal:
    return sum(
        (
            Decimal(item["refund_total"])
            + sum((Decimal(t["refund_total"]) for t in item["refund_tax"]), Decimal(0))
            for item in body["line_items"]
        ),
        Decimal(0),
    )


def test_a_line_refund_names_its_rates_and_adds_up() -> None:
    body = refund_body(command(), order(), api_refund=True)
    assert body["amount"] == "22.00" == str(added(body))
    assert body["line_items"] == [
        {
            "id": 11,
            "quantity": 1,
            "refund_total": "20.00",
            "refund_tax": [{"id": 7, "refund_total": "1.60"}, {"id": 8, "refund_total": "0.40"}],
        }
    ]
    assert (body["api_refund"], body["api_restock"], body["reason"]) == (
        True,
        True,
        "returnbridge rb-r-1-1 (return R)",
    )
    assert body["meta_data"] == [
        {"key": "_returnbridge_key", "value": "rb-r-1-1"},
        {"key": "_returnbridge_restock", "value": "yes"},
    ]


def test_shipping_tax_is_split_over_what_each_rate_has_left() -> None:
    """County's shipping tax is already refunded: all 0.33 of tax goes to the state rate."""
    shipping = (ShippingMoney(shipping_line_id="12", amount=333, tax=33),)
    body = refund_body(command(shipping=shipping), order(), api_refund=True)
    assert body["line_items"][1] == {
        "id": 12,
        "quantity": 0,
        "refund_total": "3.33",
        "refund_tax": [{"id": 7, "refund_total": "0.33"}],
    }
    assert Decimal(body["amount"]) == added(body)


def test_rate_taxes_split_by_largest_remainder_and_by_title() -> None:
    rates = (TaxLine(title="A", id="1", amount=80), TaxLine(title="B", id="2", amount=20))
    assert rate_taxes((), 33, rates, what="x") == {"1": 26, "2": 7}
    by_title = (TaxAmount(title="B", amount=5), TaxAmount(title="A", amount=10, tax_id="1"))
    assert rate_taxes(by_title, 15, rates, what="x") == {"2": 5, "1": 10}
    with pytest.raises(PermanentError, match="no tax rate"):
        rate_taxes((), 5, (), what="x")
    with pytest.raises(PermanentError) as unbalanced:
        rate_taxes((TaxAmount(title="A", amount=3, tax_id="1"),), 4, rates, what="x")
    assert unbalanced.value.code == "REFUND_NOT_BALANCED"


def test_prices_with_tax_send_the_amount_without_tax() -> None:
    taxes = (TaxAmount(title="State", amount=160, tax_id="7"),)
    inclusive = RefundCommand(
        order_id="10",
        currency="EUR",
        idempotency_key="k",
        lines=(RefundLineCommand(line_id="11", quantity=1, restock="none"),),
        money=RefundMoney(
            lines=(LineMoney(line_id="11", quantity=1, subtotal=2000, taxes=taxes, tax=160),),
            total=2000,
        ),
    )
    body = refund_body(inclusive, order(inclusive=True), api_refund=True)
    assert body["line_items"][0]["refund_total"] == "18.40"
    assert body["amount"] == "20.00" == str(added(body))
    assert body["api_restock"] is False
    assert body["reason"] == "returnbridge k"


def test_fees_make_the_amount_smaller_than_the_lines() -> None:
    body = refund_body(command(fees=-300, total=1900), order(), api_refund=True)
    assert (body["amount"], added(body)) == ("19.00", Decimal("22.00"))


def test_unbalanced_money_is_refused() -> None:
    with pytest.raises(PermanentError) as refused:
        refund_body(command(total=2201), order(), api_refund=True)
    assert refused.value.code == "REFUND_NOT_BALANCED"


@pytest.mark.parametrize(("quantity", "returned"), [(4, 0), (3, 1), (-1, 0)])
def test_more_units_than_remain_are_rejected(quantity: int, returned: int) -> None:
    with pytest.raises(Rejected) as refused:
        refund_body(command(quantity=quantity), order(returned=returned), api_refund=True)
    assert refused.value.code == "QUANTITY_EXCEEDS_REMAINING"


def test_unknown_lines_are_rejected() -> None:
    unknown = command().model_copy(update={"lines": (RefundLineCommand(line_id="99", quantity=1),)})
    with pytest.raises(Rejected, match="no line item 99"):
        refund_body(unknown, order(), api_refund=True)
    shipping = (ShippingMoney(shipping_line_id="98", amount=100),)
    with pytest.raises(Rejected, match="no shipping line 98"):
        refund_body(command(shipping=shipping), order(), api_refund=True)


def test_goods_only_restocks_with_no_money_and_no_gateway() -> None:
    goods = RefundCommand(
        order_id="10",
        currency="EUR",
        idempotency_key="k",
        lines=(RefundLineCommand(line_id="11", quantity=2, restock="return"),),
    )
    body = refund_body(goods, order(), api_refund=True)
    assert (body["amount"], body["api_refund"], body["api_restock"]) == ("0.00", False, True)
    assert body["line_items"] == [
        {"id": 11, "quantity": 2, "refund_total": "0.00", "refund_tax": []}
    ]


def test_split_lines_of_one_item_are_sent_once() -> None:
    split = command().model_copy(
        update={
            "lines": (
                RefundLineCommand(line_id="11", quantity=1, restock="return"),
                RefundLineCommand(line_id="11", quantity=1, restock="cancel"),
            )
        }
    )
    body = refund_body(split, order(), api_refund=True)
    assert [(i["id"], i["quantity"]) for i in body["line_items"]] == [(11, 2)]
