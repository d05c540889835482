"""From a canonical return and a fresh order to a refund request, and from a plan to a command.

Everything here is a pure translation; the workflow steps call it right before they talk to
the platform, so the plan always reflects the order as it is now.
"""

from __future__ import annotations

from dataclasses import dataclass

from returnbridge.connectors.base.connector import (
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
from returnbridge.domain.returns import CanonicalReturn

REFUND_NOTE_PREFIX = NOTE_PREFIX


def refund_key(return_id: str, revision: int, attempt: int = 1) -> str:
    """The refund's idempotency key, fixed before the first attempt (DESIGN §4.3)."""
    return f"rb-{return_id}-{revision}-{attempt}"


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
    instruction = canonical.refund
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
    """Per line: RETURN to the location for shipped units, CANCEL for unshipped, or none.

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
            commands.append(
                RefundLineCommand(line_id=line_id, quantity=quantity - shipped, restock="cancel")
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


def recorded_differences(money: RefundMoney, refund: PlatformRefund) -> list[str]:
    """Where the refund the platform recorded differs from the plan (0 tolerance).

    The total always; lines and shipping where the platform's answer states them.
    """
    problems: list[str] = []
    if refund.total != money.total:
        problems.append(f"total: planned {money.total}, platform recorded {refund.total}")
    planned = {line.line_id: line for line in money.lines}
    for line in refund.lines:
        ours = planned.get(line.line_id)
        if ours is None or line.subtotal is None:
            continue
        if line.subtotal != ours.subtotal:
            problems.append(
                f"line {line.line_id}: subtotal planned {ours.subtotal}, recorded {line.subtotal}"
            )
        if line.tax is not None and line.tax != ours.tax:
            problems.append(f"line {line.line_id}: tax planned {ours.tax}, recorded {line.tax}")
    if refund.shipping is not None and refund.shipping != money.shipping_amount:
        problems.append(f"shipping: planned {money.shipping_amount}, recorded {refund.shipping}")
    return problems


def refund_command(
    plan: RefundPlan | None,
    order: Order,
    *,
    quantities: dict[str, int],
    key: str,
    note: str,
    choice: RestockChoice,
    shipping_mode: str,
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
        tenders=tenders,
        note=note,
        expected_total=plan.total if plan is not None else 0,
        money=refund_money(plan) if plan is not None else None,
    )


def disagreements(plan: RefundPlan, suggested: SuggestedRefund) -> list[str]:
    """Where the platform's own calculation differs from our plan, line by line (0 tolerance)."""
    problems: list[str] = []
    ours = {line.line_id: line for line in plan.lines}
    theirs: dict[str, tuple[int, int, int]] = {}
    for hint in suggested.lines:
        qty, subtotal, tax = theirs.get(hint.line_id, (0, 0, 0))
        theirs[hint.line_id] = (qty + hint.quantity, subtotal + hint.subtotal, tax + hint.tax)
    for line_id, line in ours.items():
        if line_id not in theirs:
            problems.append(f"line {line_id}: platform suggests nothing")
            continue
        _qty, subtotal, tax = theirs[line_id]
        if subtotal != line.subtotal:
            problems.append(f"line {line_id}: subtotal ours {line.subtotal} platform {subtotal}")
        if tax != line.tax:
            problems.append(f"line {line_id}: tax ours {line.tax} platform {tax}")
    if plan.shipping.amount != suggested.shipping_amount:
        problems.append(
            f"shipping: ours {plan.shipping.amount} platform {suggested.shipping_amount}"
        )
    if plan.shipping.tax != suggested.shipping_tax:
        problems.append(f"shipping tax: ours {plan.shipping.tax} platform {suggested.shipping_tax}")
    return problems
