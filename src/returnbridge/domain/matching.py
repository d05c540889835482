"""Deciding which order a return belongs to, and which order lines it names.

The connector finds candidates; this module decides. Exactly one candidate is a match; none or
several go to a human (`needs_review`) with the candidates recorded, never to a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from returnbridge.domain.errors import DomainError
from returnbridge.domain.orders import Order, OrderLine, OrderSummary
from returnbridge.domain.returns import OrderReference, ReturnLine


def normalise_order_name(name: str) -> str:
    """'#1001', '1001' and ' #1001 ' all name the same order."""
    return name.strip().lstrip("#").strip().casefold()


def normalise_email(email: str) -> str:
    return email.strip().casefold()


@dataclass(frozen=True, slots=True)
class MatchDecision:
    """Outcome of matching: an order id, or the reason a human must decide."""

    order_id: str | None
    reason: str
    candidates: tuple[OrderSummary, ...] = field(default=())

    @property
    def matched(self) -> bool:
        return self.order_id is not None


def decide_match(
    reference: OrderReference,
    candidates: list[OrderSummary],
    *,
    skus: tuple[str, ...] = (),
) -> MatchDecision:
    """Narrow search hits by every clue the vendor gave; match only a single survivor."""
    survivors = list(candidates)
    if reference.order_number:
        wanted = normalise_order_name(reference.order_number)
        survivors = [c for c in survivors if c.name and normalise_order_name(c.name) == wanted]
    if reference.customer_email:
        wanted_email = normalise_email(reference.customer_email)
        survivors = [c for c in survivors if c.email and normalise_email(c.email) == wanted_email]
    if skus:
        # A hit whose lines were not all read may carry the SKUs on a line we did not see.
        with_skus = [c for c in survivors if set(skus) <= set(c.skus) or not c.skus_complete]
        # SKU clues only narrow; hits without SKU data stay candidates.
        if with_skus or not any(c.skus for c in survivors):
            survivors = with_skus or survivors
    if len(survivors) == 1:
        return MatchDecision(survivors[0].id, "single candidate", tuple(survivors))
    if not survivors:
        return MatchDecision(None, "no order matches the reference", tuple(candidates))
    return MatchDecision(None, f"{len(survivors)} orders match the reference", tuple(survivors))


@dataclass(frozen=True, slots=True)
class ResolvedLine:
    """A return line pinned to one order line."""

    line: OrderLine
    quantity: int
    source: ReturnLine


def resolve_lines(order: Order, lines: tuple[ReturnLine, ...]) -> list[ResolvedLine]:
    """Pin each return line to an order line, by platform line id or by SKU.

    A SKU that appears on several lines is taken from the first line with enough units left;
    a line that cannot be pinned raises `DomainError(UNRESOLVED_LINE)` (a human decides).
    """
    taken: dict[str, int] = {}
    resolved: list[ResolvedLine] = []
    for index, item in enumerate(lines):
        line = _find_line(order, item, taken)
        if line is None:
            what = f"line id {item.line_id}" if item.line_id else f"sku {item.sku}"
            raise DomainError(
                "UNRESOLVED_LINE",
                f"lines[{index}]: {what} is not on order {order.name or order.id}"
                " with enough returnable units",
                field=f"lines[{index}]",
            )
        taken[line.id] = taken.get(line.id, 0) + item.quantity
        resolved.append(ResolvedLine(line=line, quantity=item.quantity, source=item))
    return resolved


def _find_line(order: Order, item: ReturnLine, taken: dict[str, int]) -> OrderLine | None:
    def remaining(line: OrderLine) -> int:
        return line.quantity - line.already_returned_quantity - taken.get(line.id, 0)

    if item.line_id:
        line = order.line(item.line_id)
        return line if line is not None and remaining(line) >= item.quantity else None
    for line in order.line_items:
        if item.sku and line.sku == item.sku and remaining(line) >= item.quantity:
            return line
    return None
