"""``returnCreate`` and ``returnProcess``: Shopify returns, kept per order.

A return is opened (status ``OPEN``) for fulfilled units; each of its lines gets one reverse
fulfillment order line item, the handle dispositions name. Processing confirms units of its
lines with dispositions (``RESTOCKED`` at an active location puts them back in stock; the
other types move no stock) and, with ``financialTransfer.issueRefund``, refunds them through
:func:`refunds.create_refund`, so the money follows exactly the rules of ``refundCreate``. A
return whose every unit is processed is ``CLOSED``.

The order's one fulfillment and its fulfillment line items are derived, not stored: the
``Fulfillment`` has the order's id and each ``FulfillmentLineItem`` its line item's id, with
the line's fulfilled quantity.

Validation collects ``ReturnUserError``s (``code``, ``field``, ``message``) and commits
nothing when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from graphql import GraphQLResolveInfo

from returnbridge.sandbox.shopify.gids import gid, parse_gid
from returnbridge.sandbox.shopify.pagination import connection
from returnbridge.sandbox.shopify.refunds import create_refund
from returnbridge.sandbox.shopify.state import LineItem, Order, Refund, Shop, World
from returnbridge.sandbox.shopify.views import (
    line_item_view,
    location_view,
    money_bag,
    refund_view,
)

Info = GraphQLResolveInfo[Any]
View = dict[str, Any]
UserError = dict[str, Any]
MAX_NOTE = 255
DISPOSITION_TYPES = frozenset({"RESTOCKED", "NOT_RESTOCKED", "MISSING", "PROCESSING_REQUIRED"})


class _Context(Protocol):
    """What the resolvers read from the request context (``schema.RequestContext``)."""

    world: World
    shop: Shop
    now: str
    effect: str | None
    refund_id: int | None


@dataclass(slots=True)
class Disposition:
    """Units of a return line given their final arrangement."""

    id: int
    quantity: int
    type: str
    location_id: int | None
    created_at: str


@dataclass(slots=True)
class ReturnLine:
    """Units of one line item coming back, with what processing did to them."""

    id: int
    line_item_id: int
    quantity: int
    reason_note: str
    reverse_line_id: int
    processed: int = 0
    refunded: int = 0
    dispositions: list[Disposition] = field(default_factory=list)

    @property
    def processable(self) -> int:
        return self.quantity - self.processed


@dataclass(slots=True)
class ShopReturn:
    """A return of an order: OPEN until every unit is processed, then CLOSED."""

    id: int
    name: str
    status: str
    created_at: str
    reverse_order_id: int
    lines: list[ReturnLine]
    refund_ids: list[int] = field(default_factory=list)
    closed_at: str | None = None


def _error(code: str, path: list[str | int], message: str) -> UserError:
    return {"code": code, "field": [str(p) for p in path], "message": message}


def _context(info: Info) -> _Context:
    context: _Context = info.context
    return context


# -- fulfillments ------------------------------------------------------------------------------


def returnable(order: Order, line: LineItem) -> int:
    """Fulfilled units of a line neither refunded nor held by a return not yet refunded."""
    taken = sum(rl.from_fulfilled for rl in order.refund_lines(line.id))
    held = sum(
        rl.quantity - rl.refunded
        for r in order.returns
        if r.status in {"OPEN", "CLOSED"}
        for rl in r.lines
        if rl.line_item_id == line.id
    )
    return line.fulfilled_quantity - taken - held


def _fulfillment_line_view(line: LineItem, order: Order) -> View:
    return {
        "id": gid("FulfillmentLineItem", line.id),
        "quantity": line.fulfilled_quantity,
        "lineItem": line_item_view(line, order),
    }


def _fulfillment_view(order: Order) -> View:
    lines = [li for li in order.line_items if li.fulfilled_quantity > 0]
    return {
        "id": gid("Fulfillment", order.id),
        "status": "SUCCESS",
        "fulfillmentLineItems": lambda _info, first=None, after=None: connection(
            lines,
            first=first,
            after=after,
            item_id=lambda li: li.id,
            view=lambda li: _fulfillment_line_view(li, order),
        ),
    }


def _order_of(root: View, shop: Shop) -> Order | None:
    order_id = parse_gid(root.get("id"), "Order")
    return shop.orders.get(order_id) if order_id is not None else None


def resolve_order_fulfillments(
    root: View,
    info: Info,
    *,
    first: int | None = None,
    query: str | None = None,
) -> list[View]:
    """``Order.fulfillments``: one fulfillment with every fulfilled unit, if any."""
    del query
    shop = _context(info).shop
    order = _order_of(root, shop)
    if order is None or not any(li.fulfilled_quantity > 0 for li in order.line_items):
        return []
    views = [_fulfillment_view(order)]
    return views if first is None else views[: max(first, 0)]


def resolve_order_returns(
    root: View,
    info: Info,
    *,
    first: int | None = None,
    after: str | None = None,
    query: str | None = None,
    reverse: bool = False,
) -> View:
    """``Order.returns``, oldest first (``query`` is not supported and ignored)."""
    del query
    shop = _context(info).shop
    order = _order_of(root, shop)
    items = list(order.returns) if order is not None else []
    if reverse:
        items.reverse()
    return connection(
        items,
        first=first,
        after=after,
        item_id=lambda r: r.id,
        view=lambda r: return_view(r, order, shop) if order is not None else {},
    )


# -- views -------------------------------------------------------------------------------------


def _disposition_view(disposition: Disposition, shop: Shop) -> View:
    location = (
        shop.location(disposition.location_id) if disposition.location_id is not None else None
    )
    return {
        "id": gid("ReverseFulfillmentOrderDisposition", disposition.id),
        "quantity": disposition.quantity,
        "type": disposition.type,
        "location": location_view(location) if location else None,
        "createdAt": disposition.created_at,
    }


def _return_line_view(line: ReturnLine, order: Order) -> View:
    item = order.line(line.line_item_id)
    assert item is not None
    return {
        "__typename": "ReturnLineItem",
        "id": gid("ReturnLineItem", line.id),
        "quantity": line.quantity,
        "processedQuantity": line.processed,
        "processableQuantity": line.processable,
        "unprocessedQuantity": line.processable,
        "refundedQuantity": line.refunded,
        "refundableQuantity": line.quantity - line.refunded,
        "returnReasonNote": line.reason_note,
        "customerNote": None,
        "fulfillmentLineItem": _fulfillment_line_view(item, order),
    }


def _reverse_line_view(line: ReturnLine, order: Order, shop: Shop) -> View:
    item = order.line(line.line_item_id)
    assert item is not None
    return {
        "id": gid("ReverseFulfillmentOrderLineItem", line.reverse_line_id),
        "totalQuantity": line.quantity,
        "fulfillmentLineItem": _fulfillment_line_view(item, order),
        "dispositions": [_disposition_view(d, shop) for d in line.dispositions],
    }


def return_view(ret: ShopReturn, order: Order, shop: Shop) -> View:
    """A ``Return``."""
    refunds = [r for r in order.refunds if r.id in set(ret.refund_ids)]
    reverse_order = {
        "id": gid("ReverseFulfillmentOrder", ret.reverse_order_id),
        "status": "CLOSED" if ret.status == "CLOSED" else "OPEN",
        "lineItems": lambda _info, first=None, after=None: connection(
            ret.lines,
            first=first,
            after=after,
            item_id=lambda rl: rl.reverse_line_id,
            view=lambda rl: _reverse_line_view(rl, order, shop),
        ),
    }
    return {
        "id": gid("Return", ret.id),
        "name": ret.name,
        "status": ret.status,
        "createdAt": ret.created_at,
        "closedAt": ret.closed_at,
        "totalQuantity": sum(rl.quantity for rl in ret.lines),
        "returnLineItems": lambda _info, first=None, after=None: connection(
            ret.lines,
            first=first,
            after=after,
            item_id=lambda rl: rl.id,
            view=lambda rl: _return_line_view(rl, order),
        ),
        "reverseFulfillmentOrders": lambda _info, first=None, after=None: connection(
            [reverse_order],
            first=first,
            after=after,
            item_id=lambda _ro: ret.reverse_order_id,
            view=lambda ro: ro,
        ),
        "refunds": lambda _info, first=None, after=None: connection(
            refunds,
            first=first,
            after=after,
            item_id=lambda r: r.id,
            view=lambda r: refund_view(r, order, shop),
        ),
        "transactions": lambda _info, first=None, after=None: connection(
            [t for t in order.transactions if any(t.id in r.transaction_ids for r in refunds)],
            first=first,
            after=after,
            item_id=lambda t: t.id,
            view=lambda t: {
                "id": gid("OrderTransaction", t.id),
                "kind": t.kind,
                "status": t.status,
                "gateway": t.gateway,
                "amountSet": money_bag(t.amount, order),
                "createdAt": t.created_at,
                "parentTransaction": None,
            },
        ),
    }


def resolve_return(_root: object, info: Info, id: str) -> View | None:
    """``return(id)``: ``null`` for an unknown id or another shop's return."""
    shop = _context(info).shop
    found = _find_return(shop, id)
    return return_view(found[1], found[0], shop) if found else None


def resolve_return_line_type(value: View, *_: object) -> str:
    return str(value["__typename"])


# -- returnCreate ------------------------------------------------------------------------------


def _find_return(shop: Shop, return_gid: object) -> tuple[Order, ShopReturn] | None:
    return_id = parse_gid(return_gid, "Return")
    for order in shop.orders.values():
        for ret in order.returns:
            if ret.id == return_id:
                return order, ret
    return None


def create_return(
    shop: Shop, request: dict[str, Any], *, world: World, now: str
) -> tuple[Order | None, ShopReturn | None, list[UserError]]:
    """Validate and commit a ``ReturnInput``; nothing is kept when there is a user error."""
    base: list[str | int] = ["returnInput"]
    order_id = parse_gid(request["orderId"], "Order")
    order = shop.orders.get(order_id) if order_id is not None else None
    if order is None:
        return None, None, [_error("NOT_FOUND", [*base, "orderId"], "Order does not exist.")]
    errors: list[UserError] = []
    if request.get("exchangeLineItems"):
        errors.append(
            _error(
                "FEATURE_NOT_ENABLED",
                [*base, "exchangeLineItems"],
                "Exchanges are not supported by the sandbox.",
            )
        )
    items = request.get("returnLineItems") or []
    if not items:
        errors.append(
            _error("BLANK", [*base, "returnLineItems"], "Return line items can't be blank.")
        )
    pending: dict[int, int] = {}
    accepted: list[tuple[LineItem, int, str]] = []
    for index, item in enumerate(items):
        path: list[str | int] = [*base, "returnLineItems", index]
        line_id = parse_gid(item["fulfillmentLineItemId"], "FulfillmentLineItem")
        line = order.line(line_id) if line_id is not None else None
        if line is None or line.fulfilled_quantity == 0:
            errors.append(
                _error(
                    "NOT_FOUND",
                    [*path, "fulfillmentLineItemId"],
                    "Fulfillment line item does not exist.",
                )
            )
            continue
        quantity = item["quantity"]
        left = returnable(order, line) - pending.get(line.id, 0)
        if quantity < 1:
            errors.append(
                _error("GREATER_THAN", [*path, "quantity"], "Quantity must be greater than 0.")
            )
            continue
        if quantity > left:
            errors.append(
                _error(
                    "INVALID",
                    [*path, "quantity"],
                    f"Quantity is not available for return (returnable: {left}).",
                )
            )
            continue
        note = item.get("returnReasonNote") or ""
        if len(note) > MAX_NOTE:
            errors.append(
                _error(
                    "TOO_LONG",
                    [*path, "returnReasonNote"],
                    f"Return reason note is too long (maximum is {MAX_NOTE} characters).",
                )
            )
            continue
        pending[line.id] = pending.get(line.id, 0) + quantity
        accepted.append((line, quantity, note))
    if errors:
        return order, None, errors
    ids = world.ids
    ret = ShopReturn(
        id=ids.next(),
        name=f"{order.name}-R{len(order.returns) + 1}",
        status="OPEN",
        created_at=now,
        reverse_order_id=ids.next(),
        lines=[
            ReturnLine(
                id=ids.next(),
                line_item_id=line.id,
                quantity=quantity,
                reason_note=note,
                reverse_line_id=ids.next(),
            )
            for line, quantity, note in accepted
        ],
    )
    order.returns.append(ret)
    order.updated_at = now
    return order, ret, []


def resolve_return_create(_root: object, info: Info, returnInput: dict[str, Any]) -> View:  # noqa: N803
    ctx = _context(info)
    with ctx.world.lock:
        order, ret, errors = create_return(ctx.shop, returnInput, world=ctx.world, now=ctx.now)
        if ret is None or order is None:
            ctx.effect = "rejected"
            return {"return": None, "userErrors": errors}
        ctx.effect = "return_created"
        return {"return": return_view(ret, order, ctx.shop), "userErrors": []}


# -- returnProcess -----------------------------------------------------------------------------


@dataclass
class _Step:
    """One return line's share of a ``returnProcess``: units and their dispositions."""

    line: ReturnLine
    quantity: int
    dispositions: list[tuple[int, str, int | None]]


def _check_dispositions(
    shop: Shop,
    order: Order,
    line: ReturnLine,
    item: dict[str, Any],
    *,
    path: list[str | int],
    errors: list[UserError],
) -> list[tuple[int, str, int | None]] | None:
    ordered = order.line(line.line_item_id)
    sku = ordered.sku if ordered is not None else None
    given = item.get("dispositions") or []
    out: list[tuple[int, str, int | None]] = []
    for index, disposition in enumerate(given):
        at: list[str | int] = [*path, "dispositions", index]
        rfo_line = parse_gid(
            disposition["reverseFulfillmentOrderLineItemId"], "ReverseFulfillmentOrderLineItem"
        )
        if rfo_line != line.reverse_line_id:
            errors.append(
                _error(
                    "NOT_FOUND",
                    [*at, "reverseFulfillmentOrderLineItemId"],
                    "Reverse fulfillment order line item does not belong to the return line item.",
                )
            )
            return None
        kind = disposition["dispositionType"]
        quantity = disposition["quantity"]
        if quantity < 1:
            errors.append(
                _error("GREATER_THAN", [*at, "quantity"], "Quantity must be greater than 0.")
            )
            return None
        location_id = None
        if kind == "RESTOCKED":
            raw = disposition.get("locationId")
            if raw is None:
                errors.append(
                    _error("BLANK", [*at, "locationId"], "Location is required to restock items.")
                )
                return None
            location_id = parse_gid(raw, "Location")
            location = shop.location(location_id) if location_id is not None else None
            if location is None or not location.active:
                errors.append(
                    _error(
                        "NOT_FOUND",
                        [*at, "locationId"],
                        "Location does not exist or is not active.",
                    )
                )
                return None
            if sku and not shop.stocks(sku, location.id):  # as refundCreate's RETURN
                errors.append(
                    _error(
                        "INVALID",
                        [*at, "locationId"],
                        f"The item {sku} is not stocked at the location {location.name}.",
                    )
                )
                return None
        out.append((quantity, kind, location_id))
    if given and sum(q for q, _, _ in out) != item["quantity"]:
        errors.append(
            _error(
                "INVALID",
                [*path, "dispositions"],
                "Disposition quantities must add up to the quantity processed.",
            )
        )
        return None
    return out


def _check_steps(
    shop: Shop, order: Order, ret: ShopReturn, request: dict[str, Any], errors: list[UserError]
) -> list[_Step]:
    steps: list[_Step] = []
    pending: dict[int, int] = {}
    for index, item in enumerate(request.get("returnLineItems") or []):
        path: list[str | int] = ["input", "returnLineItems", index]
        line_id = parse_gid(item["id"], "ReturnLineItem")
        line = next((rl for rl in ret.lines if rl.id == line_id), None)
        if line is None:
            errors.append(_error("NOT_FOUND", [*path, "id"], "Return line item does not exist."))
            continue
        quantity = item["quantity"]
        left = line.processable - pending.get(line.id, 0)
        if quantity < 1:
            errors.append(
                _error("GREATER_THAN", [*path, "quantity"], "Quantity must be greater than 0.")
            )
            continue
        if quantity > left:
            errors.append(
                _error(
                    "INVALID",
                    [*path, "quantity"],
                    f"Quantity cannot be more than the processable quantity ({left}).",
                )
            )
            continue
        dispositions = _check_dispositions(shop, order, line, item, path=path, errors=errors)
        if dispositions is None:
            continue
        pending[line.id] = pending.get(line.id, 0) + quantity
        steps.append(_Step(line, quantity, dispositions))
    return steps


def _refund_request(order: Order, steps: list[_Step], request: dict[str, Any]) -> dict[str, Any]:
    """The ``RefundInput`` the financial transfer amounts to (refundCreate's rules apply)."""
    issue = (request.get("financialTransfer") or {}).get("issueRefund") or {}
    lines: list[dict[str, Any]] = []
    for step in steps:
        line_gid = gid("LineItem", step.line.line_item_id)
        restocked = [(q, loc) for q, kind, loc in step.dispositions if kind == "RESTOCKED"]
        for quantity, location_id in restocked:
            lines.append(
                {
                    "lineItemId": line_gid,
                    "quantity": quantity,
                    "restockType": "RETURN",
                    "locationId": gid("Location", location_id or 0),
                }
            )
        rest = step.quantity - sum(q for q, _ in restocked)
        if rest:
            lines.append({"lineItemId": line_gid, "quantity": rest, "restockType": "NO_RESTOCK"})
    transactions = []
    currencies = set()
    for item in issue.get("orderTransactions") or []:
        parent_id = parse_gid(item["parentId"], "OrderTransaction")
        parent = order.transaction(parent_id) if parent_id is not None else None
        money = item["transactionAmount"]
        currencies.add(money["currencyCode"])
        transactions.append(
            {
                "orderId": gid("Order", order.id),
                "parentId": item["parentId"],
                "amount": money["amount"],
                "gateway": parent.gateway if parent is not None else "",
                "kind": "REFUND",
            }
        )
    refund: dict[str, Any] = {
        "orderId": gid("Order", order.id),
        "note": request.get("note"),
        "notify": bool(request.get("notifyCustomer")),
        "refundLineItems": lines,
        "transactions": transactions,
        "allowOverRefunding": bool(issue.get("allowOverRefunding")),
    }
    shipping = request.get("refundShipping") or {}
    if shipping.get("shippingRefundAmount") is not None:
        currencies.add(shipping["shippingRefundAmount"]["currencyCode"])
        refund["shipping"] = {"amount": shipping["shippingRefundAmount"]["amount"]}
    elif shipping.get("fullRefund"):
        refund["shipping"] = {"fullRefund": True}
    if request.get("refundDuties"):
        refund["refundDuties"] = request["refundDuties"]
    if issue.get("refundMethods"):
        refund["refundMethods"] = issue["refundMethods"]
    if len(currencies) == 1:
        refund["currency"] = currencies.pop()
    elif currencies:
        refund["currency"] = "mixed"  # refused by refundCreate's currency rule
    return refund


def process_return(
    shop: Shop, request: dict[str, Any], *, world: World, now: str
) -> tuple[Order | None, ShopReturn | None, Refund | None, list[UserError]]:
    """Validate and commit a ``ReturnProcessInput``; nothing is kept on a user error."""
    found = _find_return(shop, request["returnId"])
    if found is None:
        error = _error("NOT_FOUND", ["input", "returnId"], "Return does not exist.")
        return None, None, None, [error]
    order, ret = found
    if ret.status != "OPEN":
        error = _error("INVALID_STATE", ["input", "returnId"], f"Return is {ret.status}, not OPEN.")
        return order, None, None, [error]
    errors: list[UserError] = []
    if request.get("exchangeLineItems"):
        errors.append(
            _error(
                "FEATURE_NOT_ENABLED",
                ["input", "exchangeLineItems"],
                "Exchanges are not supported by the sandbox.",
            )
        )
    steps = _check_steps(shop, order, ret, request, errors)
    transfer = (request.get("financialTransfer") or {}).get("issueRefund")
    if transfer is None and (request.get("refundShipping") or request.get("refundDuties")):
        errors.append(
            _error(
                "INVALID",
                ["input", "financialTransfer"],
                "Refunding shipping or duties needs a financial transfer.",
            )
        )
    if not errors and not steps and transfer is None:
        errors.append(_error("BLANK", ["input", "returnLineItems"], "There is nothing to process."))
    if errors:
        return order, None, None, errors
    refund = None
    if transfer is not None:
        refund, refund_errors = create_refund(
            shop, order, _refund_request(order, steps, request), ids=world.ids, now=now
        )
        if refund is None:
            return (
                order,
                None,
                None,
                [
                    {
                        "code": "INVALID",
                        "field": ["input", "financialTransfer", *e.get("field", [])],
                        "message": e["message"],
                    }
                    for e in refund_errors
                ],
            )
        ret.refund_ids.append(refund.id)
    for step in steps:
        step.line.processed += step.quantity
        if refund is not None:
            step.line.refunded += step.quantity
        for quantity, kind, location_id in step.dispositions:
            step.line.dispositions.append(
                Disposition(world.ids.next(), quantity, kind, location_id, now)
            )
            item = order.line(step.line.line_item_id)
            if refund is None and kind == "RESTOCKED" and item and item.sku and location_id:
                # with a refund, refundCreate's RETURN restock already put them back
                key = (item.sku, location_id)
                shop.stock[key] = shop.stock.get(key, 0) + quantity
    if all(rl.processable == 0 for rl in ret.lines):
        ret.status, ret.closed_at = "CLOSED", now
    order.updated_at = now
    return order, ret, refund, []


def resolve_return_process(_root: object, info: Info, input: dict[str, Any]) -> View:
    ctx = _context(info)
    with ctx.world.lock:
        order, ret, refund, errors = process_return(ctx.shop, input, world=ctx.world, now=ctx.now)
        if ret is None or order is None:
            ctx.effect = "rejected"
            return {"return": None, "userErrors": errors}
        ctx.effect = "return_processed"
        ctx.refund_id = refund.id if refund is not None else None
        return {"return": return_view(ret, order, ctx.shop), "userErrors": []}
