"""Loop's return JSON (details, list, webhooks) as our `ExternalReturn`."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from returnbridge.connectors.base.returns_system import ExternalReturn, ReturnLine

_STATES = {"needs review": "review", "needs_review": "review", "flagged": "review"}


def numeric_id(value: str) -> str:
    """Loop speaks Shopify's numeric ids: `gid://shopify/LineItem/123` -> `123`."""
    match = re.search(r"(\d+)$", value)
    return match.group(1) if match else value


def _amount(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _moment(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def external_return(body: dict[str, Any], *, processing_error: str | None = None) -> ExternalReturn:
    state = str(body.get("state") or "open").lower()
    lines = tuple(
        ReturnLine(
            line_item_id=str(item.get("provider_line_item_id") or item.get("line_item_id")),
            quantity=int(item.get("quantity") or 1),
            reason=item.get("reason"),
        )
        for item in body.get("line_items") or ()
        if isinstance(item, dict)
    )
    return ExternalReturn(
        id=str(body["id"]),
        state=_STATES.get(state, state),
        order_name=body.get("order_name"),
        currency=body.get("currency"),
        refund=_amount(body.get("refund")),
        total=_amount(body.get("return_total") or body.get("total")),
        product_total=_amount(body.get("return_product_total")),
        tax_total=_amount(body.get("return_tax_total")),
        discount_total=_amount(body.get("return_discount_total")),
        lines=lines,
        updated_at=_moment(body.get("updated_at") or body.get("edited_at")),
        processing_error=processing_error,
        raw=body,
    )
