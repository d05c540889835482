"""Turning a return and a plan into the platform refund: restock kinds, tenders, cross-check."""

from __future__ import annotations

from returnbridge.connectors.base.connector import (
    PlatformRefund,
    RefundedLine,
    SuggestedLine,
    SuggestedRefund,
)
from returnbridge.domain.matching import resolve_lines
from returnbridge.domain.orders import Duty, Order, OrderLine, Payment, ShippingLine, TaxLine
from returnbridge.domain.refunds import RefundPlan, RefundPolicy, plan_refund
from returnbridge.domain.returns import CanonicalReturn
from returnbridge.engine import refund_commands as rc


def order(*, fulfilled: int | None = None, returned: int = 0) -> Order:
    return Order(
        id="gid://shopify/Order/1",
        currency="USD",
        amount_paid=4_000,
        payments=(Payment(id="gid://shopify/OrderTransaction/9", gateway="bogus", amount=4_000),),
        line_items=(
            OrderLine(
                id="L1",
                sku="MUG",
                quantity=3,
                unit_price=1_200,
                tax_lines=(TaxLine(title="Tax", amount=150),),
                fulfilled_quantity=fulfilled,
                already_returned_quantity=returned,
            ),
        ),
        shipping_lines=(ShippingLine(id="S1", price=250),),
    )


def canonical(**body: object) -> CanonicalReturn:
    event: dict[str, object] = {
        "external_id": "X-1",
        "order": {"order_number": "#1"},
        "lines": [{"sku": "MUG", "quantity": 3}],
    }
    event.update(body)
    return CanonicalReturn.model_validate(event)


def plan_for(the_order: Order, ret: CanonicalReturn) -> RefundPlan:
    resolved = resolve_lines(the_order, ret.lines)
    return plan_refund(
        the_order, rc.refund_request(ret, the_order, resolved), policy=RefundPolicy()
    )


def test_refund_key_is_fixed_by_return_and_revision() -> None:
    assert rc.refund_key("ret_1", 2) == rc.refund_key("ret_1", 2) == "rb-ret_1-2-1"


def test_shipped_units_return_to_the_location_and_unshipped_ones_are_cancelled() -> None:
    choice = rc.RestockChoice(restock=True, location_id="gid://shopify/Location/2")
    commands = rc.line_commands(order(fulfilled=2), {"L1": 3}, choice=choice)
    assert [(c.restock, c.quantity, c.location_id) for c in commands] == [
        ("return", 2, "gid://shopify/Location/2"),
        ("cancel", 1, "gid://shopify/Location/2"),
    ]


def test_units_already_returned_count_against_the_shipped_ones() -> None:
    choice = rc.RestockChoice(restock=True, location_id="loc")
    commands = rc.line_commands(order(fulfilled=2, returned=2), {"L1": 1}, choice=choice)
    assert [(c.restock, c.quantity) for c in commands] == [("cancel", 1)]


def test_refund_only_restocks_nothing() -> None:
    commands = rc.line_commands(
        order(), {"L1": 2}, choice=rc.RestockChoice(restock=False, location_id="loc")
    )
    assert [(c.restock, c.quantity) for c in commands] == [("none", 2)]


def test_command_carries_plan_tenders_and_full_shipping() -> None:
    the_order = order()
    ret = canonical(refund={"shipping": {"mode": "full"}})
    plan = plan_for(the_order, ret)
    command = rc.refund_command(
        plan,
        the_order,
        quantities=rc.merged_quantities(resolve_lines(the_order, ret.lines)),
        key="rb-ret_1-1-1",
        note=rc.refund_note("rb-ret_1-1-1", ret),
        choice=rc.RestockChoice(restock=True, location_id="loc"),
        shipping_mode="full",
    )
    assert command.shipping_full
    assert command.expected_total == 3 * 1_200 + 150 + 250
    assert [(t.amount, t.parent_id) for t in command.tenders] == [
        (4_000, "gid://shopify/OrderTransaction/9")
    ]
    assert command.note is not None
    assert command.note.startswith("returnbridge rb-ret_1-1-1 ")


def test_goods_only_command_moves_no_money() -> None:
    command = rc.refund_command(
        None,
        order(),
        quantities={"L1": 1},
        key="k",
        note="n",
        choice=rc.RestockChoice(restock=True, location_id="loc"),
        shipping_mode="none",
    )
    assert command.tenders == ()
    assert command.expected_total == 0


def test_any_cent_of_disagreement_is_reported() -> None:
    the_order = order()
    ret = canonical(lines=[{"sku": "MUG", "quantity": 1}])
    plan = plan_for(the_order, ret)
    agreeing = SuggestedRefund(
        currency="USD",
        lines=(SuggestedLine(line_id="L1", quantity=1, subtotal=1_200, tax=50),),
    )  # fmt: skip
    assert rc.disagreements(plan, agreeing) == []
    off = agreeing.model_copy(
        update={"lines": (SuggestedLine(line_id="L1", quantity=1, subtotal=1_200, tax=51),)}
    )
    assert rc.disagreements(plan, off) == ["line L1: tax ours 50 platform 51"]


def full_command(fee: dict[str, object] | None = None) -> rc.RefundCommand:
    the_order = order()
    body: dict[str, object] = {"shipping": {"mode": "full"}}
    if fee is not None:
        body["restocking_fee"] = fee
    ret = canonical(refund=body)
    plan = plan_for(the_order, ret)
    return rc.refund_command(
        plan,
        the_order,
        quantities=rc.merged_quantities(resolve_lines(the_order, ret.lines)),
        key="k",
        note="n",
        choice=rc.RestockChoice(restock=True, location_id="loc"),
        shipping_mode="full",
    )


def test_the_command_carries_the_plans_money_to_the_minor_unit() -> None:
    command = full_command(fee={"type": "percent", "rate": "0.10"})
    money = command.money
    assert money is not None
    [line] = money.lines
    assert (line.line_id, line.quantity, line.subtotal, line.tax) == ("L1", 3, 3_600, 150)
    assert [(t.title, t.amount) for t in line.taxes] == [("Tax", 150)]
    assert [(s.shipping_line_id, s.amount, s.tax) for s in money.shipping] == [("S1", 250, 0)]
    assert money.fees < 0
    parts = sum(ln.subtotal + ln.tax + ln.duties for ln in money.lines)
    parts += money.shipping_amount + money.shipping_tax + money.fees + money.adjustment
    assert parts == money.total == command.expected_total


def test_a_goods_only_command_carries_no_money() -> None:
    command = rc.refund_command(
        None, order(), quantities={"L1": 1}, key="k", note="n",
        choice=rc.RestockChoice(restock=True, location_id="loc"), shipping_mode="none",
    )  # fmt: skip
    assert command.money is None


def recorded(total: int, **fields: object) -> PlatformRefund:
    return PlatformRefund(id="R1", order_id="O1", currency="USD", total=total, **fields)


def test_a_refund_recorded_as_planned_shows_no_difference() -> None:
    money = full_command().money
    assert money is not None
    same = recorded(
        money.total,
        lines=(RefundedLine(line_id="L1", quantity=3, subtotal=3_600, tax=150),),
        shipping=250,
    )
    assert rc.recorded_differences(money, same) == []
    assert rc.recorded_differences(money, recorded(money.total)) == []  # figures not stated


def test_every_cent_the_platform_recorded_differently_is_named() -> None:
    money = full_command().money
    assert money is not None
    off = recorded(
        money.total - 1,
        lines=(RefundedLine(line_id="L1", quantity=3, subtotal=3_599, tax=151),),
        shipping=249,
    )
    assert rc.recorded_differences(money, off) == [
        f"total: planned {money.total}, platform recorded {money.total - 1}",
        "line L1: subtotal planned 3600, recorded 3599",
        "line L1: tax planned 150, recorded 151",
        "shipping: planned 250, recorded 249",
    ]


def test_tolerance_forgives_small_differences_but_never_quantities() -> None:
    the_order = order()
    ret = canonical(lines=[{"sku": "MUG", "quantity": 1}])
    plan = plan_for(the_order, ret)
    off_by_two = SuggestedRefund(
        currency="USD",
        lines=(SuggestedLine(line_id="L1", quantity=1, subtotal=1_202, tax=50),),
    )
    assert rc.disagreements(plan, off_by_two, tolerance=2) == []
    assert rc.disagreements(plan, off_by_two, tolerance=1) == [
        "line L1: subtotal ours 1200 platform 1202"
    ]
    more_units = off_by_two.model_copy(
        update={"lines": (SuggestedLine(line_id="L1", quantity=2, subtotal=1_200, tax=50),)}
    )
    assert rc.disagreements(plan, more_units, tolerance=10_000) == [
        "line L1: quantity ours 1 platform 2"
    ]


def test_platform_lines_we_do_not_refund_and_stated_duties_count() -> None:
    the_order = order()
    ret = canonical(lines=[{"sku": "MUG", "quantity": 1}])
    plan = plan_for(the_order, ret)
    extra = SuggestedRefund(
        currency="USD",
        lines=(
            SuggestedLine(line_id="L1", quantity=1, subtotal=1_200, tax=50),
            SuggestedLine(line_id="L9", quantity=1, subtotal=300, tax=0),
        ),
        duties=40,
    )
    assert rc.disagreements(plan, extra) == [
        "line L9: platform refunds a line we do not",
        "duties: ours 0 platform 40",
    ]
    shown = rc.suggestion_breakdown(extra)
    assert shown["total"] == 1_200 + 50 + 300 + 40
    assert [line["line_id"] for line in shown["lines"]] == ["L1", "L9"]


def _dutiable() -> Order:
    base = order()
    (line,) = base.line_items
    dutied = line.model_copy(update={"duties": (Duty(id="gid://shopify/Duty/5", amount=90),)})
    return base.model_copy(update={"line_items": (dutied,), "amount_paid": 4_090})


def test_duties_are_refunded_by_their_id_as_the_return_asks() -> None:
    the_order = _dutiable()
    for mode, share in (("proportional", 30), ("full", 90)):
        ret = canonical(lines=[{"sku": "MUG", "quantity": 1}], refund={"duties": mode})
        plan = plan_for(the_order, ret)
        assert plan.lines[0].duties == share
        command = rc.refund_command(
            plan,
            the_order,
            quantities={"L1": 1},
            key="k",
            note="n",
            choice=rc.RestockChoice(restock=False, location_id=None),
            shipping_mode="none",
            duties_mode=mode,
        )
        assert [(d.duty_id, d.refund_type) for d in command.duties] == [
            ("gid://shopify/Duty/5", mode)
        ]
        assert command.money is not None
        assert command.money.lines[0].duties == share


def test_no_duties_are_sent_unless_the_return_asks_for_them() -> None:
    the_order = _dutiable()
    ret = canonical(lines=[{"sku": "MUG", "quantity": 1}])
    plan = plan_for(the_order, ret)
    assert plan.presentment.duties == 0
    assert rc.duty_commands(plan, the_order, "none") == ()
