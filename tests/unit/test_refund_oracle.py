"""The refund planner against an independent oracle (`tests/support/refund_oracle.py`).

Hypothesis generates orders in JPY, USD, EUR and KWD, single- or multi-currency (shop twins on
every field, on none of them with only the exchange rate, or on some), with stacked and free
line discounts, unallocated order discounts, recorded and rate-only taxes, duties, several
shipping lines and tenders, and then a sequence of refund requests, some of them invalid. Each
refund the oracle accepts is applied to the snapshot before the next one is planned. Every step
compares the planner's whole §4 breakdown, or its error code, with the oracle's.
"""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from returnbridge.domain.errors import DomainError
from returnbridge.domain.money import Rounding
from returnbridge.domain.orders import Order
from returnbridge.domain.refunds import RefundPolicy, RefundRequest, plan_refund
from support import refund_oracle as oracle

Json = dict[str, Any]

CASE_FILES = sorted((Path(__file__).resolve().parents[1] / "data").glob("refund_cases*.json"))
CURRENCIES = {"JPY": 0, "USD": 2, "EUR": 2, "KWD": 3}
PRICE_MAX = {0: 20_000, 2: 20_000, 3: 60_000}
TAX_RATES = ["0.05", "0.0825", "0.1", "0.19", "0.2", "0.125"]
FEE_RATES = ["0", "0.1", "0.125", "0.15", "0.333", "1"]
# Shop minor units per presentment minor unit; halves make conversion ties.
FX = ["0.5", "1.5", "1.25", "0.67", "0.9231", "2.0037", "1"]
CLOSED_AND_OPEN = ["gift_card", "store_credit", "card", "paypal"]
PROFILE = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- comparing ------------------------------------------------------------------------------


def _planner(order: Json, request: Json, policy: Json) -> Json | str:
    """The planner's breakdown, or the code of the DomainError it raises."""
    rules = RefundPolicy(
        rounding=Rounding(policy["rounding"]), on_cap_exceeded=policy["on_cap_exceeded"]
    )
    try:
        plan = plan_refund(
            Order.model_validate(order), RefundRequest.model_validate(request), policy=rules
        )
    except DomainError as exc:
        return str(exc.code)
    breakdown: Json = plan.to_breakdown()
    return breakdown


def _differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Paths where `actual` differs from `expected` (every key of `expected` must match)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return [
            problem
            for key, value in expected.items()
            for problem in (
                _differences(value, actual[key], f"{path}.{key}")
                if key in actual
                else [f"{path}.{key}: missing"]
            )
        ]
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [
            problem
            for index, (want, got) in enumerate(zip(expected, actual, strict=True))
            for problem in _differences(want, got, f"{path}[{index}]")
        ]
    if expected != actual or isinstance(expected, bool) != isinstance(actual, bool):
        return [f"{path}: oracle {expected!r}, planner {actual!r}"]
    return []


def _agree(order: Json, request: Json, policy: Json) -> Json | str:
    """Plan with both; fail with a reproducer on any difference; the oracle's outcome."""
    expected = oracle.plan_refund(order, request, policy)
    actual = _planner(order, request, policy)
    problems = _differences(expected, actual) + [
        f"{path} (planner only)" for path in _extra_keys(expected, actual)
    ]
    reproducer = json.dumps({"policy": policy, "order": order, "request": request})
    assert not problems, "\n".join([*problems, reproducer])
    return expected


def _extra_keys(expected: Any, actual: Any, path: str = "") -> list[str]:
    if not (isinstance(expected, dict) and isinstance(actual, dict)):
        return []
    extra = [f"{path}.{key}" for key in actual if key not in expected]
    return extra + [
        p for key in expected if key in actual for p in _extra_keys(expected[key], actual[key])
    ]


# --- applying a refund to the snapshot --------------------------------------------------------


def _add(item: Json, key: str, amount: int) -> None:
    """Add to a recorded refund; an unrecorded one stays unrecorded."""
    if item.get(key) is not None:
        item[key] += amount


def _spread(items: list[Json], key: str, cap: str, amount: int) -> None:
    """Book `amount` on the recorded refunds of `items`, each up to its `cap`, the last the rest."""
    recorded = [item for item in items if item.get(key) is not None]
    for index, item in enumerate(recorded):
        room = max((item.get(cap) or 0) - item[key], 0)
        take = amount if index == len(recorded) - 1 else min(amount, room)
        item[key] += take
        amount -= take


def _book_line(line: Json, done: Json, suffix: str) -> None:
    """A refunded line's component refunds, in presentment (suffix '') or shop money."""
    for tax, share in zip(line.get("tax_lines") or [], done["tax_lines"], strict=True):
        _add(tax, f"already_refunded{suffix}", share["amount"])
    discounts = line.get("discount_allocations") or []
    _spread(discounts, f"already_refunded{suffix}", f"amount{suffix}", done["discount"])
    duties = line.get("duties") or []
    _spread(duties, f"already_refunded{suffix}", f"amount{suffix}", done.get("duties", 0))


def _book_shipping(order: Json, refund: Json, policy: Json) -> None:
    """Shipping refunded per line; in a multi-currency order the shop twins are written."""
    shop = refund.get("shop")
    if shop is not None:
        side = oracle.shop_side(order, policy)
        shop_done = {s["shipping_line_id"]: s for s in shop["shipping"]["lines"]}
        for line in order.get("shipping_lines") or []:
            part = shop_done.get(line["id"], {"amount": 0, "tax": 0})
            line["already_refunded_shop"] = side.money(line, "already_refunded") + part["amount"]
            tax = side.money(line, "already_refunded_tax") + part["tax"]
            line["already_refunded_tax_shop"] = tax
    done = {s["shipping_line_id"]: s for s in refund["shipping"]["lines"]}
    for line in order.get("shipping_lines") or []:
        part = done.get(line["id"], {"amount": 0, "tax": 0})
        line["already_refunded"] = line.get("already_refunded", 0) + part["amount"]
        line["already_refunded_tax"] = line.get("already_refunded_tax", 0) + part["tax"]


def _apply(order: Json, refund: Json, policy: Json) -> Json:
    """The order snapshot after the refund: returned units, refunded amounts, tenders."""
    after = copy.deepcopy(order)
    lines = {line["id"]: line for line in after["line_items"]}
    shop = refund.get("shop")
    for index, done in enumerate(refund["lines"]):
        line = lines[done["line_id"]]
        _book_line(line, done, "")
        if shop is not None:
            _book_line(line, shop["lines"][index], "_shop")
        line["already_returned_quantity"] = line.get("already_returned_quantity", 0)
        line["already_returned_quantity"] += done["quantity"]
    _book_shipping(after, refund, policy)
    after["already_refunded_amount"] = after.get("already_refunded_amount", 0) + refund["total"]
    if shop is not None:
        _add(after, "already_refunded_amount_shop", shop["total"])
    payments = {p.get("id"): p for p in after.get("payments") or []}
    for tender in refund["tenders"]:
        if tender.get("payment_id") in payments:
            payment = payments[tender["payment_id"]]
            payment["refunded"] = payment.get("refunded", 0) + tender["amount"]
    return after


# --- generating orders ------------------------------------------------------------------------


@dataclass(frozen=True)
class Fx:
    """How a multi-currency order carries shop money: `twins` all | none | some."""

    rate: Fraction
    twins: str


def _cuts(draw: st.DrawFn, total: int, parts: int) -> list[int]:
    """`total` cut into `parts` non-negative integers."""
    points = sorted(draw(st.lists(st.integers(0, total), min_size=parts - 1, max_size=parts - 1)))
    edges = [0, *points, total]
    return [b - a for a, b in itertools.pairwise(edges)]


def _twin(draw: st.DrawFn, fx: Fx | None, item: Json, key: str) -> None:
    """Maybe give `item[key]` a shop twin: converted, off by a minor unit now and then."""
    value = item.get(key)
    if fx is None or value is None or fx.twins == "none":
        return
    if fx.twins == "some" and draw(st.booleans()):
        return
    drift = draw(st.sampled_from([0, 0, 0, 1, -1])) if value else 0
    item[f"{key}_shop"] = max(round(value * fx.rate) + drift, 0)


def _recorded(draw: st.DrawFn, fx: Fx | None, item: Json, units: int, already: int) -> None:
    """A component refund recorded by the platform: S(k), with a minor unit of drift."""
    amount = item["amount"] or 0
    drift = draw(st.sampled_from([0, 0, 1, -1]))
    item["already_refunded"] = min(max(oracle.carried(amount, units, already) + drift, 0), amount)
    _twin(draw, fx, item, "already_refunded")


@st.composite
def _discounts(draw: st.DrawFn, gross: int, fx: Fx | None) -> list[Json]:
    """Stacked discount allocations: none, a free line, a nearly free line or any amount."""
    kind = draw(st.sampled_from(["none", "free", "nearly", "any", "any"]))
    total = {"none": 0, "free": gross, "nearly": max(gross - 1, 0)}.get(kind)
    if total is None:
        total = draw(st.integers(0, gross))
    if kind == "none":
        return []
    allocations = []
    for index, amount in enumerate(_cuts(draw, total, draw(st.integers(1, 3)))):
        level = draw(st.sampled_from(["line", "order"]))
        allocation = {"amount": amount, "code": f"C{index}", "level": level}
        _twin(draw, fx, allocation, "amount")
        allocations.append(allocation)
    return allocations


@st.composite
def _taxes(draw: st.DrawFn, base: int, fx: Fx | None) -> list[Json]:
    """0-2 tax lines, each recorded or rate-only (a rate-only one may have a shop amount)."""
    taxes = []
    for index in range(draw(st.integers(0, 2))):
        rate = draw(st.sampled_from(TAX_RATES))
        amount = draw(st.one_of(st.none(), st.integers(0, base // 4 + 5)))
        tax: Json = {"title": f"T{index}", "rate": rate, "amount": amount}
        _twin(draw, fx, tax, "amount")
        if amount is None and fx is not None and draw(st.integers(0, 4)) == 0:
            tax["amount_shop"] = draw(st.integers(0, base // 4 + 5))
        taxes.append(tax)
    return taxes


@st.composite
def _line(draw: st.DrawFn, line_id: str, exponent: int, fx: Fx | None) -> Json:
    units = draw(st.integers(1, 5))
    tiny = draw(st.integers(0, 4)) == 0
    price = draw(st.integers(0, 3) if tiny else st.integers(0, PRICE_MAX[exponent]))
    already = draw(st.sampled_from([0, 0, draw(st.integers(0, units))]))
    line: Json = {
        "id": line_id,
        "sku": f"SKU-{line_id}",
        "quantity": units,
        "unit_price": price,
        "discount_allocations": draw(_discounts(units * price, fx)),
        "tax_lines": draw(_taxes(units * price, fx)),
        "duties": [
            {"id": f"{line_id}-D{i}", "amount": draw(st.integers(0, price // 5 + 50))}
            for i in range(draw(st.sampled_from([0, 0, 1, 2])))
        ],
        "already_returned_quantity": already,
    }
    _twin(draw, fx, line, "unit_price")
    for duty in line["duties"]:
        _twin(draw, fx, duty, "amount")
    if draw(st.integers(0, 3)) == 0:
        for item in [*line["discount_allocations"], *line["tax_lines"], *line["duties"]]:
            if item["amount"] is not None and draw(st.integers(0, 5)):
                _recorded(draw, fx, item, units, already)
    return line


def _fit(side: oracle.Side, item: Json, key: str, upper: int) -> None:
    """Keep a shop figure within `upper` (what the shop twins leave for it)."""
    if side.money(item, key) > upper:
        item[f"{key}_shop"] = max(upper, 0)


@st.composite
def _shipping_line(
    draw: st.DrawFn, line_id: str, exponent: int, fx: Fx | None, side: oracle.Side | None
) -> Json:
    """A shipping line: discounted or not, taxed, partly or fully refunded already."""
    price = draw(st.integers(0, PRICE_MAX[exponent] // 4))
    discount = draw(st.sampled_from([0, 0, price, price // 3]))
    taxes = draw(_taxes(price - discount, fx))
    left = price - discount
    refunded = draw(st.sampled_from([0, 0, left, left // 2, max(left - 1, 0)]))
    charged = sum(t["amount"] for t in taxes) if all(t["amount"] is not None for t in taxes) else 0
    line: Json = {
        "id": line_id,
        "price": price,
        "discount": discount,
        "tax_lines": taxes,
        "already_refunded": refunded,
        "already_refunded_tax": draw(st.sampled_from([0, charged, charged // 2])),
    }
    for key in ("price", "discount", "already_refunded", "already_refunded_tax"):
        _twin(draw, fx, line, key)
    if side is not None:
        _fit(side, line, "discount", side.money(line, "price"))
        net = side.money(line, "price") - side.money(line, "discount")
        _fit(side, line, "already_refunded", net)
        shop_taxes = [side.recorded(t, "amount") for t in taxes]
        _fit(side, line, "already_refunded_tax", sum(t or 0 for t in shop_taxes))
    return line


@st.composite
def _fx(draw: st.DrawFn, currency: str) -> tuple[str, str | None, Fx] | None:
    """None (one currency) or the shop currency, the recorded rate and the twin style."""
    if draw(st.booleans()):
        return None
    shop = draw(st.sampled_from([c for c in CURRENCIES if c != currency]))
    mantissa = draw(st.sampled_from(FX))
    shift = CURRENCIES[currency] - CURRENCIES[shop]
    rate = format(Decimal(mantissa).scaleb(shift), "f")
    twins = draw(st.sampled_from(["all", "all", "none", "some"]))
    recorded = rate if twins != "all" or draw(st.booleans()) else None
    return shop, recorded, Fx(Fraction(mantissa), twins)


def _order_discounts(draw: st.DrawFn, order: Json, fx: Fx | None, policy: Json) -> None:
    """0-2 unallocated order discounts; dropped if they would push a line below zero."""
    side = oracle.presentment_side(policy)
    room = sum(line["quantity"] * line["unit_price"] for line in order["line_items"])
    discounts = []
    for index in range(draw(st.sampled_from([0, 0, 1, 2]))):
        discount = {"code": f"O{index}", "amount": draw(st.integers(0, room // 3))}
        _twin(draw, fx, discount, "amount")
        discounts.append(discount)
    order["order_discounts"] = discounts
    try:
        shares = oracle.order_discount_shares(order, side)
    except oracle.Refused:
        order["order_discounts"] = []
        return
    for index, line in enumerate(order["line_items"]):
        own = sum(d["amount"] for d in line["discount_allocations"])
        if own + sum(s[index] for s in shares) > line["quantity"] * line["unit_price"]:
            order["order_discounts"] = []
            return


def _bad_line(draw: st.DrawFn, order: Json) -> None:
    """Bad order data now and then: a line discounted above its gross."""
    if draw(st.integers(0, 24)):
        return
    line = draw(st.sampled_from(order["line_items"]))
    gross = line["quantity"] * line["unit_price"]
    extra = gross - sum(d["amount"] for d in line["discount_allocations"]) + draw(st.integers(1, 9))
    line["discount_allocations"].append({"amount": extra, "code": "BAD", "level": "line"})


def _refundable(order: Json, policy: Json) -> int | None:
    """What returning everything left refunds (the oracle, with no cap and no payments)."""
    lines = [
        {"line_id": line["id"], "quantity": line["quantity"] - line["already_returned_quantity"]}
        for line in order["line_items"]
        if line["quantity"] > line["already_returned_quantity"]
    ]
    probe = {**order, "amount_paid": 10**12, "already_refunded_amount": 0, "payments": []}
    probe.pop("amount_paid_shop", None)
    request = {
        "currency": order["currency"],
        "lines": lines,
        "shipping": {"mode": "full"},
        "refund_duties": "full",
    }
    outcome = oracle.plan_refund(probe, request, {**policy, "on_cap_exceeded": "reject"})
    return outcome["total"] if isinstance(outcome, dict) else None


@st.composite
def _payments(draw: st.DrawFn, paid: int) -> list[Json]:
    """Tenders summing to what was paid, or one minor unit less; some refunded in full."""
    if draw(st.booleans()):
        return []
    target = max(paid - draw(st.sampled_from([0, 1])), 0)
    payments = []
    for index, amount in enumerate(_cuts(draw, target, draw(st.integers(1, 3)))):
        refunded = draw(st.sampled_from([0, 0, amount, max(amount - 1, 0), amount // 2]))
        payment = {
            "id": f"P{index}",
            "method": draw(st.sampled_from(CLOSED_AND_OPEN)),
            "amount": amount,
            "refunded": refunded,
        }
        if draw(st.booleans()):
            payment["gateway"] = "gw"
        payments.append(payment)
    return payments


@st.composite
def orders(draw: st.DrawFn, policy: Json) -> Json:
    """An order snapshot (refund-math §2) with what is paid, refunded and left on it."""
    currency = draw(st.sampled_from(list(CURRENCIES)))
    exponent = CURRENCIES[currency]
    multi = draw(_fx(currency))
    fx = multi[2] if multi else None
    order: Json = {
        "id": "O1",
        "currency": currency,
        "currency_exponent": exponent,
        "taxes_included": draw(st.booleans()),
    }
    if multi:
        order["shop_currency"] = multi[0]
        if multi[1] is not None:
            order["exchange_rate"] = multi[1]
    count = draw(st.integers(1, 3))
    order["line_items"] = [draw(_line(f"L{i}", exponent, fx)) for i in range(1, count + 1)]
    _order_discounts(draw, order, fx, policy)
    _bad_line(draw, order)
    side = oracle.shop_side(order, policy) if multi else None
    order["shipping_lines"] = [
        draw(_shipping_line(f"S{i}", exponent, fx, side))
        for i in range(1, draw(st.integers(0, 3)) + 1)
    ]
    refunded = draw(st.sampled_from([0, 0, 500, draw(st.integers(0, 5_000))]))
    left = _refundable(order, policy)
    if left is None:
        left = draw(st.integers(0, 50_000))
    slack = draw(st.sampled_from([0, -1, 1, -draw(st.integers(1, left // 2 + 1)), 5_000]))
    order["amount_paid"] = max(refunded + left + slack, 0)
    order["already_refunded_amount"] = refunded
    _twin(draw, fx, order, "amount_paid")
    _twin(draw, fx, order, "already_refunded_amount")
    order["payments"] = draw(_payments(order["amount_paid"]))
    return order


# --- generating requests ----------------------------------------------------------------------


def _shipping_left(order: Json, side: oracle.Side) -> int:
    return sum(
        side.money(s, "price") - side.money(s, "discount") - side.money(s, "already_refunded")
        for s in order.get("shipping_lines") or []
    )


def _shop_twin(draw: st.DrawFn, order: Json, *, needed: bool = True) -> bool:
    """Whether a request amount gets a shop twin: when needed without a rate, else now and then."""
    if not oracle.is_multi_currency(order):
        return False
    return (needed and order.get("exchange_rate") is None) or draw(st.integers(0, 2)) == 0


@st.composite
def _shipping_request(draw: st.DrawFn, order: Json, policy: Json) -> Json:
    """none, full, or an amount: everything left, one unit less, any part or nothing."""
    mode = draw(st.sampled_from(["none", "full", "amount", "amount"]))
    if mode != "amount":
        return {"mode": mode}
    left = _shipping_left(order, oracle.presentment_side(policy))
    amount = draw(st.sampled_from([left, max(left - 1, 0), draw(st.integers(0, left)), 0]))
    shipping: Json = {"mode": "amount", "amount": amount}
    if _shop_twin(draw, order, needed=not 0 < amount == left):  # equal to what is left: full
        shop_left = _shipping_left(order, oracle.shop_side(order, policy))
        guess = round(amount * Fraction(shop_left, left)) if left else 0
        choices = [guess, guess, shop_left, shop_left + 1]
        shipping["amount_shop"] = max(draw(st.sampled_from(choices)), 0)
    return shipping


@st.composite
def _fees(draw: st.DrawFn, order: Json) -> Json:
    """Restocking fee (percent or fixed) and return-label fee, with or without shop twins."""
    fields: Json = {}
    kind = draw(st.sampled_from(["none", "none", "percent", "fixed"]))
    if kind == "percent":
        fields["restocking_fee"] = {"type": "percent", "rate": draw(st.sampled_from(FEE_RATES))}
    elif kind == "fixed":
        fields["restocking_fee"] = {"type": "fixed", "amount": draw(st.integers(0, 300))}
        if _shop_twin(draw, order):
            fields["restocking_fee"]["amount_shop"] = draw(st.integers(0, 300))
    if draw(st.integers(0, 2)) == 0:
        fields["return_label_fee"] = draw(st.integers(0, 300))
        if _shop_twin(draw, order):
            fields["return_label_fee_shop"] = draw(st.integers(0, 300))
    return fields


def _break(draw: st.DrawFn, request: Json, order: Json) -> None:
    """Make the request invalid in one of the ways §3.1 checks."""
    lines = request["lines"]
    kind = draw(
        st.sampled_from(
            ["unknown", "duplicate", "too_many", "zero", "currency", "shipping", "fees", "empty"]
        )
    )
    if kind == "unknown":
        lines.insert(draw(st.integers(0, len(lines))), {"line_id": "L404", "quantity": 1})
    elif kind == "duplicate" and lines:
        lines.append(dict(lines[0]))
    elif kind in ("too_many", "zero"):
        line = draw(st.sampled_from(order["line_items"]))
        left = line["quantity"] - line["already_returned_quantity"]
        wanted = {"line_id": line["id"], "quantity": left + 1 if kind == "too_many" else 0}
        request["lines"] = [item for item in lines if item["line_id"] != line["id"]] + [wanted]
    elif kind == "currency":
        request["currency"] = order.get("shop_currency") or "GBP"
    elif kind == "shipping":
        left = _shipping_left(order, oracle.presentment_side({}))
        request["shipping"] = {"mode": "amount", "amount": left + 1}
    elif kind == "fees":
        huge = {"return_label_fee": 10**9}
        negative = {"return_label_fee": -1}
        above_one = {"restocking_fee": {"type": "percent", "rate": "1.5"}}
        request.update(draw(st.sampled_from([huge, negative, above_one])))
    else:
        request["lines"], request["shipping"] = [], {"mode": "none"}


@st.composite
def requests(draw: st.DrawFn, order: Json, policy: Json) -> Json:
    """A refund request against the snapshot; one in eight is made invalid."""
    left = [
        (line["id"], line["quantity"] - line["already_returned_quantity"])
        for line in order["line_items"]
        if line["quantity"] > line["already_returned_quantity"]
    ]
    count = draw(st.sampled_from([0, *[len(left)] * 2, *range(1, len(left) + 1)]))
    chosen = draw(st.permutations(left))[:count]
    request: Json = {
        "currency": order["currency"],
        "lines": [{"line_id": i, "quantity": draw(st.integers(1, n))} for i, n in chosen],
        "shipping": draw(_shipping_request(order, policy)),
        **draw(_fees(order)),
    }
    for key, choices in (
        ("refund_duties", ["none", "proportional", "full"]),
        ("refund_method", ["original", "original", "store_credit"]),
    ):
        if draw(st.booleans()):
            request[key] = draw(st.sampled_from(choices))
    if draw(st.integers(0, 7)) == 0:
        _break(draw, request, order)
    return request


POLICIES = st.fixed_dictionaries(
    {
        "rounding": st.sampled_from(["HALF_UP", "HALF_EVEN"]),
        "on_cap_exceeded": st.sampled_from(["reject", "clamp"]),
    }
)


# --- tests ------------------------------------------------------------------------------------


def _case_params() -> list[Any]:
    return [
        pytest.param(case, id=f"{path.stem}:{case['id']}")
        for path in CASE_FILES
        for case in json.loads(path.read_text(encoding="utf-8"))["cases"]
    ]


@pytest.mark.parametrize("case", _case_params())
def test_the_oracle_reproduces_every_case_file_case(case: Json) -> None:
    """The oracle itself against the worked cases of tests/data (refund-math §10)."""
    policy = {
        "rounding": case["rounding"]["mode"],
        "on_cap_exceeded": case["policy"]["on_cap_exceeded"],
    }
    outcome = oracle.plan_refund(case["order"], case["request"], policy)
    expected = case["expected"]
    if expected["status"] == "error":
        assert outcome == expected["error"]
    else:
        assert isinstance(outcome, dict), outcome
        assert not _differences(expected, outcome)


@PROFILE
@given(data=st.data())
def test_the_planner_agrees_with_the_oracle_over_a_sequence_of_refunds(data: st.DataObject) -> None:
    """Plan, compare, apply the refund to the snapshot, and plan the next one."""
    policy = data.draw(POLICIES, label="policy")
    order = data.draw(orders(policy), label="order")
    for _ in range(data.draw(st.integers(1, 4), label="refunds")):
        outcome = _agree(order, data.draw(requests(order, policy), label="request"), policy)
        if isinstance(outcome, dict):
            order = _apply(order, outcome, policy)
