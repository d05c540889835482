"""The refund planner: what a return of some units of some lines refunds (refund-math.md).

`plan_refund(order, request, policy=...)` validates the request in the fixed order of §3.1 and
computes per-line, shipping, fee, cap and tender figures (§3.2-§3.8) in integer minor units of
the presentment currency, then once more on the shop-money twins for multi-currency orders
(§3.9). Rounding happens only where §3.10 allows it, always with the policy's explicit mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, field_validator

from returnbridge.domain.allocation import UnitSplit, largest_remainder
from returnbridge.domain.errors import DomainError
from returnbridge.domain.money import Rounding, exponent, round_fraction
from returnbridge.domain.orders import Order, OrderLine, ShippingLine, TaxLine
from returnbridge.domain.tenders import RefundMethod, Tender, allocate_tenders, mirror_tenders

# --------------------------------------------------------------------------------------------
# Request and policy (§2). Fields are typed loosely on purpose: a bad value must reach the
# planner so it can be reported with the spec's error kind and field path (§3.1).
# --------------------------------------------------------------------------------------------


class _Loose(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", arbitrary_types_allowed=True)


class RequestLine(_Loose):
    """One returned line: `quantity` units of order line `line_id`."""

    line_id: Any = None
    quantity: Any = None


class ShippingRequest(_Loose):
    """`mode` none | full | amount; `amount` (and its optional shop twin) for mode `amount`."""

    mode: Any = "none"
    amount: Any = None
    amount_shop: Any = None


class RestockingFeeRequest(_Loose):
    """`{type: percent, rate}` (rate in [0, 1]) or `{type: fixed, amount}` (§3.7)."""

    type: Any = None
    rate: Any = None
    amount: Any = None
    amount_shop: Any = None


class RefundRequest(_Loose):
    """What the customer returns and how the refund is asked for (§2 "Request")."""

    currency: Any = None
    lines: tuple[RequestLine, ...] = ()
    shipping: ShippingRequest = ShippingRequest()
    restocking_fee: RestockingFeeRequest | None = None
    return_label_fee: Any = None
    return_label_fee_shop: Any = None
    refund_duties: Any = "none"
    refund_method: Any = "original"

    @field_validator("lines", mode="before")
    @classmethod
    def _loose_lines(cls, value: Any) -> Any:
        """Null means no lines; a bare id becomes a line without a quantity (reported later)."""
        if value is None:
            return ()
        if isinstance(value, list | tuple):
            return [
                item if isinstance(item, dict | RequestLine) else {"line_id": item}
                for item in value
            ]
        return [{"line_id": value}]

    @field_validator("shipping", mode="before")
    @classmethod
    def _loose_shipping(cls, value: Any) -> Any:
        if value is None:
            return ShippingRequest()
        return value if isinstance(value, dict | ShippingRequest) else {"mode": value}

    @field_validator("restocking_fee", mode="before")
    @classmethod
    def _loose_fee(cls, value: Any) -> Any:
        if value is None or isinstance(value, dict | RestockingFeeRequest):
            return value
        return {"type": value}


class RefundPolicy(_Loose):
    """Merchant configuration: rounding mode (§3.10) and what to do above the cap (§3.8)."""

    rounding: Rounding = Rounding.HALF_UP
    on_cap_exceeded: Literal["reject", "clamp"] = "reject"


class RefundError(DomainError):
    """A request the planner refuses; `code` is one of the twelve kinds of §3.1."""

    def __init__(self, code: str, message: str, *, field: str | None) -> None:
        super().__init__(code, message, field=field)


_E = TypeVar("_E", bound=StrEnum)


class ShippingMode(StrEnum):
    NONE = "none"
    FULL = "full"
    AMOUNT = "amount"


class DutiesMode(StrEnum):
    NONE = "none"
    PROPORTIONAL = "proportional"
    FULL = "full"


# --------------------------------------------------------------------------------------------
# Plan (§4)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaxShare:
    title: str
    amount: int
    tax_id: str | None = None
    """The platform's id of the tax (rate) line, when the order gave one."""


@dataclass(frozen=True, slots=True)
class LineRefund:
    """One returned line (§3.4); `duties` is None when the line carries no duties."""

    line_id: str
    quantity: int
    gross: int
    discount: int
    subtotal: int
    tax_lines: tuple[TaxShare, ...]
    tax: int
    duties: int | None
    total: int

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "line_id": self.line_id,
            "quantity": self.quantity,
            "gross": self.gross,
            "discount": self.discount,
            "subtotal": self.subtotal,
            "tax_lines": [{"title": t.title, "amount": t.amount} for t in self.tax_lines],
            "tax": self.tax,
        }
        if self.duties is not None:
            out["duties"] = self.duties
        out["total"] = self.total
        return out


@dataclass(frozen=True, slots=True)
class ShippingLineRefund:
    shipping_line_id: str
    amount: int
    tax: int
    total: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "shipping_line_id": self.shipping_line_id,
            "amount": self.amount,
            "tax": self.tax,
            "total": self.total,
        }


@dataclass(frozen=True, slots=True)
class ShippingRefund:
    """Shipping refunded, per shipping line (§3.6)."""

    lines: tuple[ShippingLineRefund, ...] = ()

    @property
    def amount(self) -> int:
        return sum(line.amount for line in self.lines)

    @property
    def tax(self) -> int:
        return sum(line.tax for line in self.lines)

    @property
    def total(self) -> int:
        return sum(line.total for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "amount": self.amount,
            "tax": self.tax,
            "total": self.total,
            "lines": [line.to_dict() for line in self.lines],
        }


@dataclass(frozen=True, slots=True)
class Fees:
    """Deductions, as negative numbers (§3.7)."""

    restocking: int = 0
    return_label: int = 0

    @property
    def total(self) -> int:
        return self.restocking + self.return_label

    def to_dict(self) -> dict[str, int]:
        return {
            "restocking": self.restocking,
            "return_label": self.return_label,
            "total": self.total,
        }


@dataclass(frozen=True, slots=True)
class RefundFigures:
    """Every figure of a refund in one currency (presentment, or shop for §3.9)."""

    currency: str
    lines: tuple[LineRefund, ...]
    shipping: ShippingRefund
    fees: Fees
    cap_adjustment: int
    tax_included_in_totals: bool
    refundable_before: int | None
    tenders: tuple[Tender, ...]
    order_discount_allocations: dict[str, int] | None = None

    @property
    def items_subtotal(self) -> int:
        return sum(line.subtotal for line in self.lines)

    @property
    def items_tax(self) -> int:
        return sum(line.tax for line in self.lines)

    @property
    def duties(self) -> int:
        return sum(line.duties or 0 for line in self.lines)

    @property
    def tax_total(self) -> int:
        return self.items_tax + self.shipping.tax

    @property
    def total(self) -> int:
        lines = sum(line.total for line in self.lines)
        return lines + self.shipping.total + self.fees.total + self.cap_adjustment

    @property
    def refundable_after(self) -> int | None:
        if self.refundable_before is None:
            return None
        return self.refundable_before - self.total

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"currency": self.currency}
        if self.order_discount_allocations is not None:
            out["order_discount_allocations"] = dict(self.order_discount_allocations)
        out |= {
            "lines": [line.to_dict() for line in self.lines],
            "items_subtotal": self.items_subtotal,
            "items_tax": self.items_tax,
            "duties": self.duties,
            "shipping": self.shipping.to_dict(),
            "tax_total": self.tax_total,
            "tax_included_in_totals": self.tax_included_in_totals,
            "fees": self.fees.to_dict(),
            "cap_adjustment": self.cap_adjustment,
            "total": self.total,
        }
        if self.refundable_before is not None:
            out["cap"] = {
                "refundable_before": self.refundable_before,
                "refundable_after": self.refundable_after,
            }
        out["tenders"] = [tender.to_dict() for tender in self.tenders]
        return out


@dataclass(frozen=True, slots=True)
class RefundPlan:
    """The planned refund: presentment figures plus shop figures for multi-currency orders."""

    order_id: str
    refund_method: RefundMethod
    presentment: RefundFigures
    shop: RefundFigures | None = None

    @property
    def currency(self) -> str:
        return self.presentment.currency

    @property
    def lines(self) -> tuple[LineRefund, ...]:
        return self.presentment.lines

    @property
    def shipping(self) -> ShippingRefund:
        return self.presentment.shipping

    @property
    def fees(self) -> Fees:
        return self.presentment.fees

    @property
    def tenders(self) -> tuple[Tender, ...]:
        return self.presentment.tenders

    @property
    def total(self) -> int:
        return self.presentment.total

    def to_breakdown(self) -> dict[str, Any]:
        """The §4 breakdown as plain data (the case files' `expected` shape)."""
        out: dict[str, Any] = {"status": "ok", **self.presentment.to_dict()}
        if self.shop is not None:
            out["shop"] = self.shop.to_dict()
        return out


# --------------------------------------------------------------------------------------------
# Validation (§3.1)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Fee:
    """A validated restocking fee: a percentage rate or a fixed amount (+ optional shop twin)."""

    rate: Fraction | None = None
    amount: int = 0
    amount_shop: int | None = None


@dataclass(frozen=True, slots=True)
class _Valid:
    """A request that passed §3.1 steps 1-5, in typed form."""

    lines: tuple[tuple[OrderLine, int], ...]
    shipping_mode: ShippingMode
    shipping_amount: int
    shipping_amount_shop: int | None
    restocking: _Fee | None
    label_fee: int
    label_fee_shop: int | None
    duties: DutiesMode
    method: RefundMethod


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _money(value: object, field: str) -> int:
    """A request money field: an integer count of minor units, >= 0 (§3.1 step 3)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise RefundError(
            "INVALID_AMOUNT",
            f"{field} must be an integer of minor units, got {value!r}",
            field=field,
        )
    if value < 0:
        raise RefundError("NEGATIVE_AMOUNT", f"{field} must be >= 0, got {value}", field=field)
    return value


def _optional_money(value: object, field: str) -> int | None:
    return None if value is None else _money(value, field)


def _rate(value: object, field: str) -> Fraction:
    """A percentage as an exact rational in [0, 1] (given as "0.10", 0.1 or Decimal)."""
    try:
        if isinstance(value, bool) or value is None:
            raise InvalidOperation
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
        if not number.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        raise RefundError(
            "INVALID_FEE", f"{field} must be a decimal rate in [0, 1], got {value!r}", field=field
        ) from None
    rate = Fraction(number)
    if not 0 <= rate <= 1:
        raise RefundError("INVALID_FEE", f"{field} must be within [0, 1], got {value}", field=field)
    return rate


def _enum(kind: type[_E], value: object, field: str) -> _E:
    for member in kind:
        if value == member.value:
            return member
    allowed = " | ".join(member.value for member in kind)
    raise RefundError(
        "INVALID_AMOUNT", f"{field} must be one of {allowed}, got {value!r}", field=field
    )


def _validate_lines(order: Order, request: RefundRequest) -> tuple[tuple[OrderLine, int], ...]:
    """§3.1 step 2, lines in request order: 2a unknown, 2b duplicate, 2c type, 2d remaining."""
    seen: set[str] = set()
    lines: list[tuple[OrderLine, int]] = []
    for index, item in enumerate(request.lines):
        path = f"request.lines[{index}]"
        line = order.line(item.line_id) if isinstance(item.line_id, str) else None
        if line is None:
            raise RefundError(
                "UNKNOWN_LINE",
                f"line '{item.line_id}' is not on the order",
                field=f"{path}.line_id",
            )
        if line.id in seen:
            raise RefundError(
                "DUPLICATE_LINE",
                f"line '{line.id}' appears more than once in the request",
                field=f"{path}.line_id",
            )
        seen.add(line.id)
        quantity = item.quantity
        if not _is_int(quantity) or quantity < 1:
            raise RefundError(
                "INVALID_QUANTITY",
                f"quantity of line {line.id} must be an integer >= 1, got {quantity!r}",
                field=f"{path}.quantity",
            )
        remaining = line.quantity - line.already_returned_quantity
        if quantity > remaining:
            raise RefundError(
                "QUANTITY_EXCEEDS_REMAINING",
                f"requested {quantity} but only {remaining} of line {line.id} remain returnable",
                field=f"{path}.quantity",
            )
        lines.append((line, quantity))
    return tuple(lines)


def _validate_fee(fee: RestockingFeeRequest | None) -> _Fee | None:
    if fee is None:
        return None
    path = "request.restocking_fee"
    if fee.type == "percent":
        return _Fee(rate=_rate(fee.rate, f"{path}.rate"))
    if fee.type == "fixed":
        return _Fee(
            amount=_money(fee.amount, f"{path}.amount"),
            amount_shop=_optional_money(fee.amount_shop, f"{path}.amount_shop"),
        )
    raise RefundError(
        "INVALID_FEE",
        f"restocking fee type must be percent | fixed, got {fee.type!r}",
        field=f"{path}.type",
    )


def _check_shipping_amount(
    order: Order, amount: int, amount_shop: int | None, rounding: Rounding
) -> ShippingMode:
    """§3.1 step 4 and §3.6: A ≤ what remains (and its shop twin ≤ the shop remainder).

    An amount equal to what remains is the same refund as `full` and is computed as `full`, so
    the last shipping refund closes every shipping line exactly in both currencies.
    """
    left = sum(_shipping_remaining(s, _Side.presentment(order)) for s in order.shipping_lines)
    if amount > left:
        raise RefundError(
            "SHIPPING_EXCEEDS_REMAINING",
            f"shipping amount {amount} is more than the {left} still refundable",
            field="request.shipping.amount",
        )
    if amount > 0 and amount == left:
        return ShippingMode.FULL
    if amount_shop is not None and order.is_multi_currency:
        side = _Side.shop_side(order, rounding)
        left_shop = sum(_shipping_remaining(s, side) for s in order.shipping_lines)
        if amount_shop > left_shop:
            raise RefundError(
                "SHIPPING_EXCEEDS_REMAINING",
                f"shipping amount_shop {amount_shop} is more than the {left_shop} still"
                " refundable in the shop currency",
                field="request.shipping.amount_shop",
            )
    return ShippingMode.AMOUNT


def _validate(order: Order, request: RefundRequest, rounding: Rounding) -> _Valid:
    """§3.1 steps 1-5 (6 and 7 need the computed figures)."""
    currency = request.currency
    if not isinstance(currency, str) or currency.upper() != order.currency.upper():
        raise RefundError(
            "CURRENCY_MISMATCH",
            f"the refund must be in the order's presentment currency {order.currency}, "
            f"got {currency!r}",
            field="request.currency",
        )
    lines = _validate_lines(order, request)
    mode = _enum(ShippingMode, request.shipping.mode, "request.shipping.mode")
    amount, amount_shop = 0, None
    if mode is ShippingMode.AMOUNT:
        amount = _money(request.shipping.amount, "request.shipping.amount")
        amount_shop = _optional_money(request.shipping.amount_shop, "request.shipping.amount_shop")
    restocking = _validate_fee(request.restocking_fee)
    label = _optional_money(request.return_label_fee, "request.return_label_fee") or 0
    label_shop = _optional_money(request.return_label_fee_shop, "request.return_label_fee_shop")
    duties = _enum(DutiesMode, request.refund_duties or "none", "request.refund_duties")
    method = _enum(RefundMethod, request.refund_method or "original", "request.refund_method")
    if mode is ShippingMode.AMOUNT:
        mode = _check_shipping_amount(order, amount, amount_shop, rounding)
    if not lines and mode is not ShippingMode.FULL and amount == 0:
        raise RefundError(
            "NOTHING_TO_REFUND",
            "the request returns no line and refunds no shipping",
            field="request.lines",
        )
    return _Valid(
        lines=lines,
        shipping_mode=mode,
        shipping_amount=amount,
        shipping_amount_shop=amount_shop,
        restocking=restocking,
        label_fee=label,
        label_fee_shop=label_shop,
        duties=duties,
        method=method,
    )


# --------------------------------------------------------------------------------------------
# Computation, once per currency side (§3.2-§3.8, §3.9)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Side:
    """Which money a computation reads: presentment amounts or their `*_shop` twins (§3.9).

    A missing shop twin is converted once per component with the order's recorded rate.
    """

    currency: str
    shop: bool
    rate: Fraction | None
    rounding: Rounding

    @classmethod
    def presentment(cls, order: Order, rounding: Rounding = Rounding.HALF_UP) -> _Side:
        return cls(currency=order.currency, shop=False, rate=None, rounding=rounding)

    @classmethod
    def shop_side(cls, order: Order, rounding: Rounding) -> _Side:
        currency = order.shop_currency or order.currency
        rate = None
        if order.exchange_rate is not None:
            scale = Fraction(10) ** (exponent(currency) - exponent(order.currency))
            rate = Fraction(order.exchange_rate) * scale
        return cls(currency=currency, shop=True, rate=rate, rounding=rounding)

    def pick(self, value: int, twin: int | None, *, what: str) -> int:
        if not self.shop:
            return value
        if twin is not None:
            return twin
        if value == 0:
            return 0
        if self.rate is None:
            raise DomainError(
                "MISSING_SHOP_AMOUNT",
                f"{what} has no shop-currency amount and the order records no exchange rate",
                field=what,
            )
        return round_fraction(value * self.rate, self.rounding)

    def pick_optional(self, value: int | None, twin: int | None, *, what: str) -> int | None:
        if value is None:
            return twin if self.shop else None
        return self.pick(value, twin, what=what)


def _rate_of(tax: TaxLine) -> Fraction:
    return Fraction(tax.rate) if tax.rate is not None else Fraction(0)


def _derived_tax(
    net: int, tax: TaxLine, rates: Sequence[TaxLine], *, inclusive: bool, side: _Side
) -> int:
    """§3.4: T = round(net × rate), or round(net × rate / (1 + Σ rates)) when tax-inclusive."""
    if tax.rate is None:
        raise DomainError("INVALID_ORDER", f"tax line '{tax.title}' has neither amount nor rate")
    value = net * _rate_of(tax)
    if inclusive:
        value /= 1 + sum((_rate_of(t) for t in rates), Fraction(0))
    return round_fraction(value, side.rounding)


@dataclass(frozen=True, slots=True)
class _Component:
    """One money component of a line (a discount, a tax line or a duty) and what is refunded."""

    amount: int
    refunded: int | None = None

    def share(self, units: int, *, already: int, quantity: int) -> int:
        """§3.3: S(k+q) − S(k), or C − refunded for the last units when refunds are known."""
        if self.refunded is not None and already + quantity == units:
            return self.amount - self.refunded
        return UnitSplit(self.amount, units).share(already=already, quantity=quantity)

    def rest(self, units: int, *, already: int) -> int:
        """Everything still unrefunded on the component (duties `full`, §3.5)."""
        if self.refunded is not None:
            return self.amount - self.refunded
        return UnitSplit(self.amount, units).remaining(already=already)


def _order_discount_allocations(order: Order, side: _Side) -> list[list[int]] | None:
    """§3.2 step A: per order discount, its largest-remainder share for each order line."""
    if not order.order_discounts:
        return None
    weights = []
    for line in order.line_items:
        gross = (
            side.pick(line.unit_price, line.unit_price_shop, what=f"line {line.id} unit_price")
            * line.quantity
        )
        line_level = sum(
            side.pick(d.amount, d.amount_shop, what=f"line {line.id} discount")
            for d in line.discount_allocations
            if d.level == "line"
        )
        weights.append(max(gross - line_level, 0))
    allocations = []
    for discount in order.order_discounts:
        amount = side.pick(discount.amount, discount.amount_shop, what="order discount")
        try:
            allocations.append(largest_remainder(amount, weights))
        except ValueError as exc:
            raise DomainError(
                "INVALID_ORDER", f"order discount {amount} cannot be allocated: {exc}"
            ) from exc
    return allocations


def _discount_component(
    line: OrderLine, order_shares: Sequence[int], *, line_gross: int, side: _Side
) -> _Component:
    """§3.3: all of a line's discounts as one component, so no unit is worth less than nothing.

    The platform's refunded figure is used only when every discount of the line records one
    (an unallocated order discount's share never does). Shop money converted from presentment
    can round a discount above the line's converted price; it is capped at the line's gross.
    """
    where = f"line {line.id} discount"
    amount = sum(side.pick(d.amount, d.amount_shop, what=where) for d in line.discount_allocations)
    amount += sum(order_shares)
    refunded = [
        side.pick_optional(d.already_refunded, d.already_refunded_shop, what=where)
        for d in line.discount_allocations
    ]
    known = bool(refunded) and not order_shares and None not in refunded
    if amount > line_gross:
        if not side.shop:
            raise DomainError(
                "INVALID_ORDER",
                f"line {line.id} has {amount} of discounts on a price of {line_gross}",
                field=f"order.line_items.{line.id}.discount_allocations",
            )
        amount = line_gross
    return _Component(amount, sum(r or 0 for r in refunded) if known else None)


def _line_refund(
    line: OrderLine,
    quantity: int,
    *,
    order_shares: Sequence[int],
    inclusive: bool,
    duties_mode: DutiesMode,
    side: _Side,
) -> LineRefund:
    """§3.3-§3.5 for one returned line."""
    units, already = line.quantity, line.already_returned_quantity
    where = f"line {line.id}"
    unit_price = side.pick(line.unit_price, line.unit_price_shop, what=f"{where} unit_price")
    discount_component = _discount_component(
        line, order_shares, line_gross=unit_price * units, side=side
    )
    net = unit_price * units - discount_component.amount
    taxes: list[tuple[TaxLine, _Component]] = []
    for tax in line.tax_lines:
        if tax.amount is None and not (side.shop and tax.amount_shop is not None):
            charged = _derived_tax(net, tax, line.tax_lines, inclusive=inclusive, side=side)
        else:
            charged = side.pick(tax.amount or 0, tax.amount_shop, what=f"{where} tax '{tax.title}'")
        refunded = side.pick_optional(
            tax.already_refunded, tax.already_refunded_shop, what=f"{where} tax"
        )
        taxes.append((tax, _Component(charged, refunded)))
    gross = unit_price * quantity
    discount = discount_component.share(units, already=already, quantity=quantity)
    subtotal = gross - discount
    tax_shares = tuple(
        TaxShare(tax.title, c.share(units, already=already, quantity=quantity), tax.id)
        for tax, c in taxes
    )
    tax_sum = sum(t.amount for t in tax_shares)
    duties: int | None = None
    if line.duties:
        components = [
            _Component(
                side.pick(d.amount, d.amount_shop, what=f"{where} duty"),
                side.pick_optional(
                    d.already_refunded, d.already_refunded_shop, what=f"{where} duty"
                ),
            )
            for d in line.duties
        ]
        if duties_mode is DutiesMode.PROPORTIONAL:
            duties = sum(c.share(units, already=already, quantity=quantity) for c in components)
        elif duties_mode is DutiesMode.FULL:
            duties = sum(c.rest(units, already=already) for c in components)
        else:
            duties = 0
    total = subtotal + (duties or 0) + (0 if inclusive else tax_sum)
    return LineRefund(
        line_id=line.id,
        quantity=quantity,
        gross=gross,
        discount=discount,
        subtotal=subtotal,
        tax_lines=tax_shares,
        tax=tax_sum,
        duties=duties,
        total=total,
    )


def _shipping_charged_tax(shipping: ShippingLine, side: _Side, *, inclusive: bool) -> int:
    where = f"shipping line {shipping.id}"
    price = side.pick(shipping.price, shipping.price_shop, what=f"{where} price")
    discount = side.pick(shipping.discount, shipping.discount_shop, what=f"{where} discount")
    total = 0
    for tax in shipping.tax_lines:
        if tax.amount is None and not (side.shop and tax.amount_shop is not None):
            total += _derived_tax(
                price - discount, tax, shipping.tax_lines, inclusive=inclusive, side=side
            )
        else:
            total += side.pick(tax.amount or 0, tax.amount_shop, what=f"{where} tax")
    return total


def _shipping_remaining(shipping: ShippingLine, side: _Side) -> int:
    """§3.6: price − shipping discount − already refunded."""
    where = f"shipping line {shipping.id}"
    price = side.pick(shipping.price, shipping.price_shop, what=f"{where} price")
    discount = side.pick(shipping.discount, shipping.discount_shop, what=f"{where} discount")
    refunded = side.pick(
        shipping.already_refunded, shipping.already_refunded_shop, what=f"{where} already_refunded"
    )
    return price - discount - refunded


def _shipping_refund(
    order: Order, *, mode: ShippingMode, amount: int, side: _Side
) -> ShippingRefund:
    """§3.6: none, full (everything left on every line) or amount A spread by largest remainder."""
    if mode is ShippingMode.NONE:
        return ShippingRefund()
    inclusive = order.taxes_included
    remaining: list[tuple[ShippingLine, int, int]] = []
    for shipping in order.shipping_lines:
        left = _shipping_remaining(shipping, side)
        refunded_tax = side.pick(
            shipping.already_refunded_tax,
            shipping.already_refunded_tax_shop,
            what=f"shipping line {shipping.id} already_refunded_tax",
        )
        tax_left = _shipping_charged_tax(shipping, side, inclusive=inclusive) - refunded_tax
        remaining.append((shipping, left, tax_left))
    if mode is ShippingMode.FULL:
        shares = [left for _, left, _ in remaining]
    else:
        # Shop shares never exceed what remains of their twin (§3.9): a converted amount can
        # round above it; a given one was checked in `_validate`.
        weights = [max(left, 0) for _, left, _ in remaining]
        shares = largest_remainder(min(amount, sum(weights)), weights)
    lines = []
    for (shipping, left, tax_left), share in zip(remaining, shares, strict=True):
        if share == left and (share > 0 or mode is ShippingMode.FULL):
            tax = tax_left
        elif share == 0:
            tax = 0
        else:
            tax = round_fraction(Fraction(tax_left * share, left), side.rounding)
        if share == 0 and tax == 0:
            continue
        total = share + (0 if inclusive else tax)
        lines.append(ShippingLineRefund(shipping.id, share, tax, total))
    return ShippingRefund(tuple(lines))


def _fees(valid: _Valid, lines: Sequence[LineRefund], side: _Side) -> Fees:
    """§3.7: percentage fee per line on its subtotal (rounded), fixed fees as given; negated."""
    restocking = 0
    fee = valid.restocking
    if fee is not None and fee.rate is not None:
        restocking = sum(round_fraction(fee.rate * line.subtotal, side.rounding) for line in lines)
    elif fee is not None:
        restocking = side.pick(
            fee.amount, fee.amount_shop, what="request.restocking_fee.amount_shop"
        )
    label = side.pick(valid.label_fee, valid.label_fee_shop, what="request.return_label_fee_shop")
    return Fees(restocking=-restocking, return_label=-label)


@dataclass(frozen=True, slots=True)
class _Draft:
    """Figures before the cap (§3.8)."""

    lines: tuple[LineRefund, ...]
    shipping: ShippingRefund
    fees: Fees
    allocations: dict[str, int] | None

    @property
    def positive(self) -> int:
        return sum(line.total for line in self.lines) + self.shipping.total

    @property
    def total(self) -> int:
        return self.positive + self.fees.total


def _draft(order: Order, valid: _Valid, side: _Side) -> _Draft:
    allocations = _order_discount_allocations(order, side)
    index = {line.id: i for i, line in enumerate(order.line_items)}
    lines = tuple(
        _line_refund(
            line,
            quantity,
            order_shares=[shares[index[line.id]] for shares in allocations or ()],
            inclusive=order.taxes_included,
            duties_mode=valid.duties,
            side=side,
        )
        for line, quantity in valid.lines
    )
    amount = valid.shipping_amount
    if side.shop and valid.shipping_mode is ShippingMode.AMOUNT:
        amount = side.pick(amount, valid.shipping_amount_shop, what="request.shipping.amount_shop")
    shipping = _shipping_refund(order, mode=valid.shipping_mode, amount=amount, side=side)
    summary = None
    if allocations is not None:
        summary = {
            line.id: sum(shares[i] for shares in allocations)
            for i, line in enumerate(order.line_items)
        }
    return _Draft(lines, shipping, _fees(valid, lines, side), summary)


def _figures(
    draft: _Draft,
    *,
    currency: str,
    inclusive: bool,
    cap_adjustment: int,
    refundable_before: int | None,
    tenders: tuple[Tender, ...],
) -> RefundFigures:
    return RefundFigures(
        currency=currency,
        lines=draft.lines,
        shipping=draft.shipping,
        fees=draft.fees,
        cap_adjustment=cap_adjustment,
        tax_included_in_totals=inclusive,
        refundable_before=refundable_before,
        tenders=tenders,
        order_discount_allocations=draft.allocations,
    )


def plan_refund(order: Order, request: RefundRequest, *, policy: RefundPolicy) -> RefundPlan:
    """Plan the refund of `request` against `order` (refund-math §3).

    Raises `RefundError` with the first failing check of §3.1; nothing is computed for a
    rejected request.
    """
    valid = _validate(order, request, policy.rounding)
    side = _Side.presentment(order, policy.rounding)
    draft = _draft(order, valid, side)
    deductions = -draft.fees.total
    if deductions > draft.positive:
        field = "request.restocking_fee" if draft.fees.restocking else "request.return_label_fee"
        raise RefundError(
            "DEDUCTIONS_EXCEED_REFUND",
            f"deductions of {deductions} exceed the {draft.positive} being refunded",
            field=field,
        )
    cap = order.amount_paid - order.already_refunded_amount
    adjustment = 0
    if draft.total > cap:
        if policy.on_cap_exceeded == "reject":
            raise RefundError(
                "REFUND_EXCEEDS_CAPTURED",
                f"refund of {draft.total} exceeds the {cap} still refundable on the order",
                field="total",
            )
        adjustment = max(cap, 0) - draft.total
    total = draft.total + adjustment
    try:
        tenders = allocate_tenders(total, order.payments, method=valid.method)
    except DomainError as exc:
        raise RefundError(exc.code, exc.message, field=exc.field) from exc
    presentment = _figures(
        draft,
        currency=side.currency,
        inclusive=order.taxes_included,
        cap_adjustment=adjustment,
        refundable_before=cap,
        tenders=tenders,
    )
    shop = None
    if order.is_multi_currency:
        shop = _shop_figures(order, valid, policy=policy, clamped=adjustment != 0, tenders=tenders)
    return RefundPlan(
        order_id=order.id, refund_method=valid.method, presentment=presentment, shop=shop
    )


def _shop_figures(
    order: Order,
    valid: _Valid,
    *,
    policy: RefundPolicy,
    clamped: bool,
    tenders: Sequence[Tender],
) -> RefundFigures:
    """§3.9: the same steps on the shop-money twins; the cap itself is checked in presentment."""
    side = _Side.shop_side(order, policy.rounding)
    draft = _draft(order, valid, side)
    cap: int | None = None
    if order.amount_paid_shop is not None or side.rate is not None:
        # Each figure from its twin, else converted (R4); a refund recorded without either
        # is as unknown as any other missing twin.
        paid = side.pick(order.amount_paid, order.amount_paid_shop, what="order.amount_paid")
        cap = paid - side.pick(
            order.already_refunded_amount,
            order.already_refunded_amount_shop,
            what="order.already_refunded_amount",
        )
    adjustment = 0
    if clamped and cap is not None:
        adjustment = min(max(cap, 0) - draft.total, 0)
    shop_total = draft.total + adjustment
    return _figures(
        draft,
        currency=side.currency,
        inclusive=order.taxes_included,
        cap_adjustment=adjustment,
        refundable_before=cap,
        tenders=mirror_tenders(tenders, max(shop_total, 0)),
    )


__all__ = [
    "DutiesMode",
    "Fees",
    "LineRefund",
    "RefundError",
    "RefundFigures",
    "RefundPlan",
    "RefundPolicy",
    "RefundRequest",
    "RequestLine",
    "RestockingFeeRequest",
    "ShippingLineRefund",
    "ShippingMode",
    "ShippingRefund",
    "TaxShare",
    "plan_refund",
]
