"""Property tests of the refund planner (refund-math §0 point 15, §3.3, §3.8, §4).

Orders are generated with random lines, line and order-level discounts, recorded and
rate-derived tax lines, duties, shipping, both tax modes and currencies with exponents 0, 2, 3.
What the customer was charged is computed here independently of the planner.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from returnbridge.domain.allocation import largest_remainder
from returnbridge.domain.money import Rounding
from returnbridge.domain.orders import Order
from returnbridge.domain.refunds import (
    RefundError,
    RefundPlan,
    RefundPolicy,
    RefundRequest,
    plan_refund,
)

RATES = ["0.05", "0.0825", "0.1", "0.19", "0.07"]
PROFILE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _half_up(value: Fraction) -> int:
    """Round a non-negative rational half away from zero (independent of money.py)."""
    return int(value + Fraction(1, 2))


@st.composite
def _lines(draw: st.DrawFn) -> list[dict[str, Any]]:
    lines = []
    for index in range(draw(st.integers(min_value=1, max_value=4))):
        quantity = draw(st.integers(min_value=1, max_value=6))
        unit_price = draw(st.integers(min_value=0, max_value=40_000))
        gross = unit_price * quantity
        discounts = []
        left = gross
        for _ in range(draw(st.integers(min_value=0, max_value=2))):
            amount = draw(st.integers(min_value=0, max_value=left))
            left -= amount
            discounts.append({"amount": amount, "level": draw(st.sampled_from(["line", "order"]))})
        taxes = []
        for t in range(draw(st.integers(min_value=0, max_value=2))):
            rate = draw(st.sampled_from(RATES))
            recorded = draw(st.booleans())
            amount = draw(st.integers(min_value=0, max_value=9_000)) if recorded else None
            taxes.append({"title": f"tax{t}", "rate": rate, "amount": amount})
        duties = [
            {"amount": draw(st.integers(min_value=0, max_value=5_000))}
            for _ in range(draw(st.integers(min_value=0, max_value=1)))
        ]
        lines.append(
            {
                "id": f"L{index + 1}",
                "quantity": quantity,
                "unit_price": unit_price,
                "discount_allocations": discounts,
                "tax_lines": taxes,
                "duties": duties,
            }
        )
    return lines


@st.composite
def orders(draw: st.DrawFn) -> Order:
    """A consistent order: `amount_paid` is exactly what the customer was charged."""
    currency = draw(st.sampled_from(["JPY", "USD", "KWD"]))
    included = draw(st.booleans())
    lines = draw(_lines())
    weights = [
        max(
            line["unit_price"] * line["quantity"]
            - sum(d["amount"] for d in line["discount_allocations"] if d["level"] == "line"),
            0,
        )
        for line in lines
    ]
    room = min(
        line["unit_price"] * line["quantity"]
        - sum(d["amount"] for d in line["discount_allocations"])
        for line in lines
    )
    order_discounts = []
    if sum(weights) > 0 and room > 0:
        for _ in range(draw(st.integers(min_value=0, max_value=2))):
            order_discounts.append({"amount": draw(st.integers(min_value=0, max_value=room // 3))})
    shipping = []
    for index in range(draw(st.integers(min_value=0, max_value=2))):
        price = draw(st.integers(min_value=0, max_value=3_000))
        shipping.append(
            {
                "id": f"S{index + 1}",
                "price": price,
                "discount": draw(st.integers(min_value=0, max_value=price)),
                "tax_lines": [
                    {"title": "ship", "amount": draw(st.integers(min_value=0, max_value=400))}
                    for _ in range(draw(st.integers(min_value=0, max_value=2)))
                ],
            }
        )
    order: dict[str, Any] = {
        "id": "O",
        "currency": currency,
        "taxes_included": included,
        "line_items": lines,
        "order_discounts": order_discounts,
        "shipping_lines": shipping,
        "amount_paid": 0,
    }
    order["amount_paid"] = _charged(order)
    return Order.model_validate(order)


def _charged_taxes(order: dict[str, Any]) -> list[int]:
    """Every line's tax as charged: recorded amounts, or derived once from the rate (§3.4)."""
    allocations = [
        largest_remainder(
            d["amount"],
            [
                max(
                    line["unit_price"] * line["quantity"]
                    - sum(
                        a["amount"] for a in line["discount_allocations"] if a["level"] == "line"
                    ),
                    0,
                )
                for line in order["line_items"]
            ],
        )
        for d in order["order_discounts"]
    ]
    taxes = []
    for index, line in enumerate(order["line_items"]):
        net = line["unit_price"] * line["quantity"]
        net -= sum(a["amount"] for a in line["discount_allocations"])
        net -= sum(shares[index] for shares in allocations)
        rates = sum((Fraction(t["rate"]) for t in line["tax_lines"]), Fraction(0))
        total = 0
        for tax in line["tax_lines"]:
            if tax["amount"] is not None:
                total += tax["amount"]
            elif order["taxes_included"]:
                total += _half_up(net * Fraction(tax["rate"]) / (1 + rates))
            else:
                total += _half_up(net * Fraction(tax["rate"]))
        taxes.append(total)
    return taxes


def _charged(order: dict[str, Any]) -> int:
    lines = sum(
        line["unit_price"] * line["quantity"]
        - sum(d["amount"] for d in line["discount_allocations"])
        + sum(d["amount"] for d in line["duties"])
        for line in order["line_items"]
    ) - sum(d["amount"] for d in order["order_discounts"])
    shipping = sum(s["price"] - s["discount"] for s in order["shipping_lines"])
    if order["taxes_included"]:
        return lines + shipping
    ship_tax = sum(t["amount"] for s in order["shipping_lines"] for t in s["tax_lines"])
    return lines + shipping + sum(_charged_taxes(order)) + ship_tax


def _request(order: Order, quantities: dict[str, int], **fields: Any) -> RefundRequest:
    lines = [{"line_id": k, "quantity": q} for k, q in quantities.items() if q > 0]
    return RefundRequest.model_validate({"currency": order.currency, "lines": lines, **fields})


def _everything(order: Order) -> RefundRequest:
    remaining = {
        line.id: line.quantity - line.already_returned_quantity for line in order.line_items
    }
    return _request(order, remaining, shipping={"mode": "full"}, refund_duties="full")


def _check_invariants(plan: RefundPlan) -> None:
    """§4: subtotal = gross − discount; the total adds up; tenders pay it; 0 ≤ total ≤ cap."""
    out = plan.to_breakdown()
    for line in out["lines"]:
        assert line["subtotal"] == line["gross"] - line["discount"]
        assert 0 <= line["discount"] <= line["gross"], "a unit worth less than nothing (§3.3)"
        assert line["tax"] == sum(t["amount"] for t in line["tax_lines"])
    lines_total = sum(line["total"] for line in out["lines"])
    assert out["total"] == (
        lines_total + out["shipping"]["total"] + out["fees"]["total"] + out["cap_adjustment"]
    )
    assert sum(t["amount"] for t in out["tenders"]) == out["total"]
    assert 0 <= out["total"] <= out["cap"]["refundable_before"]
    assert out["cap"]["refundable_after"] == out["cap"]["refundable_before"] - out["total"]


@PROFILE
@given(order=orders(), mode=st.sampled_from(list(Rounding)))
def test_returning_every_unit_and_all_shipping_refunds_exactly_what_was_charged(
    order: Order, mode: Rounding
) -> None:
    plan = plan_refund(order, _everything(order), policy=RefundPolicy(rounding=mode))
    _check_invariants(plan)
    if mode is Rounding.HALF_UP:  # the independent charge computation rounds HALF_UP
        assert plan.total == order.amount_paid
        assert plan.to_breakdown()["cap"]["refundable_after"] == 0
    expected_tax = _charged_taxes(order.model_dump(mode="json"))
    if mode is Rounding.HALF_UP:
        assert [line.tax for line in plan.lines] == expected_tax
    assert plan.to_breakdown()["items_subtotal"] == sum(
        line.unit_price * line.quantity - sum(d.amount for d in line.discount_allocations)
        for line in order.line_items
    ) - sum(d.amount for d in order.order_discounts)


@st.composite
def _random_requests(draw: st.DrawFn, order: Order) -> RefundRequest:
    quantities = {
        line.id: draw(st.integers(min_value=0, max_value=line.quantity))
        for line in order.line_items
    }
    left = sum(s.price - s.discount for s in order.shipping_lines)
    shipping = draw(
        st.sampled_from(
            [
                {"mode": "none"},
                {"mode": "full"},
                {"mode": "amount", "amount": draw(st.integers(0, left))},
            ]
        )
    )
    fields: dict[str, Any] = {"shipping": shipping}
    if draw(st.booleans()):
        fields["restocking_fee"] = draw(
            st.sampled_from(
                [
                    {"type": "percent", "rate": draw(st.sampled_from(["0", "0.1", "0.15", "1"]))},
                    {"type": "fixed", "amount": draw(st.integers(0, 2_000))},
                ]
            )
        )
    if draw(st.booleans()):
        fields["return_label_fee"] = draw(st.integers(0, 1_000))
    fields["refund_duties"] = draw(st.sampled_from(["none", "proportional", "full"]))
    return _request(order, quantities, **fields)


@PROFILE
@given(
    order=orders(),
    data=st.data(),
    paid_cut=st.integers(min_value=0, max_value=5_000),
    policy=st.sampled_from(
        [
            RefundPolicy(on_cap_exceeded="reject"),
            RefundPolicy(on_cap_exceeded="clamp"),
            RefundPolicy(rounding=Rounding.HALF_EVEN, on_cap_exceeded="clamp"),
        ]
    ),
)
def test_no_plan_exceeds_the_refundable_cap(
    order: Order, data: st.DataObject, paid_cut: int, policy: RefundPolicy
) -> None:
    order = order.model_copy(update={"already_refunded_amount": min(paid_cut, order.amount_paid)})
    request = data.draw(_random_requests(order))
    try:
        plan: RefundPlan | None = plan_refund(order, request, policy=policy)
        code = None
    except RefundError as error:
        plan, code = None, error.code
    if plan is None:
        allowed = {"NOTHING_TO_REFUND", "DEDUCTIONS_EXCEED_REFUND"}
        if policy.on_cap_exceeded == "reject":
            allowed.add("REFUND_EXCEEDS_CAPTURED")
        assert code in allowed
        return
    _check_invariants(plan)
    assert plan.total <= order.amount_paid - order.already_refunded_amount


def _after(
    order: Order, plan: RefundPlan, quantities: dict[str, int], *, components: bool
) -> Order:
    """Feed a refund back into the snapshot, as a fresh order read would show it."""
    returned = {line.line_id: line for line in plan.lines}
    lines = []
    for line in order.line_items:
        update: dict[str, Any] = {
            "already_returned_quantity": line.already_returned_quantity + quantities.get(line.id, 0)
        }
        refund = returned.get(line.id)
        if refund is not None and refund.duties is not None:
            # duties are tracked per duty by the platform; `full` relies on it (§3.5)
            (duty,) = line.duties
            done = (duty.already_refunded or 0) + refund.duties
            update["duties"] = (duty.model_copy(update={"already_refunded": done}),)
        if components and refund is not None:
            update["tax_lines"] = tuple(
                tax.model_copy(
                    update={"already_refunded": (tax.already_refunded or 0) + share.amount}
                )
                for tax, share in zip(line.tax_lines, refund.tax_lines, strict=True)
            )
        lines.append(line.model_copy(update=update))
    shipped = {s.shipping_line_id: s for s in plan.shipping.lines}
    shipping = []
    for ship in order.shipping_lines:
        done = shipped.get(ship.id)
        update = {}
        if done is not None:
            update = {
                "already_refunded": ship.already_refunded + done.amount,
                "already_refunded_tax": ship.already_refunded_tax + done.tax,
            }
        shipping.append(ship.model_copy(update=update))
    return order.model_copy(
        update={
            "line_items": tuple(lines),
            "shipping_lines": tuple(shipping),
            "already_refunded_amount": order.already_refunded_amount + plan.total,
        }
    )


@PROFILE
@given(
    order=orders(),
    data=st.data(),
    duties=st.sampled_from(["proportional", "full"]),
    components=st.booleans(),
)
def test_partial_returns_in_sequence_refund_exactly_what_one_full_return_would(
    order: Order, data: st.DataObject, duties: str, components: bool
) -> None:
    policy = RefundPolicy()
    whole = plan_refund(
        order,
        _request(
            order,
            {line.id: line.quantity for line in order.line_items},
            shipping={"mode": "full"},
            refund_duties=duties,
        ),
        policy=policy,
    )
    steps = data.draw(st.integers(min_value=1, max_value=3))
    snapshot, refunded, tax, discount = order, 0, 0, 0
    for step in range(steps):
        last = step == steps - 1
        quantities = {
            line.id: (
                line.quantity - line.already_returned_quantity
                if last
                else data.draw(st.integers(0, line.quantity - line.already_returned_quantity))
            )
            for line in snapshot.line_items
        }
        request = _request(
            snapshot,
            quantities,
            shipping={"mode": "full" if last else "none"},
            refund_duties=duties,
        )
        if not request.lines and not last:
            continue  # nothing returned in this step (NOTHING_TO_REFUND)
        plan = plan_refund(snapshot, request, policy=policy)
        _check_invariants(plan)
        refunded += plan.total
        tax += plan.to_breakdown()["tax_total"]
        discount += sum(line.discount for line in plan.lines)
        assert refunded <= whole.total
        snapshot = _after(snapshot, plan, quantities, components=components)
    assert refunded == whole.total
    assert tax == whole.to_breakdown()["tax_total"]
    assert discount == sum(line.discount for line in whole.lines)
