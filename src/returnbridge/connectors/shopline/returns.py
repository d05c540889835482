"""SHOPLINE return orders (`return/create.json`, `return.json`, `return/{id}/close.json`).

A return records goods coming back against a fulfillment; it moves no money and no stock
(the refund does both). SHOPLINE wants each returned unit tied to the fulfillment that
shipped it, so a line's units are placed on the order's fulfillments in order, skipping
units that earlier returns of the same fulfillment line already took.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from returnbridge.domain.errors import PermanentError

Json = Mapping[str, Any]
ReturnReason = Literal[
    "COLOR",
    "DEFECTIVE",
    "NOT_AS_DESCRIBED",
    "OTHER",
    "SIZE_TOO_LARGE",
    "SIZE_TOO_SMALL",
    "STYLE",
    "UNWANTED",
    "WRONG_ITEM",
]
MAX_REASON_NOTE = 128


@dataclass(frozen=True, slots=True)
class ReturnLineRequest:
    """Units of one order line coming back, with SHOPLINE's reason code."""

    line_id: str
    quantity: int
    reason: ReturnReason = "OTHER"
    note: str | None = None


@dataclass(frozen=True, slots=True)
class ReturnedLine:
    line_id: str | None
    quantity: int
    fulfillment_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class PlatformReturn:
    """A return order as SHOPLINE recorded it (`status` OPEN or CLOSED)."""

    id: str
    order_id: str
    status: str
    lines: tuple[ReturnedLine, ...] = ()
    reason: str | None = None
    created_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status.upper() == "OPEN"


def _rows(value: Any) -> list[Json]:
    return [x for x in value if isinstance(x, Mapping)] if isinstance(value, list) else []


def _line_of(item: Json) -> str | None:
    """The order line a return line is for (its own field, else the fulfillment line's)."""
    if item.get("line_item_id") is not None:
        return str(item["line_item_id"])
    held = item.get("fulfillment_line_item")
    line = held.get("line_item") if isinstance(held, Mapping) else None
    if isinstance(line, Mapping) and line.get("id") is not None:
        return str(line["id"])
    return None


def return_line_items(
    order: Json, earlier: Sequence[Json], lines: Sequence[ReturnLineRequest]
) -> list[dict[str, Any]]:
    """`return_line_items[]`: each requested line spread over the fulfillments that shipped
    it, minus units already on earlier returns (open or closed) of that fulfillment line."""
    taken: dict[tuple[str, str], int] = {}
    for made in earlier:
        for item in _rows(made.get("return_line_items")):
            line_id = _line_of(item)
            if line_id and item.get("fulfillment_id") is not None:
                key = (str(item["fulfillment_id"]), line_id)
                taken[key] = taken.get(key, 0) + int(item.get("quantity") or 0)
    shipped: list[tuple[str, str, int]] = []
    for fulfillment in _rows(order.get("fulfillments")):
        for item in _rows(fulfillment.get("line_items")):
            shipped.append(
                (str(fulfillment["id"]), str(item["id"]), int(item.get("quantity") or 0))
            )
    items: list[dict[str, Any]] = []
    for line in lines:
        if line.note is not None and len(line.note) > MAX_REASON_NOTE:
            raise PermanentError(
                "REASON_NOTE_TOO_LONG",
                f"SHOPLINE keeps at most {MAX_REASON_NOTE} characters of a return reason note",
            )
        due = line.quantity
        for fulfillment_id, line_id, quantity in shipped:
            if line_id != line.line_id or due <= 0:
                continue
            key = (fulfillment_id, line_id)
            free = quantity - taken.get(key, 0)
            share = min(due, free)
            if share <= 0:
                continue
            taken[key] = taken.get(key, 0) + share
            due -= share
            entry: dict[str, Any] = {
                "fulfillment_id": fulfillment_id,
                "line_item_id": line_id,
                "quantity": share,
                "return_reason": line.reason,
            }
            if line.note:
                entry["return_reason_note"] = line.note
            items.append(entry)
        if due > 0:
            raise PermanentError(
                "NOT_SHIPPED",
                f"order {order.get('id')}: {due} of {line.quantity} units of line "
                f"{line.line_id} were not shipped or are already on a return; SHOPLINE "
                "returns only shipped units",
            )
    return items


def platform_return(node: Json) -> PlatformReturn:
    created = node.get("created_at")
    try:
        created_at = (
            datetime.fromisoformat(created.replace("Z", "+00:00"))
            if isinstance(created, str)
            else None
        )
    except ValueError:
        created_at = None
    reason = node.get("return_reason")
    return PlatformReturn(
        id=str(node["id"]),
        order_id=str(node.get("order_id")),
        status=str(node.get("status") or ""),
        lines=tuple(
            ReturnedLine(
                line_id=_line_of(item),
                quantity=int(item.get("quantity") or 0),
                fulfillment_id=str(item["fulfillment_id"])
                if item.get("fulfillment_id") is not None
                else None,
                reason=str(item["return_reason"]) if item.get("return_reason") else None,
            )
            for item in _rows(node.get("return_line_items"))
        ),
        reason=str(reason) if reason else None,
        created_at=created_at,
    )
