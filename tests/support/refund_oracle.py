"""An independent refund oracle: refund-math §2-§4 written from scratch on plain dicts.

Nothing here comes from `returnbridge`: `tests/unit/test_refund_oracle.py` holds the planner
against this second implementation. `plan_refund(order, request, policy)` takes the §2/§10
order snapshot, the request and the policy `{rounding, on_cap_exceeded}` and returns the §4
breakdown (the shape of the planner's `to_breakdown()`), or the error code of the first check
that fails. Money is integer minor units; rates are exact `Fraction`s; nothing is a float.

Project decisions on top of the text of the spec:
* all of a line's discounts are one component D, split over its units (§3.3 amended); its
  last units absorb recorded refunds only when every discount allocation records one and the
  order has no unallocated order discount; D above the line's gross is `INVALID_ORDER`
  (in shop money it is capped at the shop gross instead);
* a shipping `amount` equal to everything left is computed as `full` on both sides (§3.6
  amended); otherwise a converted shop amount is capped at what is left in shop money and a
  given `amount_shop` above it is refused;
* the shop cap is paid − refunded in shop money, each from its twin, else converted (no cap
  without a paid twin or a rate);
* where the spec is silent otherwise (shop clamp, shop tenders, payments that cannot take the
  refund back) this follows what the project decided for the planner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

Json = dict[str, Any]

#: ISO 4217 minor-unit exponents other than the default 2.
_EXPONENTS = {
    "BIF": 0, "CLP": 0, "ISK": 0, "JPY": 0, "KRW": 0, "PYG": 0, "VND": 0, "XAF": 0, "XOF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip

#: Tenders refunded before the others (§3.8).
_CLOSED_LOOP = ("gift_card", "store_credit")


class Refused(Exception):
    """The rules refuse the request (or the order); `code` is the error kind."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def exponent(currency: str) -> int:
    """Decimals of the currency's minor unit."""
    return _EXPONENTS.get(currency.upper(), 2)


def round_half(value: Fraction, mode: str) -> int:
    """Round to an integer: HALF_UP ties away from zero, HALF_EVEN ties to the even one."""
    sign = -1 if value < 0 else 1
    whole, rest = divmod(abs(value), 1)
    half = Fraction(1, 2)
    if rest > half or (rest == half and (mode == "HALF_UP" or whole % 2 == 1)):
        whole += 1
    return sign * int(whole)


def carried(component: int, units: int, m: int) -> int:
    """S(m): what units 1..m carry of `component` split over `units` (§3.3)."""
    base, extra = divmod(component, units)
    return m * base + min(m, extra)


def largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` by weight: floors, then one unit each to the largest remainders (§3.2)."""
    weight_sum = sum(weights)
    if weight_sum == 0:
        if total:
            raise Refused("INVALID_ORDER")
        return [0] * len(weights)
    parts = [total * w // weight_sum for w in weights]
    rests = [total * w % weight_sum for w in weights]
    ranked = sorted(range(len(weights)), key=lambda i: (-rests[i], i))
    for i in ranked[: total - sum(parts)]:
        parts[i] += 1
    return parts


def _rate(text: object) -> Fraction:
    return Fraction(str(text))


@dataclass(frozen=True)
class Side:
    """Which money a computation reads: presentment amounts or their shop twins (§3.9)."""

    shop: bool
    rate: Fraction | None
    mode: str

    def convert(self, value: int) -> int:
        """A presentment amount in shop minor units, once, with the policy's rounding."""
        if value == 0:
            return 0
        if self.rate is None:
            raise Refused("MISSING_SHOP_AMOUNT")
        return round_half(value * self.rate, self.mode)

    def money(self, item: Json, key: str) -> int:
        """`item[key]` (absent = 0) on this side: the `_shop` twin, else converted."""
        value = item.get(key) or 0
        if not self.shop:
            return int(value)
        twin = item.get(f"{key}_shop")
        return int(twin) if twin is not None else self.convert(value)

    def recorded(self, item: Json, key: str) -> int | None:
        """An optional figure (a recorded refund, a tax amount): None when unknown here."""
        value = item.get(key)
        twin = item.get(f"{key}_shop")
        if self.shop and twin is not None:
            return int(twin)
        if value is None:
            return None
        return self.convert(value) if self.shop else int(value)


def presentment_side(policy: Json) -> Side:
    """The presentment side: amounts as recorded."""
    return Side(shop=False, rate=None, mode=policy.get("rounding", "HALF_UP"))


def shop_side(order: Json, policy: Json) -> Side:
    """The shop side: rate per minor unit = exchange_rate × 10^(shop exp − presentment exp)."""
    rate = None
    if order.get("exchange_rate") is not None:
        scale = exponent(order["shop_currency"]) - exponent(order["currency"])
        rate = _rate(order["exchange_rate"]) * Fraction(10) ** scale
    return Side(shop=True, rate=rate, mode=policy.get("rounding", "HALF_UP"))


def is_multi_currency(order: Json) -> bool:
    """Whether the order has a shop currency other than its presentment currency."""
    return order.get("shop_currency") not in (None, order["currency"])


# --- validation (§3.1) -----------------------------------------------------------------------


@dataclass(frozen=True)
class Valid:
    """A request that passed §3.1 steps 1-5."""

    request: Json
    lines: list[tuple[Json, int]]
    shipping_mode: str
    shipping_full: bool
    fee_rate: Fraction | None
    duties: str
    method: str


def _amount(value: object) -> int:
    """A request money field: integer minor units >= 0 (§3.1 step 3)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise Refused("INVALID_AMOUNT")
    if value < 0:
        raise Refused("NEGATIVE_AMOUNT")
    return value


def _optional_amount(value: object) -> int | None:
    return None if value is None else _amount(value)


def _choice(value: object, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise Refused("INVALID_AMOUNT")
    return str(value)


def _fee_rate(fee: Json | None) -> Fraction | None:
    """The percentage of a restocking fee (validating a fixed one's amounts)."""
    if fee is None:
        return None
    if fee.get("type") == "fixed":
        _amount(fee.get("amount"))
        _optional_amount(fee.get("amount_shop"))
        return None
    if fee.get("type") != "percent" or isinstance(fee.get("rate"), bool | None):
        raise Refused("INVALID_FEE")
    try:
        rate = _rate(str(fee["rate"]).strip())
    except (ValueError, ZeroDivisionError):
        raise Refused("INVALID_FEE") from None
    if not 0 <= rate <= 1:
        raise Refused("INVALID_FEE")
    return rate


def _requested_lines(order: Json, request: Json) -> list[tuple[Json, int]]:
    """§3.1 step 2, in request order: unknown, duplicate, quantity type, remaining."""
    by_id = {line["id"]: line for line in order.get("line_items") or []}
    seen: set[str] = set()
    lines = []
    for item in request.get("lines") or []:
        line = by_id.get(item.get("line_id"))
        if line is None:
            raise Refused("UNKNOWN_LINE")
        if line["id"] in seen:
            raise Refused("DUPLICATE_LINE")
        seen.add(line["id"])
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise Refused("INVALID_QUANTITY")
        if quantity > line["quantity"] - line.get("already_returned_quantity", 0):
            raise Refused("QUANTITY_EXCEEDS_REMAINING")
        lines.append((line, quantity))
    return lines


def _shipping_within_remaining(order: Json, valid: Valid, policy: Json) -> None:
    """§3.1 step 4, in presentment money and then for a given shop amount."""
    shipping = valid.request.get("shipping") or {}
    if valid.shipping_mode != "amount":
        return
    if shipping["amount"] > sum(s.left for s in _shipping_left(order, presentment_side(policy))):
        raise Refused("SHIPPING_EXCEEDS_REMAINING")
    given = shipping.get("amount_shop")
    if given is None or valid.shipping_full or not is_multi_currency(order):
        return
    if given > sum(s.left for s in _shipping_left(order, shop_side(order, policy))):
        raise Refused("SHIPPING_EXCEEDS_REMAINING")


def validate(order: Json, request: Json, policy: Json) -> Valid:
    """§3.1 steps 1-5 (6 and 7 need the figures)."""
    currency = request.get("currency")
    if not isinstance(currency, str) or currency.upper() != order["currency"].upper():
        raise Refused("CURRENCY_MISMATCH")
    lines = _requested_lines(order, request)
    shipping = request.get("shipping") or {}
    mode = _choice(shipping.get("mode", "none"), ("none", "full", "amount"))
    amount = 0
    if mode == "amount":
        amount = _amount(shipping.get("amount"))
        _optional_amount(shipping.get("amount_shop"))
    rate = _fee_rate(request.get("restocking_fee"))
    _optional_amount(request.get("return_label_fee"))
    _optional_amount(request.get("return_label_fee_shop"))
    duties = _choice(request.get("refund_duties") or "none", ("none", "proportional", "full"))
    method = _choice(request.get("refund_method") or "original", ("original", "store_credit"))
    left = sum(s.left for s in _shipping_left(order, presentment_side(policy)))
    full = mode == "full" or (mode == "amount" and 0 < amount == left)
    valid = Valid(request, lines, mode, full, rate, duties, method)
    _shipping_within_remaining(order, valid, policy)
    if not lines and mode != "full" and amount == 0:
        raise Refused("NOTHING_TO_REFUND")
    return valid


# --- lines (§3.2-§3.5) -----------------------------------------------------------------------


@dataclass(frozen=True)
class Component:
    """One money component of a line and, when the order records it, what was refunded."""

    amount: int
    refunded: int | None = None

    def share(self, units: int, already: int, quantity: int) -> int:
        """S(k+q) − S(k); the last units take C − refunded when that is recorded (§3.3)."""
        if self.refunded is not None and already + quantity == units:
            return self.amount - self.refunded
        return carried(self.amount, units, already + quantity) - carried(
            self.amount, units, already
        )

    def rest(self, units: int, already: int) -> int:
        """Everything not refunded yet (duties `full`, §3.5)."""
        if self.refunded is not None:
            return self.amount - self.refunded
        return self.amount - carried(self.amount, units, already)


def order_discount_shares(order: Json, side: Side) -> list[list[int]]:
    """§3.2: each unallocated order discount over all lines, weighted by gross − line-level."""
    if not order.get("order_discounts"):
        return []
    weights = []
    for line in order.get("line_items") or []:
        gross = side.money(line, "unit_price") * line["quantity"]
        line_level = sum(
            side.money(d, "amount")
            for d in line.get("discount_allocations") or []
            if d.get("level", "line") == "line"
        )
        weights.append(max(gross - line_level, 0))
    return [
        largest_remainder(side.money(d, "amount"), weights)
        for d in order.get("order_discounts") or []
    ]


def _discount(line: Json, order_shares: list[int], side: Side) -> Component:
    """D: every discount allocation plus the line's order-discount shares (§3.3 amended)."""
    allocations = line.get("discount_allocations") or []
    amount = sum(side.money(d, "amount") for d in allocations) + sum(order_shares)
    gross = side.money(line, "unit_price") * line["quantity"]
    if amount > gross:
        if not side.shop:
            raise Refused("INVALID_ORDER")
        amount = gross
    refunds = [side.recorded(d, "already_refunded") for d in allocations]
    if order_shares or any(r is None for r in refunds):
        return Component(amount)
    return Component(amount, sum(r or 0 for r in refunds))


def _tax_charged(tax: Json, taxes: list[Json], net: int, side: Side, inclusive: bool) -> int:
    """The recorded amount, or T = round(net × rate [/ (1 + Σ rates)]) (§3.4)."""
    recorded = side.recorded(tax, "amount")
    if recorded is not None:
        return recorded
    if tax.get("rate") is None:
        raise Refused("INVALID_ORDER")
    value = net * _rate(tax["rate"])
    if inclusive:
        value /= 1 + sum(
            (_rate(t["rate"]) for t in taxes if t.get("rate") is not None), Fraction(0)
        )
    return round_half(value, side.mode)


def _duties(line: Json, mode: str, side: Side, quantity: int) -> int | None:
    """§3.5: None without duties; proportional shares, or everything left with `full`."""
    duties = line.get("duties") or []
    if not duties:
        return None
    units, already = line["quantity"], line.get("already_returned_quantity", 0)
    parts = [
        Component(side.money(d, "amount"), side.recorded(d, "already_refunded")) for d in duties
    ]
    if mode == "proportional":
        return sum(c.share(units, already, quantity) for c in parts)
    if mode == "full":
        return sum(c.rest(units, already) for c in parts)
    return 0


def _line_refund(
    line: Json, quantity: int, order_shares: list[int], valid: Valid, side: Side, inclusive: bool
) -> Json:
    """One returned line (§3.4)."""
    units, already = line["quantity"], line.get("already_returned_quantity", 0)
    unit_price = side.money(line, "unit_price")
    discount = _discount(line, order_shares, side)
    net = unit_price * units - discount.amount
    taxes = line.get("tax_lines") or []
    tax_lines = [
        {
            "title": tax["title"],
            "amount": Component(
                _tax_charged(tax, taxes, net, side, inclusive),
                side.recorded(tax, "already_refunded"),
            ).share(units, already, quantity),
        }
        for tax in taxes
    ]
    gross = unit_price * quantity
    subtotal = gross - discount.share(units, already, quantity)
    tax = sum(t["amount"] for t in tax_lines)
    duties = _duties(line, valid.duties, side, quantity)
    out: Json = {
        "line_id": line["id"],
        "quantity": quantity,
        "gross": gross,
        "discount": gross - subtotal,
        "subtotal": subtotal,
        "tax_lines": tax_lines,
        "tax": tax,
    }
    if duties is not None:
        out["duties"] = duties
    out["total"] = subtotal + (duties or 0) + (0 if inclusive else tax)
    return out


# --- shipping (§3.6) -------------------------------------------------------------------------


@dataclass(frozen=True)
class ShippingLeft:
    """What is left to refund on one shipping line, amount and tax."""

    id: str
    left: int
    tax_left: int


def _shipping_left(order: Json, side: Side) -> list[ShippingLeft]:
    inclusive = bool(order.get("taxes_included"))
    out = []
    for shipping in order.get("shipping_lines") or []:
        net = side.money(shipping, "price") - side.money(shipping, "discount")
        taxes = shipping.get("tax_lines") or []
        charged = sum(_tax_charged(t, taxes, net, side, inclusive) for t in taxes)
        left = net - side.money(shipping, "already_refunded")
        tax_left = charged - side.money(shipping, "already_refunded_tax")
        out.append(ShippingLeft(shipping["id"], left, tax_left))
    return out


def _shipping_amount(valid: Valid, left: int, side: Side) -> int:
    """A partial amount on this side: as asked, or converted and capped at what is left."""
    shipping = valid.request["shipping"]
    if not side.shop:
        return int(shipping["amount"])
    if shipping.get("amount_shop") is not None:
        return int(shipping["amount_shop"])
    return min(side.convert(shipping["amount"]), left)


def _shipping_tax(share: int, left: ShippingLeft, side: Side) -> int:
    if share == left.left and share > 0:
        return left.tax_left
    if share == 0:
        return 0
    return round_half(Fraction(left.tax_left * share, left.left), side.mode)


def _shipping(order: Json, valid: Valid, side: Side) -> list[Json]:
    """Shipping lines refunded: none, everything left (`full`), or an amount spread (§3.6)."""
    if valid.shipping_mode == "none":
        return []
    state = _shipping_left(order, side)
    if valid.shipping_full:
        shares = [s.left for s in state]
        taxes = [s.tax_left for s in state]
    else:
        amount = _shipping_amount(valid, sum(s.left for s in state), side)
        shares = largest_remainder(amount, [max(s.left, 0) for s in state])
        taxes = [_shipping_tax(share, s, side) for share, s in zip(shares, state, strict=True)]
    inclusive = bool(order.get("taxes_included"))
    return [
        {
            "shipping_line_id": s.id,
            "amount": share,
            "tax": tax,
            "total": share + (0 if inclusive else tax),
        }
        for s, share, tax in zip(state, shares, taxes, strict=True)
        if share or tax
    ]


# --- fees, draft, cap, tenders (§3.7, §3.8) --------------------------------------------------


def _fees(valid: Valid, lines: list[Json], side: Side) -> Json:
    """Deductions as negative numbers: a percent per line on its subtotal, or fixed (§3.7)."""
    fee = valid.request.get("restocking_fee")
    restocking = 0
    if valid.fee_rate is not None:
        restocking = sum(round_half(valid.fee_rate * line["subtotal"], side.mode) for line in lines)
    elif fee is not None:
        restocking = side.money(fee, "amount")
    label = side.money(valid.request, "return_label_fee")
    return {"restocking": -restocking, "return_label": -label, "total": -restocking - label}


@dataclass(frozen=True)
class Draft:
    """One side's figures before the cap."""

    lines: list[Json]
    shipping: list[Json]
    fees: Json
    allocations: dict[str, int] | None

    @property
    def positive(self) -> int:
        return sum(int(item["total"]) for item in [*self.lines, *self.shipping])

    @property
    def total(self) -> int:
        return self.positive + int(self.fees["total"])


def draft(order: Json, valid: Valid, side: Side) -> Draft:
    shares = order_discount_shares(order, side)
    ids = [line["id"] for line in order.get("line_items") or []]
    inclusive = bool(order.get("taxes_included"))
    lines = [
        _line_refund(line, q, [s[ids.index(line["id"])] for s in shares], valid, side, inclusive)
        for line, q in valid.lines
    ]
    allocations = None
    if shares:
        allocations = {line_id: sum(s[i] for s in shares) for i, line_id in enumerate(ids)}
    return Draft(lines, _shipping(order, valid, side), _fees(valid, lines, side), allocations)


def tenders(total: int, payments: list[Json], method: str) -> list[Json]:
    """§3.8: one store-credit tender, or closed-loop payments first, each up to what is left."""
    if method == "store_credit":
        return [{"method": "store_credit", "amount": total}]
    if not payments:
        return [{"method": "original", "amount": total}]
    ordered = [p for p in payments if p.get("method", "card") in _CLOSED_LOOP]
    ordered += [p for p in payments if p.get("method", "card") not in _CLOSED_LOOP]
    out = []
    left = total
    for payment in ordered:
        take = min(left, max(payment["amount"] - payment.get("refunded", 0), 0))
        if take > 0:
            out.append(_tender(payment, take))
            left -= take
    if left:
        raise Refused("REFUND_EXCEEDS_CAPTURED")
    return out


def _tender(payment: Json, amount: int) -> Json:
    out: Json = {"method": payment.get("method", "card"), "amount": amount}
    for key, name in (("id", "payment_id"), ("gateway", "gateway")):
        if payment.get(key) is not None:
            out[name] = payment[key]
    return out


def mirror(presentment: list[Json], total: int) -> list[Json]:
    """The presentment tenders again for the shop total, by largest remainder."""
    if not presentment:
        return []
    weights = [t["amount"] for t in presentment]
    if not sum(weights):
        weights = [1] + [0] * (len(weights) - 1)
    amounts = largest_remainder(total, weights)
    return [{**t, "amount": a} for t, a in zip(presentment, amounts, strict=True)]


def figures(
    side_draft: Draft,
    *,
    currency: str,
    inclusive: bool,
    adjustment: int,
    cap: int | None,
    paid_to: list[Json],
) -> Json:
    """One side of the §4 breakdown."""
    lines, shipping = side_draft.lines, side_draft.shipping
    total = side_draft.total + adjustment
    out: Json = {"currency": currency}
    if side_draft.allocations is not None:
        out["order_discount_allocations"] = side_draft.allocations
    items_tax = sum(line["tax"] for line in lines)
    shipping_tax = sum(s["tax"] for s in shipping)
    out |= {
        "lines": lines,
        "items_subtotal": sum(line["subtotal"] for line in lines),
        "items_tax": items_tax,
        "duties": sum(line.get("duties", 0) for line in lines),
        "shipping": {
            "amount": sum(s["amount"] for s in shipping),
            "tax": shipping_tax,
            "total": sum(s["total"] for s in shipping),
            "lines": shipping,
        },
        "tax_total": items_tax + shipping_tax,
        "tax_included_in_totals": inclusive,
        "fees": side_draft.fees,
        "cap_adjustment": adjustment,
        "total": total,
    }
    if cap is not None:
        out["cap"] = {"refundable_before": cap, "refundable_after": cap - total}
    out["tenders"] = paid_to
    return out


def _shop_cap(order: Json, side: Side) -> int | None:
    """Paid minus refunded in shop money (twins, else converted); None without either."""
    if order.get("amount_paid_shop") is None and side.rate is None:
        return None
    return side.money(order, "amount_paid") - side.money(order, "already_refunded_amount")


def _shop(order: Json, valid: Valid, policy: Json, clamped: bool, paid_to: list[Json]) -> Json:
    """§3.9: the same steps on the shop twins; the cap was checked in presentment money."""
    side = shop_side(order, policy)
    shop_draft = draft(order, valid, side)
    cap = _shop_cap(order, side)
    adjustment = 0
    if clamped and cap is not None:
        adjustment = min(max(cap, 0) - shop_draft.total, 0)
    return figures(
        shop_draft,
        currency=order["shop_currency"],
        inclusive=bool(order.get("taxes_included")),
        adjustment=adjustment,
        cap=cap,
        paid_to=mirror(paid_to, max(shop_draft.total + adjustment, 0)),
    )


def _plan(order: Json, request: Json, policy: Json) -> Json:
    valid = validate(order, request, policy)
    first = draft(order, valid, presentment_side(policy))
    if -first.fees["total"] > first.positive:
        raise Refused("DEDUCTIONS_EXCEED_REFUND")
    cap = order["amount_paid"] - order.get("already_refunded_amount", 0)
    adjustment = 0
    if first.total > cap:
        if policy.get("on_cap_exceeded", "reject") == "reject":
            raise Refused("REFUND_EXCEEDS_CAPTURED")
        adjustment = max(cap, 0) - first.total
    paid_to = tenders(first.total + adjustment, order.get("payments") or [], valid.method)
    inclusive = bool(order.get("taxes_included"))
    out: Json = {"status": "ok"}
    out |= figures(
        first,
        currency=order["currency"],
        inclusive=inclusive,
        adjustment=adjustment,
        cap=cap,
        paid_to=paid_to,
    )
    if is_multi_currency(order):
        out["shop"] = _shop(order, valid, policy, adjustment != 0, paid_to)
    return out


def plan_refund(order: Json, request: Json, policy: Json) -> Json | str:
    """The §4 breakdown of `request` against `order`, or the first error kind (§3.1)."""
    try:
        return _plan(order, request, policy)
    except Refused as refused:
        return refused.code
