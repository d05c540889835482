"""Loop's return JSON (details, list, webhooks) as our `ExternalReturn`."""

from __future__ import annotations

import re
from datetime import UTC, datetime
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
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def _moment(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # Loop's times are UTC


def _lines(items: Any) -> tuple[ReturnLine, ...]:
    """Returned units per store line item, in order; Loop may list each unit on its own."""
    units: dict[str, int] = {}
    reasons: dict[str, str | None] = {}
    for item in items or ():
        if not isinstance(item, dict):
            continue
        line_id = str(item.get("provider_line_item_id") or item.get("line_item_id"))
        units[line_id] = units.get(line_id, 0) + int(item.get("quantity") or 1)
        reasons.setdefault(line_id, item.get("reason"))
    return tuple(ReturnLine(line_id, n, reasons[line_id]) for line_id, n in units.items())


def external_return(body: dict[str, Any], *, processing_error: str | None = None) -> ExternalReturn:
    """Loop's return (details, list row or webhook) as ours; unknown states pass lowercased."""
    state = str(body.get("state") or "open").lower()
    lines = _lines(body.get("line_items"))
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
