"""Shopify-style refund figures: what refunding some units and some shipping is worth.

A line's discounts (all of its allocations together, so no unit is worth less than nothing)
and each of its tax lines are split over the line's units with the leftover minor units on the
first units, and refunds consume units in order, so partial refunds always add up to what was
charged. Shipping amounts are spread over shipping lines by what remains on each,
with a proportional tax share. Written from the platform's description, independently of the
returnbridge domain code it is meant to check.
"""

from __future__ import annotations

from dataclasses import dataclass

from returnbridge.sandbox.shopify.money import (
    ZERO,
    Bag,
    largest_remainder,
    proportion,
    total,
)
from returnbridge.sandbox.shopify.state import (
    Duty,
    LineItem,
    Order,
    ShippingLine,
    Transaction,
)


@dataclass(frozen=True, slots=True)
class LineRefund:
    """Units of one line in a refund and their money."""

    line: LineItem
    quantity: int
    restock_type: str
    location_id: int | None
    subtotal: Bag
    tax: Bag


@dataclass(frozen=True, slots=True)
class ShippingShare:
    """Shipping refunded on one shipping line."""

    shipping_line: ShippingLine
    subtotal: Bag
    tax: Bag


@dataclass(frozen=True, slots=True)
class SuggestedTransaction:
    """Part of a refund suggested against one charge transaction."""

    parent: Transaction
    amount: Bag
    maximum: Bag


@dataclass(frozen=True, slots=True)
class DutyRefund:
    """Part of one duty in a refund."""

    duty: Duty
    amount: Bag


@dataclass(frozen=True, slots=True)
class Suggestion:
    """The platform's calculation of a refund request."""

    lines: list[LineRefund]
    shipping: list[ShippingShare]
    shipping_maximum: Bag
    gross_subtotal: Bag
    subtotal: Bag
    tax: Bag
    amount: Bag
    maximum_refundable: Bag
    transactions: list[SuggestedTransaction]
    duties: list[DutyRefund]

    @property
    def duties_total(self) -> Bag:
        """Duties refunded."""
        return total([d.amount for d in self.duties])

    @property
    def shipping_amount(self) -> Bag:
        """Shipping refunded, before tax."""
        return total([s.subtotal for s in self.shipping])

    @property
    def shipping_tax(self) -> Bag:
        """Tax on the shipping refunded."""
        return total([s.tax for s in self.shipping])


def line_money(line: LineItem, *, taken: int, quantity: int) -> tuple[Bag, Bag]:
    """Subtotal (after discounts) and tax of units ``taken+1 .. taken+quantity`` of a line."""
    discount = total([a.amount for a in line.discount_allocations]).unit_share(
        line.quantity, taken=taken, count=quantity
    )
    tax = total(
        [t.price.unit_share(line.quantity, taken=taken, count=quantity) for t in line.tax_lines]
    )
    return line.unit_price.times(quantity) - discount, tax


def remaining_shipping(order: Order, shipping: ShippingLine) -> tuple[Bag, Bag]:
    """Shipping subtotal and tax not yet refunded on a shipping line."""
    refunded_subtotal, refunded_tax = order.refunded_shipping(shipping.id)
    return (
        shipping.price - shipping.discount - refunded_subtotal,
        shipping.tax - refunded_tax,
    )


def shipping_shares(
    order: Order, *, full: bool, amount: int | None
) -> tuple[list[ShippingShare], Bag]:
    """Shipping to refund (``amount`` in presentment minor units overrides ``full``) and the cap.

    A requested amount above what remains is capped at what remains.
    """
    remaining = [(s, *remaining_shipping(order, s)) for s in order.shipping_lines]
    maximum = total([r[1] for r in remaining])
    if amount is None and not full:
        return [], maximum
    if amount is None:
        shares = [ShippingShare(s, sub, tax) for s, sub, tax in remaining]
    else:
        wanted = max(0, min(amount, maximum.presentment))
        split = largest_remainder(wanted, [sub.presentment for _, sub, _ in remaining])
        shares = []
        for (shipping, sub, tax), part in zip(remaining, split, strict=True):
            shares.append(
                ShippingShare(
                    shipping,
                    Bag(proportion(sub.shop, part, sub.presentment), part),
                    Bag(
                        proportion(tax.shop, part, sub.presentment),
                        proportion(tax.presentment, part, sub.presentment),
                    ),
                )
            )
    return [s for s in shares if s.subtotal != ZERO or s.tax != ZERO], maximum


def spread_over_charges(order: Order, amount: Bag) -> list[SuggestedTransaction]:
    """Split ``amount`` over the successful charges in order, each up to what it has left."""
    left = amount.presentment
    suggestions: list[SuggestedTransaction] = []
    shop_given = 0
    charges = [(c, order.refundable_on(c)) for c in order.charges]
    charges = [(c, rest) for c, rest in charges if rest.presentment > 0]
    for index, (charge, rest) in enumerate(charges):
        if left <= 0:
            break
        part = min(left, rest.presentment)
        left -= part
        last = left == 0 or index == len(charges) - 1
        if part == rest.presentment:
            shop = rest.shop
        elif last:
            shop = amount.shop - shop_given
        else:
            shop = proportion(amount.shop, part, amount.presentment)
        shop_given += shop
        suggestions.append(SuggestedTransaction(charge, Bag(shop, part), rest))
    return suggestions


@dataclass(frozen=True, slots=True)
class LineRequest:
    """One requested refund line, already resolved to the order's line."""

    line: LineItem
    quantity: int
    restock_type: str
    location_id: int | None


def duty_amount(
    order: Order, line: LineItem, duty: Duty, *, refund_type: str, quantity: int
) -> Bag:
    """What refunding a duty gives back: all that is left of it (FULL), or the share of the
    ``quantity`` units refunded now, after the units refunded before (PROPORTIONAL)."""
    left = duty.price - order.refunded_duty(duty.id)
    if refund_type != "PROPORTIONAL":
        return left
    share = duty.price.unit_share(
        line.quantity, taken=order.refunded_quantity(line), count=quantity
    )
    return left if share.presentment > left.presentment else share


def price_duties(
    order: Order, requests: list[LineRequest], duties: list[tuple[int, str]]
) -> list[DutyRefund]:
    """Money of each requested ``(duty id, refund type)``; unknown duties are skipped."""
    refunded_units: dict[int, int] = {}
    for request in requests:
        refunded_units[request.line.id] = refunded_units.get(request.line.id, 0) + request.quantity
    priced = []
    for duty_id, refund_type in duties:
        found = order.duty(duty_id)
        if found is None:
            continue
        line, duty = found
        amount = duty_amount(
            order, line, duty, refund_type=refund_type, quantity=refunded_units.get(line.id, 0)
        )
        if amount.presentment > 0:
            priced.append(DutyRefund(duty, amount))
    return priced


def price_lines(order: Order, requests: list[LineRequest]) -> list[LineRefund]:
    """Money of each requested line, consuming units after those already refunded."""
    pending: dict[int, int] = {}
    priced = []
    for request in requests:
        taken = order.refunded_quantity(request.line) + pending.get(request.line.id, 0)
        pending[request.line.id] = pending.get(request.line.id, 0) + request.quantity
        subtotal, tax = line_money(request.line, taken=taken, quantity=request.quantity)
        priced.append(
            LineRefund(
                request.line,
                request.quantity,
                request.restock_type,
                request.location_id,
                subtotal,
                tax,
            )
        )
    return priced


def suggest(
    order: Order,
    requests: list[LineRequest],
    *,
    full_shipping: bool,
    shipping_amount: int | None,
    duties: list[tuple[int, str]] | None = None,
) -> Suggestion:
    """The suggested refund for some units, some shipping and some duties."""
    lines = price_lines(order, requests)
    duty_refunds = price_duties(order, requests, duties or [])
    shipping, shipping_maximum = shipping_shares(order, full=full_shipping, amount=shipping_amount)
    subtotal = total([line.subtotal for line in lines])
    line_tax = total([line.tax for line in lines])
    shipping_subtotal = total([s.subtotal for s in shipping])
    shipping_tax = total([s.tax for s in shipping])
    amount = subtotal + shipping_subtotal
    if not order.taxes_included:
        amount = amount + line_tax + shipping_tax
    amount = amount + total([d.amount for d in duty_refunds])
    maximum = order.net_payment
    to_refund = maximum if amount.presentment > maximum.presentment else amount
    return Suggestion(
        lines=lines,
        shipping=shipping,
        shipping_maximum=shipping_maximum,
        gross_subtotal=total([line.line.unit_price.times(line.quantity) for line in lines]),
        subtotal=subtotal,
        tax=line_tax + shipping_tax,
        amount=amount,
        maximum_refundable=maximum,
        transactions=spread_over_charges(order, to_refund),
        duties=duty_refunds,
    )
