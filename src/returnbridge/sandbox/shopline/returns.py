"""Return orders: create (``OPEN``) and close (``CLOSED``). A return moves no money or stock."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from returnbridge.sandbox.shopline.errors import not_found, unprocessable
from returnbridge.sandbox.shopline.state import Ids, Order, Return, ReturnLine, Store

RETURN_REASONS = (
    "COLOR",
    "DEFECTIVE",
    "NOT_AS_DESCRIBED",
    "OTHER",
    "SIZE_TOO_LARGE",
    "SIZE_TOO_SMALL",
    "STYLE",
    "UNWANTED",
    "WRONG_ITEM",
)
NOTE_LIMIT = 128


def _id(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _already_returned(store: Store, order: Order, fulfillment_id: str, line_item_id: str) -> int:
    return sum(
        line.quantity
        for entry in store.returns.values()
        if entry.order_id == order.id
        for line in entry.lines
        if line.fulfillment_id == fulfillment_id and line.line_item_id == line_item_id
    )


def create(
    store: Store, fields: Mapping[str, Any], *, ids: Ids, now: datetime
) -> tuple[Order, Return]:
    """Validate and record a return (the caller holds the lock)."""
    order_id = _id(fields.get("order_seq"))
    if order_id is None:
        raise unprocessable("order_seq is required")
    order = store.orders.get(order_id)
    if order is None:
        raise unprocessable("order not found")
    notify = fields.get("notify_customer")
    if not isinstance(notify, bool):
        raise unprocessable("notify_customer is required")
    raw_lines = fields.get("return_line_items")
    if not isinstance(raw_lines, list) or not raw_lines:
        raise unprocessable("return_line_items is required")
    wanted: dict[tuple[str, str], int] = {}
    lines = []
    for raw in raw_lines:
        if not isinstance(raw, dict):
            raise unprocessable("return_line_items must hold objects")
        fulfillment_id = _id(raw.get("fulfillment_id"))
        fulfillment = order.fulfillment(fulfillment_id) if fulfillment_id else None
        if fulfillment is None:
            raise unprocessable(f"fulfillment_id {raw.get('fulfillment_id')} not found")
        line_id = _id(raw.get("line_item_id"))
        shipped = fulfillment.shipped(line_id) if line_id else 0
        if line_id is None or shipped == 0:
            raise unprocessable(f"line_item_id {raw.get('line_item_id')} not found in fulfillment")
        quantity = raw.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise unprocessable("quantity must be a positive integer")
        key = (fulfillment.id, line_id)
        wanted[key] = wanted.get(key, 0) + quantity
        if wanted[key] + _already_returned(store, order, *key) > shipped:
            raise unprocessable(f"quantity exceeds returnable quantity for line_item_id {line_id}")
        reason = raw.get("return_reason")
        if reason is not None and reason not in RETURN_REASONS:
            raise unprocessable("invalid return_reason")
        note = raw.get("return_reason_note")
        if note is not None and (not isinstance(note, str) or len(note) > NOTE_LIMIT):
            raise unprocessable(f"return_reason_note must be at most {NOTE_LIMIT} characters")
        lines.append(
            ReturnLine(
                id=ids.next("return_line"),
                fulfillment_id=fulfillment.id,
                line_item_id=line_id,
                quantity=quantity,
                return_reason=reason,
                return_reason_note=note,
            )
        )
    reason = fields.get("return_reason")
    processed_at = fields.get("processed_at")
    entry = Return(
        id=ids.next("return"),
        order_id=order.id,
        created_at=now,
        processed_at=processed_at if isinstance(processed_at, str) else None,
        return_reason=reason if isinstance(reason, str) else None,
        notify_customer=notify,
        lines=lines,
    )
    store.returns[entry.id] = entry
    order.updated_at = now
    return order, entry


def close(store: Store, return_id: str) -> tuple[Order, Return]:
    """Close an open return (the caller holds the lock)."""
    entry = store.returns.get(return_id)
    if entry is None:
        raise not_found("return not found")
    if entry.status == "CLOSED":
        raise unprocessable("return is already closed")
    entry.status = "CLOSED"
    return store.orders[entry.order_id], entry
