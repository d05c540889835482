"""Builders shared by the refund planner's unit tests: policies, order lines and orders."""

from __future__ import annotations

from typing import Any

import pytest

from returnbridge.domain.money import Rounding
from returnbridge.domain.orders import Order
from returnbridge.domain.refunds import (
    RefundError,
    RefundPlan,
    RefundPolicy,
    RefundRequest,
    plan_refund,
)

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


def request(*lines: tuple[str, Any], currency: str = "USD", **fields: Any) -> RefundRequest:
    """A refund request for `(line id, quantity)` pairs."""
    data: dict[str, Any] = {
        "currency": currency,
        "lines": [{"line_id": line_id, "quantity": q} for line_id, q in lines],
        **fields,
    }
    return RefundRequest.model_validate(data)


def plan(of: Order, wanted: RefundRequest, policy: RefundPolicy = UP) -> RefundPlan:
    return plan_refund(of, wanted, policy=policy)


def error(of: Order, wanted: RefundRequest, policy: RefundPolicy = UP) -> RefundError:
    """The RefundError the planner raises for this request (fails the test if none)."""
    with pytest.raises(RefundError) as caught:
        plan_refund(of, wanted, policy=policy)
    return caught.value
