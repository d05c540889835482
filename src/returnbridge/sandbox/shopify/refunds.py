"""``refundCreate``: validate a refund request against the order, then commit it.

Validation collects every problem as a ``UserError`` (``field`` path + message) and commits
nothing when there is one. A committed refund records its lines (with the money computed by
:mod:`calculation`), its shipping, its REFUND transactions and puts restocked units back in stock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from returnbridge.sandbox.shopify.calculation import (
    LineRequest,
    duty_amount,
    price_duties,
    price_lines,
    remaining_shipping,
    shipping_shares,
)
from returnbridge.sandbox.shopify.gids import parse_gid
from returnbridge.sandbox.shopify.money import (
    AmountError,
    Bag,
    convert,
    format_amount,
    parse_amount,
    total,
)
from returnbridge.sandbox.shopify.state import (
    CHARGE_KINDS,
    Ids,
    LineItem,
    Order,
    Refund,
    RefundDuty,
    RefundLine,
    RefundShipping,
    Shop,
    StoreCreditAccount,
    StoreCreditCredit,
    Transaction,
)

UserError = dict[str, Any]


def user_error(path: list[str | int], message: str) -> UserError:
    """A ``UserError`` as the API answers it (field path elements are strings)."""
    return {"field": [str(p) for p in path], "message": message}


@dataclass
class _Plan:
    """A validated request, ready to commit."""

    lines: list[LineRequest] = field(default_factory=list)
    shipping_full: bool = False
    shipping_amount: int | None = None
    transactions: list[tuple[Transaction, str, int]] = field(default_factory=list)
    duties: list[tuple[int, str]] = field(default_factory=list)
    store_credit: list[tuple[int, str | None]] = field(default_factory=list)

    def moves_money(self) -> int:
        """Presentment minor units the refund gives back (transactions and store credit)."""
        return sum(a for _, _, a in self.transactions) + sum(a for a, _ in self.store_credit)


STORE_CREDIT_GATEWAY = "shopify_store_credit"


def _check_currency(order: Order, request: dict[str, Any], errors: list[UserError]) -> None:
    """``RefundInput.currency`` must be the presentment currency, and is required whenever
    that differs from the shop currency (schema description), whatever the refund moves."""
    currency = request.get("currency")
    if currency is not None and currency != order.presentment_currency:
        errors.append(
            user_error(
                ["currency"],
                f"Currency must be the order's presentment currency "
                f"({order.presentment_currency}).",
            )
        )
    elif currency is None and order.presentment_currency != order.currency:
        errors.append(
            user_error(
                ["currency"],
                "Currency is required for orders where the currency and presentment "
                "currency differ.",
            )
        )


def _check_lines(
    shop: Shop, order: Order, request: dict[str, Any], plan: _Plan, errors: list[UserError]
) -> None:
    pending: dict[int, dict[str, int]] = {}
    for index, item in enumerate(request.get("refundLineItems") or []):
        path: list[str | int] = ["refundLineItems", index]
        line_id = parse_gid(item["lineItemId"], "LineItem")
        line = order.line(line_id) if line_id is not None else None
        if line is None:
            errors.append(user_error([*path, "lineItemId"], "Line item does not exist."))
            continue
        quantity = item["quantity"]
        restock = item.get("restockType") or "NO_RESTOCK"
        used = pending.setdefault(line.id, {"all": 0, "fulfilled": 0, "unfulfilled": 0})
        refundable = line.quantity - order.refunded_quantity(line) - used["all"]
        if quantity < 1:
            errors.append(user_error([*path, "quantity"], "Quantity must be greater than 0."))
            continue
        if quantity > refundable:
            errors.append(
                user_error(
                    [*path, "quantity"],
                    f"Quantity cannot refund more items than were purchased "
                    f"(refundable: {refundable}).",
                )
            )
            continue
        location_id = _check_location(shop, line, item, path=[*path, "locationId"], errors=errors)
        if restock == "LEGACY_RESTOCK":
            errors.append(
                user_error(
                    [*path, "restockType"], "LEGACY_RESTOCK is not accepted for new refunds."
                )
            )
            continue
        if restock == "RETURN":
            left = order.returnable_fulfilled(line) - used["fulfilled"]
            if quantity > left:
                errors.append(
                    user_error(
                        [*path, "restockType"],
                        f"Cannot return {quantity} item(s): only {left} fulfilled item(s) left.",
                    )
                )
                continue
            used["fulfilled"] += quantity
        elif restock == "CANCEL":
            left = order.unfulfilled_quantity(line) - used["unfulfilled"]
            if quantity > left:
                errors.append(
                    user_error(
                        [*path, "restockType"],
                        f"Cannot cancel {quantity} item(s): only {left} unfulfilled item(s) left.",
                    )
                )
                continue
            used["unfulfilled"] += quantity
        else:
            shipped = min(quantity, max(order.returnable_fulfilled(line) - used["fulfilled"], 0))
            used["fulfilled"] += shipped
            used["unfulfilled"] += quantity - shipped
        used["all"] += quantity
        plan.lines.append(LineRequest(line, quantity, restock, location_id))


def _check_location(
    shop: Shop,
    line: LineItem,
    item: dict[str, Any],
    *,
    path: list[str | int],
    errors: list[UserError],
) -> int | None:
    """The restock location: none for NO_RESTOCK (the schema: "this value is empty"), required
    for RETURN and CANCEL, active, and stocking the line's item."""
    if (item.get("restockType") or "NO_RESTOCK") not in {"RETURN", "CANCEL"}:
        return None
    raw = item.get("locationId")
    if raw is None:
        errors.append(user_error(path, "Location is required to restock items."))
        return None
    location_id = parse_gid(raw, "Location")
    location = shop.location(location_id) if location_id is not None else None
    if location is None or not location.active:
        errors.append(user_error(path, "Location does not exist or is not active."))
        return None
    if line.sku and not shop.stocks(line.sku, location.id):
        errors.append(
            user_error(path, f"The item {line.sku} is not stocked at the location {location.name}.")
        )
        return None
    return location.id


def _check_shipping(
    order: Order, request: dict[str, Any], plan: _Plan, errors: list[UserError]
) -> None:
    shipping = request.get("shipping")
    if not shipping:
        return
    remaining = sum(remaining_shipping(order, s)[0].presentment for s in order.shipping_lines)
    if shipping.get("amount") is not None:
        try:
            amount = parse_amount(shipping["amount"], order.presentment_currency)
        except AmountError:
            errors.append(user_error(["shipping", "amount"], "Amount is invalid."))
            return
        if amount < 0:
            errors.append(user_error(["shipping", "amount"], "Amount must be positive."))
            return
        if amount > remaining:
            errors.append(
                user_error(
                    ["shipping", "amount"],
                    f"Shipping refund amount {format_amount(amount, order.presentment_currency)}"
                    f" is greater than the refundable shipping amount "
                    f"{format_amount(remaining, order.presentment_currency)}.",
                )
            )
            return
        plan.shipping_amount = amount
    elif shipping.get("fullRefund") and remaining > 0:
        plan.shipping_full = True


def _check_transactions(
    order: Order, request: dict[str, Any], plan: _Plan, errors: list[UserError]
) -> None:
    over_refund_ok = bool(request.get("allowOverRefunding"))
    for index, item in enumerate(request.get("transactions") or []):
        path: list[str | int] = ["transactions", index]
        if item["kind"] != "REFUND":
            errors.append(user_error([*path, "kind"], "Transaction kind must be REFUND."))
            continue
        if parse_gid(item["orderId"], "Order") != order.id:
            errors.append(user_error([*path, "orderId"], "Transaction must belong to the order."))
            continue
        try:
            amount = parse_amount(item["amount"], order.presentment_currency)
        except AmountError:
            errors.append(user_error([*path, "amount"], "Amount is invalid."))
            continue
        if amount <= 0:
            errors.append(user_error([*path, "amount"], "Amount must be greater than 0."))
            continue
        if item.get("parentId") is None:
            errors.append(
                user_error(
                    [*path, "parentId"], "A refund transaction needs its parent transaction."
                )
            )
            continue
        parent_id = parse_gid(item["parentId"], "OrderTransaction")
        parent = order.transaction(parent_id) if parent_id is not None else None
        if parent is None or parent.kind not in CHARGE_KINDS or parent.status != "SUCCESS":
            errors.append(
                user_error(
                    [*path, "parentId"],
                    "Parent transaction must be a successful sale or capture of the order.",
                )
            )
            continue
        if parent.gateway != item["gateway"]:
            errors.append(
                user_error([*path, "gateway"], "Gateway must match the parent transaction.")
            )
            continue
        left = order.refundable_on(parent).presentment - sum(
            a for p, _, a in plan.transactions if p is parent
        )
        if amount > left and not over_refund_ok:
            errors.append(
                user_error(
                    [*path, "amount"],
                    f"Amount exceeds what is refundable on the parent transaction "
                    f"({format_amount(left, order.presentment_currency)}).",
                )
            )
            continue
        plan.transactions.append((parent, item["gateway"], amount))


def _check_net_payment(
    order: Order, request: dict[str, Any], plan: _Plan, errors: list[UserError]
) -> None:
    """Money given back may not exceed the net payment, unless over-refunding is allowed.

    A refund that moves no money (goods or shipping recorded only) is never refused for it.
    """
    asked = plan.moves_money()
    available = order.net_payment.presentment
    if asked > 0 and asked > available and not request.get("allowOverRefunding"):
        errors.append(
            user_error(
                ["transactions"] if plan.transactions else ["refundMethods"],
                f"Refund amount {format_amount(asked, order.presentment_currency)} is greater "
                f"than the net payment received "
                f"{format_amount(available, order.presentment_currency)}.",
            )
        )


def _check_duties(
    order: Order, request: dict[str, Any], plan: _Plan, errors: list[UserError]
) -> None:
    units: dict[int, int] = {}
    for requested in plan.lines:
        units[requested.line.id] = units.get(requested.line.id, 0) + requested.quantity
    seen: set[int] = set()
    for index, item in enumerate(request.get("refundDuties") or []):
        path: list[str | int] = ["refundDuties", index]
        duty_id = parse_gid(item["dutyId"], "Duty")
        found = order.duty(duty_id) if duty_id is not None else None
        if found is None or duty_id is None:
            errors.append(user_error([*path, "dutyId"], "Duty does not exist."))
            continue
        if duty_id in seen:
            errors.append(user_error([*path, "dutyId"], "Duty is listed more than once."))
            continue
        seen.add(duty_id)
        line, duty = found
        refund_type = item.get("refundType") or "FULL"
        if refund_type == "PROPORTIONAL" and not units.get(line.id):
            errors.append(
                user_error(
                    [*path, "refundType"],
                    "A proportional duty refund needs refund line items of the duty's line item.",
                )
            )
            continue
        amount = duty_amount(
            order, line, duty, refund_type=refund_type, quantity=units.get(line.id, 0)
        )
        if amount.presentment <= 0:
            errors.append(user_error([*path, "dutyId"], "Duty has already been refunded."))
            continue
        plan.duties.append((duty_id, refund_type))


def _check_refund_methods(
    order: Order, request: dict[str, Any], plan: _Plan, errors: list[UserError], *, now: str
) -> None:
    """Store credit: in the presentment currency, positive, not expired, for a customer."""
    for index, method in enumerate(request.get("refundMethods") or []):
        path: list[str | int] = ["refundMethods", index, "storeCreditRefund"]
        credit = method.get("storeCreditRefund")
        if credit is None:
            errors.append(user_error(path, "A refund method needs a store credit refund."))
            continue
        if not order.email:
            errors.append(
                user_error(path, "Store credit can only be issued to an order's customer.")
            )
            continue
        money = credit["amount"]
        if money["currencyCode"] != order.presentment_currency:
            errors.append(
                user_error(
                    [*path, "amount", "currencyCode"],
                    f"Store credit must be issued in the order's presentment currency "
                    f"({order.presentment_currency}).",
                )
            )
            continue
        try:
            amount = parse_amount(money["amount"], order.presentment_currency)
        except AmountError:
            errors.append(user_error([*path, "amount", "amount"], "Amount is invalid."))
            continue
        if amount <= 0:
            errors.append(user_error([*path, "amount", "amount"], "Amount must be greater than 0."))
            continue
        expires_at = credit.get("expiresAt")
        if expires_at is not None and not _after(str(expires_at), now):
            errors.append(user_error([*path, "expiresAt"], "Expiry date must be in the future."))
            continue
        plan.store_credit.append((amount, str(expires_at) if expires_at is not None else None))


def _after(moment: str, now: str) -> bool:
    def parse(text: str) -> datetime:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    try:
        return parse(moment) > parse(now)
    except ValueError:
        return False


def create_refund(
    shop: Shop, order: Order, request: dict[str, Any], *, ids: Ids, now: str
) -> tuple[Refund | None, list[UserError]]:
    """Validate and commit a ``RefundInput`` (already coerced by GraphQL) on ``order``."""
    errors: list[UserError] = []
    plan = _Plan()
    _check_currency(order, request, errors)
    _check_lines(shop, order, request, plan, errors)
    _check_shipping(order, request, plan, errors)
    _check_duties(order, request, plan, errors)
    _check_transactions(order, request, plan, errors)
    _check_refund_methods(order, request, plan, errors, now=now)
    _check_net_payment(order, request, plan, errors)
    if not errors and not (
        plan.lines
        or plan.shipping_full
        or plan.shipping_amount
        or plan.transactions
        or plan.duties
        or plan.store_credit
    ):
        errors.append(
            user_error([], "A refund needs line items, shipping, duties or money to refund.")
        )
    if errors:
        return None, errors
    return _commit(shop, order, plan, request, ids=ids, now=now), []


def _commit(
    shop: Shop, order: Order, plan: _Plan, request: dict[str, Any], *, ids: Ids, now: str
) -> Refund:
    priced = price_lines(order, plan.lines)
    shipping, _ = shipping_shares(order, full=plan.shipping_full, amount=plan.shipping_amount)
    refund_lines = []
    taken: dict[int, tuple[int, int]] = {}
    for line in priced:
        fulfilled_used, unfulfilled_used = taken.get(line.line.id, (0, 0))
        if line.restock_type == "RETURN":
            from_unfulfilled = 0
        elif line.restock_type == "CANCEL":
            from_unfulfilled = line.quantity
        else:
            # Shipped units first: a refund without restock takes back what was delivered
            # before it removes units still waiting to be fulfilled.
            shipped = max(order.returnable_fulfilled(line.line) - fulfilled_used, 0)
            from_unfulfilled = line.quantity - min(line.quantity, shipped)
        from_fulfilled = line.quantity - from_unfulfilled
        taken[line.line.id] = (fulfilled_used + from_fulfilled, unfulfilled_used + from_unfulfilled)
        refund_lines.append(
            RefundLine(
                line_item_id=line.line.id,
                quantity=line.quantity,
                restock_type=line.restock_type,
                location_id=line.location_id,
                unit_price=line.line.unit_price,
                subtotal=line.subtotal,
                tax=line.tax,
                from_fulfilled=from_fulfilled,
                from_unfulfilled=from_unfulfilled,
            )
        )
    transactions = []
    for parent, gateway, amount in plan.transactions:
        shop_amount = convert(
            amount,
            order.exchange_rate,
            source=order.presentment_currency,
            target=order.currency,
        )
        if amount == order.refundable_on(parent).presentment:
            shop_amount = order.refundable_on(parent).shop
        transactions.append(
            Transaction(
                id=ids.next(),
                kind="REFUND",
                status="SUCCESS",
                gateway=gateway,
                amount=Bag(shop_amount, amount),
                created_at=now,
                parent_id=parent.id,
            )
        )
    credits = []
    for amount, expires_at in plan.store_credit:
        shop_amount = convert(
            amount, order.exchange_rate, source=order.presentment_currency, target=order.currency
        )
        credit = Transaction(
            id=ids.next(),
            kind="REFUND",
            status="SUCCESS",
            gateway=STORE_CREDIT_GATEWAY,
            amount=Bag(shop_amount, amount),
            created_at=now,
        )
        transactions.append(credit)
        credits.append((credit, expires_at))
    duties = [RefundDuty(d.duty.id, d.amount) for d in price_duties(order, plan.lines, plan.duties)]
    refund = Refund(
        id=ids.next(),
        created_at=now,
        note=request.get("note"),
        lines=refund_lines,
        shipping=[
            RefundShipping(ids.next(), s.shipping_line.id, s.subtotal, s.tax) for s in shipping
        ],
        transaction_ids=[t.id for t in transactions],
        duties=duties,
    )
    order.transactions.extend(transactions)
    for credit, expires_at in credits:
        _credit_store_account(shop, order, credit, expires_at=expires_at, ids=ids)
    order.refunds.append(refund)
    order.updated_at = now
    for restocked in refund_lines:
        sku = next(li.sku for li in order.line_items if li.id == restocked.line_item_id)
        if restocked.restock_type in {"RETURN", "CANCEL"} and sku and restocked.location_id:
            key = (sku, restocked.location_id)
            shop.stock[key] = shop.stock.get(key, 0) + restocked.quantity
    return refund


def _credit_store_account(
    shop: Shop, order: Order, credit: Transaction, *, expires_at: str | None, ids: Ids
) -> None:
    """Put a store credit refund on the customer's account in the presentment currency."""
    owner = (order.email or "").lower()
    key = (owner, order.presentment_currency)
    account = shop.store_credit.get(key)
    if account is None:
        account = StoreCreditAccount(ids.next(), owner, order.presentment_currency)
        shop.store_credit[key] = account
    account.credits.append(
        StoreCreditCredit(
            id=ids.next(),
            amount=credit.amount.presentment,
            created_at=credit.created_at,
            expires_at=expires_at,
            origin_transaction_id=credit.id,
        )
    )


def refund_total(order: Order, refund: Refund) -> Bag:
    """Money moved by a refund (its REFUND transactions)."""
    return total([t.amount for t in order.transactions if t.id in set(refund.transaction_ids)])
