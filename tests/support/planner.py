"""Builders shared by the refund planner's unit tests: policies, order lines and orders."""

from __future__ import annotations

from typing import Any

from returnbridge.domain.money import Rounding
from returnbridge.domain.orders import Order
from returnbridge.domain.refunds import RefundPolicy

UP = RefundPolicy(rounding=Rounding.HALF_UP)
EVEN = RefundPolicy(rounding=Rounding.HALF_EVEN)
CLAMP = RefundPolicy(on_cap_exceeded="clamp")


def line(line_id: str = "L1", **fields: Any) -> dict[str, Any]:
    """One order line: a single unit at 10.00 unless `fields` say otherwise."""
    return {"id": line_id, "quantity": 1, "unit_price": 1000, **fields}


def order(*lines: dict[str, Any], **fields: Any) -> Order:
    """A USD order of `lines` (one default line), paid well beyond its total."""
    data: dict[str, Any] = {
        "id": "O1",
        "currency": "USD",
        "line_items": list(lines) or [line()],
        "amount_paid": 1_000_000,
        **fields,
    }
    return Order.model_validate(data)
