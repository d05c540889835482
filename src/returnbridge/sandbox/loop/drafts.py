"""Return Create (draft returns): the rules, apart from HTTP.

A draft starts ``created`` for an order found by name and secondary input (its email, postal
code or phone); returned units are added one order line at a time; submit turns it into an
open return (``submitted``, ``return_id`` set) unless no return policy covers the order.
The caller holds the world's lock.
"""

from __future__ import annotations

from typing import Any

from returnbridge.sandbox.loop import webhooks
from returnbridge.sandbox.loop.errors import draft_error, not_found
from returnbridge.sandbox.loop.simulator import Simulator
from returnbridge.sandbox.loop.state import Draft, LoopReturn, Order, ReturnLine, Shop


def initialize(sim: Simulator, shop: Shop, body: dict[str, Any]) -> Draft:
    """A new draft, or ``order-not-found`` / ``secondary-input-mismatch`` (422)."""
    name = str(body.get("order_name") or "").strip()
    if not name:
        raise draft_error("validation-failed", "The order name field is required.")
    order = shop.find_order(name)
    if order is None:
        raise draft_error("order-not-found", "Order not found.")
    given = str(body.get("secondary_input") or "")
    if not _matches(order, given):
        raise draft_error("secondary-input-mismatch", "Secondary input mismatch.")
    draft = Draft(sim.world.next_id(), shop.name, order, bool(body.get("is_gift")), given.strip())
    sim.world.drafts[draft.id] = draft
    return draft


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _matches(order: Order, given: str) -> bool:
    """The order's email or postal code (case and spaces aside), or its phone's digits."""
    text = given.strip().lower()
    if text in (order.email.lower(), order.zip.lower()):
        return True
    if text.replace(" ", "") == order.zip.lower().replace(" ", ""):
        return True
    return bool(order.phone) and bool(_digits(text)) and _digits(text) == _digits(order.phone or "")


def find(sim: Simulator, shop: Shop, draft_id: int) -> Draft:
    draft = sim.world.drafts.get(draft_id)
    if draft is None or draft.shop != shop.name:
        raise not_found("Draft return")
    return draft


def _open(draft: Draft) -> None:
    if draft.state != "created":
        raise draft_error("draft-return-not-editable", f"The draft return is {draft.state}.")


def add_item(sim: Simulator, draft: Draft, body: dict[str, Any]) -> ReturnLine:
    """Units of one order line; ``quantity`` defaults to 1 (Loop adds one unit per call;
    the sandbox also takes a count). More than remain returnable: ``quantity-unavailable``."""
    _open(draft)
    line = draft.order.line(body.get("line_item_id"))
    quantity = body.get("quantity", 1)
    if line is None:
        raise draft_error("invalid-line-item", "The line item is not part of the order.")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise draft_error("validation-failed", "The quantity must be a positive integer.")
    taken = sim.world.returned_units(draft.order, line)
    taken += sum(rl.quantity for rl in draft.lines if rl.line is line)
    if taken + quantity > line.quantity:
        raise draft_error("quantity-unavailable", "More units than remain returnable.")
    reason = body.get("reason")
    added = ReturnLine(sim.world.next_small_id(), line, quantity, str(reason) if reason else None)
    draft.lines.append(added)
    return added


def remove_item(draft: Draft, item_id: int) -> None:
    _open(draft)
    kept = [rl for rl in draft.lines if rl.id != item_id]
    if len(kept) == len(draft.lines):
        raise not_found("Returning item")
    draft.lines = kept


def submit(sim: Simulator, shop: Shop, draft: Draft) -> bool:
    """Submit: True when a return was created now; a submitted draft answers as it is."""
    if draft.state == "submitted":
        return False
    if not shop.covers(draft.order):
        raise draft_error(
            "returns-unavailable-for-order", "No return policy covers this order's address."
        )
    if not draft.lines:
        raise draft_error("no-returning-items", "Add a returning item before submitting.")
    now = sim.clock()
    created = LoopReturn(sim.world.next_id(), shop.name, draft.order, draft.lines, now, now)
    sim.world.returns[created.id] = created
    draft.state, draft.return_id = "submitted", created.id
    webhooks.emit(sim, created, webhooks.CREATED)
    return True


def returnable(sim: Simulator, draft: Draft) -> dict[int, int]:
    """Units still returnable per order line id, this draft's included."""
    return {
        line.id: line.quantity
        - sim.world.returned_units(draft.order, line)
        - (0 if draft.return_id else sum(rl.quantity for rl in draft.lines if rl.line is line))
        for line in draft.order.lines
    }
