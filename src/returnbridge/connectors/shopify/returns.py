"""Shopify returns: `returnCreate` when a return is approved, `returnProcess` when its goods are
dealt with, the refund as the processing's financial transfer.

Neither mutation is idempotent in API 2026-01 (`@idempotent` is documented for other mutations
only), so exactly once rests on what Shopify keeps: our key starts every return line's
`returnReasonNote`, and the order's returns are read for it before a return is opened and
after an answer that was lost. A return whose every unit is processed is never processed
again: its refund is answered instead. The processing's `note` carries the key too, which is
how the engine's `list_refunds` + `find_by_key` find the refund.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from returnbridge.connectors.base.connector import (
    OpenReturnCommand,
    PlatformRefund,
    PlatformReturn,
    PlatformReturnLine,
    ProcessedReturn,
    ProcessReturnCommand,
    RefundCommand,
    RefundedLine,
    SuggestedRefund,
)
from returnbridge.connectors.base.dedupe import key_in_note, note_marker
from returnbridge.connectors.shopify import mapping, tenders
from returnbridge.connectors.shopify.client import ShopifyGraphQLClient
from returnbridge.connectors.shopify.errors import error_from_user_errors
from returnbridge.domain.errors import DomainError, NotFound, PermanentError, TransientError
from returnbridge.domain.money import format_minor

Json = Mapping[str, Any]
MAX_RETURNS = 5  # per order, read in one call (a longer list is refused, never cut)
MAX_RETURN_LINES = 10  # per return, as ReturnFields and OrderReturns read them
MAX_REASON_NOTE = 255  # ReturnLineItemInput.returnReasonNote
_DONE = frozenset({"CANCELED", "DECLINED"})  # returns that no longer hold their units
DISPOSITIONS = {"return": "RESTOCKED", "none": "NOT_RESTOCKED"}


def _nodes(connection: Any) -> list[Json]:
    if not isinstance(connection, Mapping):
        return []
    return [n for n in connection.get("nodes") or () if isinstance(n, Mapping)]


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _id(value: Any) -> str | None:
    return str(value["id"]) if isinstance(value, Mapping) and value.get("id") else None


# -- reading -----------------------------------------------------------------------------------


def _read(client: ShopifyGraphQLClient, order_id: str, *, fulfillments: bool) -> Json:
    data = client.execute(
        "OrderReturns", {"id": order_id, "returns": MAX_RETURNS + 1, "fulfillments": fulfillments}
    )
    order = data.get("order")
    if not isinstance(order, Mapping):
        raise NotFound("NOT_FOUND", f"order {order_id} not found")
    return order


def _returns(order: Json, order_id: str) -> list[Json]:
    nodes = _nodes(order.get("returns"))
    if len(nodes) > MAX_RETURNS:
        raise PermanentError(
            "ORDER_TOO_LARGE", f"order {order_id}: more than {MAX_RETURNS} returns"
        )
    return nodes


def _is_ours(node: Json, key: str) -> bool:
    marker = note_marker(key)
    lines = _nodes(node.get("returnLineItems"))
    return bool(lines) and all(
        str(line.get("returnReasonNote") or "").startswith(marker) for line in lines
    )


def _ours(order: Json, order_id: str, key: str) -> Json | None:
    return next(
        (
            node
            for node in _returns(order, order_id)
            if node.get("status") not in _DONE and _is_ours(node, key)
        ),
        None,
    )


def platform_return(node: Json, *, order_id: str) -> PlatformReturn:
    """A Shopify `Return` (ReturnFields) as a `PlatformReturn`."""
    lines = []
    for line in _nodes(node.get("returnLineItems")):
        fulfilled = line.get("fulfillmentLineItem") or {}
        lines.append(
            PlatformReturnLine(
                id=str(line["id"]),
                line_id=str(_id(fulfilled.get("lineItem"))),
                quantity=int(line["quantity"]),
                processed_quantity=int(line.get("processedQuantity") or 0),
            )
        )
    return PlatformReturn(
        id=str(node["id"]),
        order_id=order_id,
        status=str(node.get("status") or ""),
        lines=tuple(lines),
        name=node.get("name"),
    )


# -- returnCreate ------------------------------------------------------------------------------


def _held(order: Json, order_id: str) -> dict[str, int]:
    """Units of each fulfillment line item in returns that still hold them (not refunded)."""
    held: dict[str, int] = defaultdict(int)
    for node in _returns(order, order_id):
        if node.get("status") in _DONE:
            continue
        for line in _nodes(node.get("returnLineItems")):
            fli = _id(line.get("fulfillmentLineItem"))
            if fli:
                held[fli] += int(line["quantity"]) - int(line.get("refundedQuantity") or 0)
    return held


def return_line_items(order: Json, command: OpenReturnCommand) -> list[dict[str, Any]]:
    """`ReturnLineItemInput`s: each order line's units spread over its fulfillment line items."""
    held = _held(order, command.order_id)
    by_line: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for fulfillment in order.get("fulfillments") or ():
        page = fulfillment.get("fulfillmentLineItems") if isinstance(fulfillment, Mapping) else {}
        if mapping.has_next_page(page):
            raise PermanentError(
                "ORDER_TOO_LARGE", f"order {command.order_id}: a fulfillment has too many lines"
            )
        for item in _nodes(page):
            line_id = _id(item.get("lineItem"))
            if line_id:
                free = int(item.get("quantity") or 0) - held.get(str(item["id"]), 0)
                by_line[line_id].append((str(item["id"]), free))
    note = command.note[:MAX_REASON_NOTE]
    items: list[dict[str, Any]] = []
    for line in command.lines:
        candidates = by_line.get(line.line_id)
        if not candidates:
            raise DomainError(
                "NOT_FULFILLED",
                f"line {line.line_id} has no fulfilled units to return",
                field="lines",
            )
        left = line.quantity
        for index, (fli, free) in enumerate(candidates):
            last = index == len(candidates) - 1
            take = left if last else min(left, max(free, 0))
            if take > 0:
                items.append(
                    {
                        "fulfillmentLineItemId": fli,
                        "quantity": take,
                        "returnReasonNote": note,
                    }
                )
                left -= take
            if not left:
                break
    if len(items) > MAX_RETURN_LINES:
        raise PermanentError(
            "ORDER_TOO_LARGE",
            f"order {command.order_id}: a return of more than {MAX_RETURN_LINES} lines",
        )
    return items


def open_return(client: ShopifyGraphQLClient, command: OpenReturnCommand) -> PlatformReturn:
    """The return opened under `command.key`: found among the order's returns, else created."""
    if not command.note.startswith(note_marker(command.key)):
        raise DomainError("INVALID_NOTE", "a return's note must start with its key", field="note")
    order = _read(client, command.order_id, fulfillments=True)
    found = _ours(order, command.order_id, command.key)
    if found is not None:
        return platform_return(found, order_id=command.order_id)
    variables = {
        "input": {
            "orderId": command.order_id,
            "returnLineItems": return_line_items(order, command),
        }
    }
    try:
        data = client.execute("ReturnCreate", variables)
    except TransientError as error:
        if not error.details.get("ambiguous"):
            raise
        try:
            order = _read(client, command.order_id, fulfillments=False)
        except TransientError:
            raise error from None  # still unknown: the engine looks again before any repeat
        again = _ours(order, command.order_id, command.key)
        if again is None:
            raise
        return platform_return(again, order_id=command.order_id)
    payload = data.get("returnCreate") or {}
    _raise_user_errors(payload, operation="returnCreate")
    node = payload.get("return")
    if not isinstance(node, Mapping):
        raise PermanentError("NO_RETURN", "returnCreate returned neither a return nor errors")
    return platform_return(node, order_id=command.order_id)


def _raise_user_errors(payload: Json, *, operation: str) -> None:
    user_errors = [e for e in payload.get("userErrors") or () if isinstance(e, Mapping)]
    error = error_from_user_errors(user_errors, operation=operation)
    if error is not None:
        raise error


# -- returnProcess -----------------------------------------------------------------------------


def _money(amount: int, currency: str) -> dict[str, str]:
    return {"amount": format_minor(amount, currency), "currencyCode": currency}


def _line_inputs(node: Json, command: RefundCommand) -> list[dict[str, Any]]:
    """`ReturnProcessReturnLineItemInput`s: the command's lines over the return's unprocessed
    units, each with its disposition (restocked at its location, or not restocked)."""
    reverse_lines: dict[str, str] = {}
    for reverse_order in _nodes(node.get("reverseFulfillmentOrders")):
        for item in _nodes(reverse_order.get("lineItems")):
            fli = _id(item.get("fulfillmentLineItem"))
            if fli:
                reverse_lines[fli] = str(item["id"])
    open_lines: dict[str, list[list[Any]]] = defaultdict(list)
    for line in _nodes(node.get("returnLineItems")):
        fulfilled = line.get("fulfillmentLineItem") or {}
        line_id = _id(fulfilled.get("lineItem"))
        left = int(line["quantity"]) - int(line.get("processedQuantity") or 0)
        if line_id and left > 0:
            open_lines[line_id].append([line, left, reverse_lines.get(str(_id(fulfilled)))])
    entries: dict[str, dict[str, Any]] = {}
    for wanted in command.lines:
        if wanted.restock not in DISPOSITIONS:
            raise DomainError(
                "NOT_RETURNABLE",
                f"line {wanted.line_id}: units never shipped cannot be in a return",
                field="lines",
            )
        location = wanted.location_id if wanted.restock == "return" else None
        kind = "RESTOCKED" if location else "NOT_RESTOCKED"
        left = wanted.quantity
        for slot in open_lines.get(wanted.line_id, ()):
            line, free, reverse_line = slot
            take = min(left, free)
            if take <= 0:
                continue
            if reverse_line is None:
                raise PermanentError(
                    "NO_REVERSE_LINE", f"return line {line['id']} has no reverse fulfillment line"
                )
            entry = entries.setdefault(
                str(line["id"]), {"id": str(line["id"]), "quantity": 0, "dispositions": []}
            )
            entry["quantity"] += take
            disposition: dict[str, Any] = {
                "reverseFulfillmentOrderLineItemId": reverse_line,
                "quantity": take,
                "dispositionType": kind,
            }
            if location:
                disposition["locationId"] = location
            entry["dispositions"].append(disposition)
            slot[1] = free - take
            left -= take
        if left:
            raise DomainError(
                "RETURN_MISMATCH",
                f"line {wanted.line_id}: {left} unit(s) more than the return holds unprocessed",
                field="lines",
            )
    return list(entries.values())


def process_input(node: Json, command: RefundCommand) -> dict[str, Any]:
    """`ReturnProcessInput` for `command` on the return `node` (ReturnFields)."""
    currency = command.currency.upper()
    value: dict[str, Any] = {
        "returnId": str(node["id"]),
        "returnLineItems": _line_inputs(node, command),
        "notifyCustomer": command.notify_customer,
    }
    if command.note:
        value["note"] = command.note
    transactions: list[dict[str, Any]] = []
    methods: list[dict[str, Any]] = []
    for tender in command.tenders:
        if tender.amount <= 0:
            continue
        if tender.method == "store_credit":
            methods.append({"storeCreditRefund": {"amount": _money(tender.amount, currency)}})
            continue
        if not tender.parent_id:
            raise DomainError(
                "PARENT_REQUIRED",
                "a return's refund goes back through an original transaction",
                field="parent_id",
            )
        transactions.append(
            {"parentId": tender.parent_id, "transactionAmount": _money(tender.amount, currency)}
        )
    if transactions or methods:
        issue: dict[str, Any] = {"orderTransactions": transactions}
        if methods:
            issue["refundMethods"] = methods
        value["financialTransfer"] = {"issueRefund": issue}
        if command.shipping_full:
            value["refundShipping"] = {"fullRefund": True}
        elif command.shipping_amount is not None:
            value["refundShipping"] = {
                "shippingRefundAmount": _money(command.shipping_amount, currency)
            }
        if command.duties:  # as refundCreate's refundDuties
            value["refundDuties"] = mapping.duty_inputs(command)
    return value


def _refund(
    node: Json,
    *,
    order_id: str,
    key: str,
    note: str | None = None,
    lines: tuple[RefundedLine, ...] = (),
) -> PlatformRefund | None:
    """The refund the return's processing made: the one with our key in its note, else the
    return's latest (every refund of our return is ours)."""
    refunds = _nodes(node.get("refunds"))
    if not refunds:
        return None
    refund = next((r for r in refunds if key_in_note(r.get("note")) == key), refunds[-1])
    total = refund.get("totalRefundedSet") or {}
    return PlatformRefund(
        id=str(refund["id"]),
        order_id=order_id,
        currency=str((total.get("presentmentMoney") or {})["currencyCode"]),
        total=mapping.presentment(total, field="totalRefundedSet"),
        created_at=_timestamp(refund.get("createdAt")),
        note=refund.get("note") or note,
        idempotency_key=key,
        lines=lines,
    )


def _find_return(client: ShopifyGraphQLClient, order_id: str, return_id: str) -> Json:
    node = client.execute("Return", {"id": return_id}).get("return")
    if not isinstance(node, Mapping):
        raise NotFound("NOT_FOUND", f"return {return_id} not found on order {order_id}")
    return node


def _answer(node: Json, command: RefundCommand) -> ProcessedReturn:
    lines = tuple(
        RefundedLine(
            line_id=line.line_id,
            quantity=line.quantity,
            restock=line.restock,
            location_id=line.location_id if line.restock == "return" else None,
        )
        for line in command.lines
    )
    return ProcessedReturn(
        platform_return=platform_return(node, order_id=command.order_id),
        refund=_refund(
            node,
            order_id=command.order_id,
            key=command.idempotency_key,
            note=command.note,
            lines=lines,
        ),
    )


def find_return(client: ShopifyGraphQLClient, order_id: str, key: str) -> ProcessedReturn | None:
    """The return opened under `key` with the refund its processing made, if there is one."""
    order = _read(client, order_id, fulfillments=False)
    found = _ours(order, order_id, key)
    if found is None:
        return None
    node = _find_return(client, order_id, str(found["id"]))
    return ProcessedReturn(
        platform_return=platform_return(node, order_id=order_id),
        refund=_refund(node, order_id=order_id, key=key),
    )


def process_return(
    client: ShopifyGraphQLClient,
    command: ProcessReturnCommand,
    *,
    suggest: Callable[[RefundCommand], SuggestedRefund],
) -> ProcessedReturn:
    """`returnProcess` once: a return already processed is answered from what it recorded."""
    refund = command.refund
    node = _find_return(client, refund.order_id, command.return_id)
    if platform_return(node, order_id=refund.order_id).processed:
        return _answer(node, refund)
    refund = tenders.with_parents(refund, suggest)
    variables = {"input": process_input(node, refund)}
    try:
        data = client.execute("ReturnProcess", variables)
    except TransientError as error:
        if not error.details.get("ambiguous"):
            raise
        try:
            again = _find_return(client, refund.order_id, command.return_id)
        except TransientError:
            raise error from None  # still unknown: the engine looks again before any repeat
        if not platform_return(again, order_id=refund.order_id).processed:
            raise
        return _answer(again, refund)
    payload = data.get("returnProcess") or {}
    _raise_user_errors(payload, operation="returnProcess")
    processed = payload.get("return")
    if not isinstance(processed, Mapping):
        raise PermanentError("NO_RETURN", "returnProcess returned neither a return nor errors")
    return _answer(processed, refund)
