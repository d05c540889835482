"""From a canonical return and a fresh order to a refund request, and from a plan to a command.

Everything here is a pure translation; the workflow steps call it right before they talk to
the platform, so the plan always reflects the order as it is now.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from returnbridge.connectors.base.connector import (
    DutyCommand,
    LineMoney,
    PlatformRefund,
    RefundCommand,
    RefundLineCommand,
    RefundMoney,
    ShippingMoney,
    SuggestedRefund,
    TaxAmount,
    TenderCommand,
)
from returnbridge.connectors.base.dedupe import NOTE_PREFIX
from returnbridge.domain.matching import ResolvedLine
from returnbridge.domain.money import parse_minor
from returnbridge.domain.orders import Order
from returnbridge.domain.refunds import RefundPlan, RefundRequest
from returnbridge.domain.returns import CanonicalReturn, RefundInstruction

REFUND_NOTE_PREFIX = NOTE_PREFIX


def refund_key(return_id: str, revision: int, attempt: int = 1) -> str:
    """The refund's idempotency key, fixed before the first attempt (DESIGN §4.3)."""
    return f"rb-{return_id}-{revision}-{attempt}"


def platform_key(key: str, refusals: int) -> str:
    """The key a platform dedupes a send by: ours, or ours with the number of refusals before
    it (a platform that replays a refused key's answer would refuse a fixed retry again)."""
    return key if refusals == 0 else f"{key}.{refusals}"


def refund_note(key: str, canonical: CanonicalReturn) -> str:
    reason = f": {canonical.reason}" if canonical.reason else ""
    return f"{REFUND_NOTE_PREFIX} {key} (return {canonical.external_id}{reason})"


def merged_quantities(resolved: list[ResolvedLine]) -> dict[str, int]:
    """Quantities per order line, in first-seen order (two return lines may share one)."""
    merged: dict[str, int] = {}
    for item in resolved:
        merged[item.line.id] = merged.get(item.line.id, 0) + item.quantity
    return merged


def refund_request(
    canonical: CanonicalReturn, order: Order, resolved: list[ResolvedLine]
) -> RefundRequest:
    """The planner's request for this return against `order` (amounts parsed exactly)."""
    return instruction_request(canonical.refund, order, resolved)


def instruction_request(
    instruction: RefundInstruction, order: Order, resolved: list[ResolvedLine]
) -> RefundRequest:
    """The planner's request for `instruction` and the resolved lines against `order`."""
    currency = instruction.currency or order.currency
    shipping: dict[str, object] = {"mode": instruction.shipping.mode}
    if instruction.shipping.amount is not None:
        shipping["amount"] = parse_minor(
            instruction.shipping.amount, currency, field="refund.shipping.amount"
        )
    fee: dict[str, object] | None = None
    if instruction.restocking_fee is not None:
        fee = {"type": instruction.restocking_fee.type}
        if instruction.restocking_fee.rate is not None:
            fee["rate"] = str(instruction.restocking_fee.rate)
        if instruction.restocking_fee.amount is not None:
            fee["amount"] = parse_minor(
                instruction.restocking_fee.amount, currency, field="refund.restocking_fee.amount"
            )
    label = (
        parse_minor(instruction.return_label_fee, currency, field="refund.return_label_fee")
        if instruction.return_label_fee is not None
        else None
    )
    return RefundRequest.model_validate(
        {
            "currency": currency,
            "lines": [
                {"line_id": line_id, "quantity": qty}
                for line_id, qty in merged_quantities(resolved).items()
            ],
            "shipping": shipping,
            "restocking_fee": fee,
            "return_label_fee": label,
            "refund_method": instruction.method,
            "refund_duties": instruction.duties,
        }
    )


@dataclass(frozen=True, slots=True)
class RestockChoice:
    """Where returned goods go: a location, or nowhere (refund-only, policy)."""

    restock: bool
    location_id: str | None


def line_commands(
    order: Order, quantities: dict[str, int], *, choice: RestockChoice
) -> tuple[RefundLineCommand, ...]:
    """Per line: RETURN to the location for shipped units, CANCEL (at the same location) for
    unshipped ones, or none.

    Units already refunded are taken to be shipped ones first, so a line's returnable shipped
    units are `fulfilled - already_returned`; anything beyond that was never shipped.
    """
    commands: list[RefundLineCommand] = []
    for line_id, quantity in quantities.items():
        line = order.line(line_id)
        if line is None:
            continue
        if not choice.restock:
            commands.append(RefundLineCommand(line_id=line_id, quantity=quantity, restock="none"))
            continue
        fulfilled = line.quantity if line.fulfilled_quantity is None else line.fulfilled_quantity
        shipped_left = max(0, fulfilled - line.already_returned_quantity)
        shipped = min(quantity, shipped_left)
        if shipped and choice.location_id:
            commands.append(
                RefundLineCommand(
                    line_id=line_id,
                    quantity=shipped,
                    restock="return",
                    location_id=choice.location_id,
                )
            )
        elif shipped:
            commands.append(RefundLineCommand(line_id=line_id, quantity=shipped, restock="none"))
        if quantity - shipped:
            # Unshipped units go back to stock where they were held; Shopify wants the
            # location named for CANCEL as for RETURN (docs/sandbox-shopify.md).
            commands.append(
                RefundLineCommand(
                    line_id=line_id,
                    quantity=quantity - shipped,
                    restock="cancel",
                    location_id=choice.location_id,
                )
            )
    return tuple(commands)


def refund_money(plan: RefundPlan) -> RefundMoney:
    """The plan's presentment figures as the command carries them."""
    figures = plan.presentment
    return RefundMoney(
        lines=tuple(
            LineMoney(
                line_id=line.line_id,
                quantity=line.quantity,
                subtotal=line.subtotal,
                taxes=tuple(
                    TaxAmount(title=t.title, amount=t.amount, tax_id=t.tax_id)
                    for t in line.tax_lines
                ),
                tax=line.tax,
                duties=line.duties or 0,
            )
            for line in figures.lines
        ),
        shipping=tuple(
            ShippingMoney(shipping_line_id=line.shipping_line_id, amount=line.amount, tax=line.tax)
            for line in figures.shipping.lines
        ),
        fees=figures.fees.total,
        adjustment=figures.cap_adjustment,
        total=figures.total,
    )


def recorded_differences(
    money: RefundMoney, refund: PlatformRefund, *, tolerance: int = 0
) -> list[str]:
    """Where the refund the platform recorded differs from the plan by more than `tolerance`
    minor units per figure.

    The total always; lines and shipping where the platform's answer states them.
    """
    problems: list[str] = []

    def differs(ours: int, theirs: int) -> bool:
        return abs(ours - theirs) > tolerance

    if differs(refund.total, money.total):
        problems.append(f"total: planned {money.total}, platform recorded {refund.total}")
    planned = {line.line_id: line for line in money.lines}
    for line in refund.lines:
        ours = planned.get(line.line_id)
        if ours is None or line.subtotal is None:
            continue
        if differs(line.subtotal, ours.subtotal):
            problems.append(
                f"line {line.line_id}: subtotal planned {ours.subtotal}, recorded {line.subtotal}"
            )
        if line.tax is not None and differs(line.tax, ours.tax):
            problems.append(f"line {line.line_id}: tax planned {ours.tax}, recorded {line.tax}")
    if refund.shipping is not None and differs(refund.shipping, money.shipping_amount):
        problems.append(f"shipping: planned {money.shipping_amount}, recorded {refund.shipping}")
    return problems


def duty_commands(plan: RefundPlan | None, order: Order, mode: str) -> tuple[DutyCommand, ...]:
    """The duties of the lines whose plan refunds duties, by the platform's duty id."""
    if plan is None or mode not in ("full", "proportional"):
        return ()
    lines = {line.id: line for line in order.line_items}
    commands = []
    for planned in plan.lines:
        if not planned.duties:
            continue
        for duty in lines[planned.line_id].duties:
            if duty.id:
                refund_type: Literal["full", "proportional"] = (
                    "full" if mode == "full" else "proportional"
                )
                commands.append(DutyCommand(duty_id=duty.id, refund_type=refund_type))
    return tuple(commands)


def refund_command(
    plan: RefundPlan | None,
    order: Order,
    *,
    quantities: dict[str, int],
    key: str,
    note: str,
    choice: RestockChoice,
    shipping_mode: str,
    tolerance: int = 0,
    duties_mode: str = "none",
) -> RefundCommand:
    """The platform refund for `plan`; `plan` None means goods only (no money moves)."""
    tenders: tuple[TenderCommand, ...] = ()
    shipping_full = False
    shipping_amount: int | None = None
    if plan is not None:
        tenders = tuple(
            TenderCommand(
                amount=t.amount, method=t.method, parent_id=t.payment_id, gateway=t.gateway
            )
            for t in plan.tenders
            if t.amount > 0
        )
        if shipping_mode == "full":
            shipping_full = True
        elif shipping_mode == "amount":
            shipping_amount = plan.shipping.amount
    return RefundCommand(
        order_id=order.id,
        currency=order.currency,
        idempotency_key=key,
        lines=line_commands(order, quantities, choice=choice),
        shipping_full=shipping_full,
        shipping_amount=shipping_amount,
        duties=duty_commands(plan, order, duties_mode),
        tenders=tenders,
        note=note,
        expected_total=plan.total if plan is not None else 0,
        money=refund_money(plan) if plan is not None else None,
        tolerance=tolerance,
    )


def disagreements(plan: RefundPlan, suggested: SuggestedRefund, *, tolerance: int = 0) -> list[str]:
    """Where the platform's own calculation differs from our plan, line by line.

    Each money figure (a line's subtotal and tax, shipping and its tax, duties when the
    platform states them) may differ by at most `tolerance` minor units; quantities and lines
    the platform leaves out always count.
    """
    problems: list[str] = []

    def compare(what: str, ours: int, platform: int) -> None:
        if abs(ours - platform) > tolerance:
            problems.append(f"{what} ours {ours} platform {platform}")

    theirs: dict[str, tuple[int, int, int]] = {}
    for hint in suggested.lines:
        qty, subtotal, tax = theirs.get(hint.line_id, (0, 0, 0))
        theirs[hint.line_id] = (qty + hint.quantity, subtotal + hint.subtotal, tax + hint.tax)
    for line in plan.lines:
        if line.line_id not in theirs:
            problems.append(f"line {line.line_id}: platform suggests nothing")
            continue
        qty, subtotal, tax = theirs[line.line_id]
        if qty != line.quantity:
            problems.append(f"line {line.line_id}: quantity ours {line.quantity} platform {qty}")
        compare(f"line {line.line_id}: subtotal", line.subtotal, subtotal)
        compare(f"line {line.line_id}: tax", line.tax, tax)
    ours_ids = {line.line_id for line in plan.lines}
    for line_id in sorted(set(theirs) - ours_ids):
        if theirs[line_id][1] or theirs[line_id][2]:
            problems.append(f"line {line_id}: platform refunds a line we do not")
    compare("shipping:", plan.shipping.amount, suggested.shipping_amount)
    compare("shipping tax:", plan.shipping.tax, suggested.shipping_tax)
    if suggested.duties is not None:
        compare("duties:", plan.presentment.duties, suggested.duties)
    return problems


def suggestion_breakdown(suggested: SuggestedRefund) -> dict[str, Any]:
    """The platform's calculation as JSON, to show beside our plan's breakdown."""
    out: dict[str, Any] = {
        "currency": suggested.currency,
        "lines": [
            {
                "line_id": line.line_id,
                "quantity": line.quantity,
                "subtotal": line.subtotal,
                "tax": line.tax,
            }
            for line in suggested.lines
        ],
        "items_subtotal": suggested.subtotal,
        "shipping": {"amount": suggested.shipping_amount, "tax": suggested.shipping_tax},
        "tax_total": suggested.tax,
    }
    if suggested.duties is not None:
        out["duties"] = suggested.duties
    out["total"] = suggested.total
    out["tenders"] = [
        {"amount": t.amount, "gateway": t.gateway, "parent_id": t.parent_id}
        for t in suggested.tenders
    ]
    return out
