"""Pure translation between SHOPLINE's JSON (API `v20251201`) and the domain models.

Ids are long numeric strings and are kept as strings. Money is a decimal string ("18.33")
parsed exactly into integer minor units (never through a float). An order has a settlement
currency (`currency`, the store's) and a presentment one; refunds move settlement money, so
the normalised order is in the settlement currency and its plain amounts are read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from returnbridge.connectors.base.connector import (
    PlatformRefund,
    RefundCommand,
    RefundedLine,
    RestockKind,
    SuggestedLine,
    SuggestedRefund,
    SuggestedTender,
    TenderCommand,
)
from returnbridge.connectors.base.dedupe import key_in_note, note_marker
from returnbridge.domain.errors import PermanentError
from returnbridge.domain.money import exponent, format_minor
from returnbridge.domain.orders import (
    DiscountAllocation,
    Location,
    Order,
    OrderDiscount,
    OrderLine,
    OrderSummary,
    Payment,
    ShippingLine,
    TaxLine,
)

Json = Mapping[str, Any]
LineType = Literal["Returned", "Unshipped"]
RETURNED: LineType = "Returned"
UNSHIPPED: LineType = "Unshipped"
PLATFORM = "shopline"
MAX_NOTE = 500
RESTOCK_TYPES: Mapping[RestockKind, str] = {
    "return": "return",
    "cancel": "cancel",
    "none": "no_restock",
}
RESTOCK_KINDS: Mapping[str, RestockKind] = {v: k for k, v in RESTOCK_TYPES.items()}
ORIGINAL_ROUTE = frozenset({"original", "card"})
"""Tender methods refunded through the payment itself (`type: true`); any other method
(store credit, manual, cash) is recorded as refunded outside it."""
PAID_KINDS = frozenset({"sale", "capture"})
DONE = frozenset({"success", "succeeded", "paid", ""})
FAILED = frozenset({"failure", "failed", "error"})
"""Refund transactions that moved nothing; a `pending` one is committed and counts (the
SDK's example answers a new refund with `status: pending`)."""


# --------------------------------------------------------------------------- values


def minor(value: Any, currency: str, *, field: str = "amount") -> int:
    """Minor units of a SHOPLINE decimal string; missing or empty is 0; never rounded."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise PermanentError("BAD_AMOUNT", f"SHOPLINE {field}: {value!r} is not an amount")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise PermanentError(
            "BAD_AMOUNT", f"SHOPLINE {field}: {value!r} is not an amount"
        ) from None
    scaled = amount.scaleb(exponent(currency)) if amount.is_finite() else amount
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        raise PermanentError(
            "BAD_AMOUNT", f"SHOPLINE {field}: {value!r} is not an amount in {currency}"
        )
    return int(scaled)


def wire(amount: int, currency: str) -> str:
    """Minor units as SHOPLINE's decimal string ("19.80")."""
    return format_minor(amount, currency)


def _id(value: Any) -> str | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    return str(value)


def wire_line_id(line_id: str) -> int | str:
    """A line item id as the refund request types it (a number; the SDK's `int64`)."""
    text = line_id.strip()
    return int(text) if text.isascii() and text.isdigit() else text


def _date(value: Any) -> datetime | None:
    """An ISO 8601 time, or epoch milliseconds (the SDK's `create_at: "1673404700862"`)."""
    if isinstance(value, int | str) and str(value).isdigit() and len(str(value)) >= 12:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def rows(value: Any) -> list[Json]:
    return [x for x in value or () if isinstance(x, Mapping)] if isinstance(value, list) else []


def settlement_currency(order: Json) -> str:
    """The order's settlement (store) currency: the one refunds must be made in."""
    code = order.get("currency")
    if not isinstance(code, str) or not code:
        raise PermanentError("NO_CURRENCY", f"SHOPLINE order {order.get('id')} has no currency")
    return code.upper()


# --------------------------------------------------------------------------- orders


@dataclass(frozen=True, slots=True)
class LineUnits:
    """How many units of one order line are shipped and already refunded, per refund type."""

    quantity: int
    fulfilled: int | None
    returned: int = 0
    unshipped: int = 0

    @property
    def returnable(self) -> int:
        """Shipped units not yet refunded as `Returned`."""
        shipped = self.quantity if self.fulfilled is None else self.fulfilled
        return max(0, shipped - self.returned)

    @property
    def cancellable(self) -> int:
        """Units never shipped and not yet refunded as `Unshipped`."""
        shipped = self.quantity if self.fulfilled is None else self.fulfilled
        return max(0, self.quantity - shipped - self.unshipped)


def _fulfilled(order: Json) -> dict[str, int] | None:
    """Units shipped per line id, from the order's fulfillments; None when it has no list."""
    if not isinstance(order.get("fulfillments"), list):
        return None
    shipped: dict[str, int] = {}
    for fulfillment in rows(order.get("fulfillments")):
        if str(fulfillment.get("status") or "success").lower() in {"cancelled", "failure", "error"}:
            continue
        for item in rows(fulfillment.get("line_items")):
            line_id = _id(item.get("id")) or _id(item.get("line_item_id"))
            if line_id:
                shipped[line_id] = shipped.get(line_id, 0) + int(item.get("quantity") or 0)
    return shipped


def line_units(order: Json) -> dict[str, LineUnits]:
    """Per order line: its quantity, units shipped and units refunded by type.

    A refund line's `type` is read when SHOPLINE gives it (the SDK's refund line has none).
    Untyped units are split with the line's `fulfillable_quantity` (units neither shipped nor
    refunded unshipped): what is missing from it was refunded `Unshipped`, the rest
    `Returned`. Without it, untyped units count as shipped ones, as the engine assumes.
    """
    shipped = _fulfilled(order)
    refunded: dict[str, dict[str, int]] = {}
    for refund in rows(order.get("refunds")):
        for item in rows(refund.get("refund_line_items")):
            line_id = _id(item.get("line_item_id"))
            if line_id:
                kinds = refunded.setdefault(line_id, {})
                kind = str(item.get("type") or "")
                kinds[kind] = kinds.get(kind, 0) + int(item.get("quantity") or 0)
    units = {}
    for item in rows(order.get("line_items")):
        line_id = str(item["id"])
        quantity = int(item.get("quantity") or 0)
        fulfilled = None if shipped is None else shipped.get(line_id, 0)
        kinds = refunded.get(line_id, {})
        returned, unshipped = kinds.get(RETURNED, 0), kinds.get(UNSHIPPED, 0)
        untyped = kinds.get("", 0)
        fulfillable = item.get("fulfillable_quantity")
        if untyped and isinstance(fulfillable, int) and not isinstance(fulfillable, bool):
            never_shipped = quantity - (quantity if fulfilled is None else fulfilled)
            derived = min(untyped, max(0, never_shipped - fulfillable - unshipped))
            unshipped += derived
            untyped -= derived
        units[line_id] = LineUnits(
            quantity=quantity, fulfilled=fulfilled, returned=returned + untyped, unshipped=unshipped
        )
    return units


def _tax_lines(values: Any, currency: str) -> tuple[TaxLine, ...]:
    taxes = []
    for tax in rows(values):
        rate = tax.get("rate")
        try:
            parsed_rate = Decimal(str(rate)) if rate not in (None, "") else None
        except InvalidOperation:
            parsed_rate = None
        taxes.append(
            TaxLine(
                title=str(tax.get("title") or "Tax"),
                rate=parsed_rate,
                amount=minor(tax.get("price"), currency, field="tax_lines.price"),
            )
        )
    return tuple(taxes)


def _discounts(
    item: Json, applications: Sequence[Json], currency: str
) -> tuple[DiscountAllocation, ...]:
    found = []
    for allocation in rows(item.get("discount_allocations")):
        amount = minor(allocation.get("amount"), currency, field="discount_allocations.amount")
        if amount <= 0:
            continue
        index = allocation.get("discount_application_index")
        application = (
            applications[index] if isinstance(index, int) and 0 <= index < len(applications) else {}
        )
        code = application.get("code") or application.get("title")
        across = application.get("allocation_method") == "across"
        found.append(
            DiscountAllocation(
                amount=amount,
                code=str(code) if code else None,
                level="order" if across else "line",
            )
        )
    return tuple(found)


def order_line(
    item: Json, units: LineUnits, applications: Sequence[Json], currency: str
) -> OrderLine:
    """One line item; `price` is the unit price before discounts (tax-exclusive unless the
    order's `taxes_included`)."""
    sku = item.get("sku")
    return OrderLine(
        id=str(item["id"]),
        sku=str(sku) if sku else None,
        title=str(item.get("name") or item.get("title") or ""),
        variant_id=_id(item.get("variant_id")),
        quantity=units.quantity,
        unit_price=minor(item.get("price"), currency, field="line_items.price"),
        discount_allocations=_discounts(item, applications, currency),
        tax_lines=_tax_lines(item.get("tax_lines"), currency),
        already_returned_quantity=units.returned + units.unshipped,
        fulfilled_quantity=units.fulfilled,
    )


def _refund_money(refund: Json, currency: str) -> int:
    """Money a refund moved: its successful refund transactions."""
    return sum(
        minor(t.get("amount"), currency, field="transactions.amount")
        for t in rows(refund.get("transactions"))
        if str(t.get("kind") or "refund").lower() == "refund"
        and str(t.get("status") or "").lower() not in FAILED
    )


def _payment_method(gateway: str) -> str:
    lowered = gateway.lower()
    if "store credit" in lowered or "store_credit" in lowered:
        return "store_credit"
    if "gift" in lowered:
        return "gift_card"
    return "card"


def payments(order: Json, currency: str) -> tuple[Payment, ...]:
    """The order's payment slips (sale transactions, else `payment_details`), each with what
    refunds already took from it.

    A refund transaction names its slip by `parent_id` (the sandbox) or by its own `id` (the
    SDK's create answer reuses the slip number); one naming neither (a listed refund's
    transaction has its own id) is put on the slip when the order has only one.
    """
    slips: list[tuple[str | None, str, int]] = []
    for txn in rows(order.get("transactions")):
        if str(txn.get("kind") or "").lower() not in PAID_KINDS:
            continue
        if str(txn.get("status") or "").lower() not in DONE:
            continue
        amount = minor(txn.get("amount"), currency, field="transactions.amount")
        slips.append((_id(txn.get("id")), str(txn.get("gateway") or ""), amount))
    if not slips and not isinstance(order.get("transactions"), list):
        for detail in rows(order.get("payment_details")):
            amount = detail.get("settle_pay_amount", detail.get("pay_amount"))
            slips.append(
                (
                    _id(detail.get("pay_seq")),
                    str(detail.get("gateway") or ""),
                    minor(amount, currency, field="payment_details.settle_pay_amount"),
                )
            )
    known = {slip for slip, _, _ in slips if slip}
    only = next(iter(known)) if len(slips) == 1 and known else None
    refunded: dict[str, int] = {}
    for refund in rows(order.get("refunds")):
        for txn in rows(refund.get("transactions")):
            if str(txn.get("status") or "").lower() in FAILED:
                continue
            named = [_id(txn.get("parent_id")), _id(txn.get("id"))]
            slip = next((x for x in named if x in known), only)
            if slip is not None:
                amount = minor(txn.get("amount"), currency, field="transactions.amount")
                refunded[slip] = refunded.get(slip, 0) + amount
    return tuple(
        Payment(
            id=slip,
            method=_payment_method(gateway),
            gateway=gateway or None,
            amount=amount,
            refunded=refunded.get(slip or "", 0),
        )
        for slip, gateway, amount in slips
    )


def _refunded_shipping(refund: Json, currency: str) -> tuple[int, int]:
    """Shipping a refund gave back and its tax: its `shipping` object (the sandbox), else its
    `shipping_refund` order adjustments (the SDK's listed refunds)."""
    shipping = refund.get("shipping")
    if isinstance(shipping, Mapping):
        return (
            minor(shipping.get("amount"), currency, field="shipping.amount"),
            minor(shipping.get("tax"), currency, field="shipping.tax"),
        )
    amount = tax = 0
    for adjustment in rows(refund.get("order_adjustments")):
        if adjustment.get("kind") == "shipping_refund":
            amount += abs(minor(adjustment.get("amount"), currency, field="adjustment.amount"))
            tax += abs(minor(adjustment.get("tax_amount"), currency, field="adjustment.tax"))
    return amount, tax


def _shipping_lines(order: Json, currency: str) -> tuple[ShippingLine, ...]:
    refunded = refunded_tax = 0
    for refund in rows(order.get("refunds")):
        amount, tax = _refunded_shipping(refund, currency)
        refunded += amount
        refunded_tax += tax
    lines = []
    for index, row in enumerate(rows(order.get("shipping_lines"))):
        price = minor(row.get("price"), currency, field="shipping_lines.price")
        discounted = row.get("discounted_price")
        discount = price - minor(discounted, currency) if discounted not in (None, "") else 0
        first = index == 0  # SHOPLINE's refunds name no shipping line: the first one takes them
        lines.append(
            ShippingLine(
                id=_id(row.get("id")) or f"shipping-{index}",
                title=str(row.get("title") or ""),
                price=price,
                discount=max(discount, 0),
                tax_lines=_tax_lines(row.get("tax_lines"), currency),
                already_refunded=refunded if first else 0,
                already_refunded_tax=refunded_tax if first else 0,
            )
        )
    return tuple(lines)


def order_email(order: Json) -> str | None:
    customer = order.get("customer")
    email = order.get("email") or (customer.get("email") if isinstance(customer, Mapping) else None)
    return str(email) if email else None


def order_from_shopline(order: Json) -> Order:
    """The normalised order, in its settlement currency."""
    currency = settlement_currency(order)
    applications = rows(order.get("discount_applications"))
    units = line_units(order)
    lines = tuple(
        order_line(item, units[str(item["id"])], applications, currency)
        for item in rows(order.get("line_items"))
    )
    shipping = _shipping_lines(order, currency)
    allocated = sum(d.amount for line in lines for d in line.discount_allocations)
    shipping_discounts = sum(s.discount for s in shipping)
    total_discounts = minor(order.get("total_discounts"), currency, field="total_discounts")
    unallocated = total_discounts - allocated - shipping_discounts
    paid = payments(order, currency)
    refunded = sum(_refund_money(r, currency) for r in rows(order.get("refunds")))
    return Order(
        id=str(order["id"]),
        name=str(order.get("name") or order["id"]),
        email=order_email(order),
        created_at=_date(order.get("created_at")),
        platform=PLATFORM,
        currency=currency,
        currency_exponent=exponent(currency),
        shop_currency=currency,
        taxes_included=bool(order.get("taxes_included")),
        line_items=lines,
        order_discounts=(OrderDiscount(amount=unallocated),) if unallocated > 0 else (),
        shipping_lines=shipping,
        amount_paid=sum(p.amount for p in paid),
        already_refunded_amount=refunded,
        payments=paid,
    )


def order_summary(order: Json) -> OrderSummary:
    """A search hit; an order listing carries its line items, so its SKUs are complete."""
    currency = settlement_currency(order)
    address = order.get("shipping_address")
    postal = address.get("zip") if isinstance(address, Mapping) else None
    return OrderSummary(
        id=str(order["id"]),
        name=_id(order.get("name")),
        email=order_email(order),
        created_at=_date(order.get("created_at")),
        currency=currency,
        total=minor(order.get("total_price"), currency, field="total_price"),
        postal_code=str(postal) if postal else None,
        skus=tuple(str(i["sku"]) for i in rows(order.get("line_items")) if i.get("sku")),
    )


def location(node: Json) -> Location:
    return Location(
        id=str(node["id"]),
        name=str(node.get("name") or node["id"]),
        active=bool(node.get("active", True)),
    )


# --------------------------------------------------------------------------- refund requests


@dataclass(frozen=True, slots=True)
class TypedLine:
    """Units of one order line under one SHOPLINE refund type and restock instruction."""

    line_id: str
    quantity: int
    type: LineType
    restock: RestockKind = "none"
    location_id: str | None = None


def typed_lines(
    command: RefundCommand,
    units: Mapping[str, LineUnits],
    *,
    location_for: Callable[[], str],
) -> list[TypedLine]:
    """The command's lines typed for SHOPLINE: `Returned` for shipped units (up to those
    shipped and not yet refunded as returned), `Unshipped` for the rest.

    A restocking line without a location goes to `location_for()` (SHOPLINE needs one).
    Entries with the same line, type and restock are merged, in the command's order.
    """
    left = {line_id: u.returnable for line_id, u in units.items()}
    merged: dict[tuple[str, LineType, RestockKind, str | None], int] = {}
    for line in command.lines:
        if line.quantity <= 0:
            continue
        returned = min(line.quantity, left.get(line.line_id, 0))
        left[line.line_id] = left.get(line.line_id, 0) - returned
        where = None
        if line.restock != "none":
            where = line.location_id or location_for()
        for kind, count in ((RETURNED, returned), (UNSHIPPED, line.quantity - returned)):
            if count:
                key = (line.line_id, kind, line.restock, where)
                merged[key] = merged.get(key, 0) + count
    return [
        TypedLine(line_id=line_id, quantity=n, type=kind, restock=restock, location_id=where)
        for (line_id, kind, restock, where), n in merged.items()
    ]


def shipping_request(command: RefundCommand) -> dict[str, Any] | None:
    """`shipping {amount, full_refund}` (before tax), or None when no shipping is refunded."""
    if command.shipping_full:
        return {"full_refund": True}
    amount = command.shipping_amount
    if amount is None and command.money is not None:
        amount = command.money.shipping_amount
    if not amount:
        return None
    return {"amount": wire(amount, command.currency), "full_refund": False}


def calculate_body(command: RefundCommand, lines: Sequence[TypedLine]) -> dict[str, Any]:
    """The refund trial: lines (id as a string, as the calculate request types it) by type."""
    merged: dict[tuple[str, str], int] = {}
    for line in lines:
        merged[(line.line_id, line.type)] = merged.get((line.line_id, line.type), 0) + line.quantity
    body: dict[str, Any] = {
        "currency": command.currency.upper(),
        "refund_line_items": [
            {"line_item_id": line_id, "quantity": quantity, "type": kind}
            for (line_id, kind), quantity in merged.items()
        ],
    }
    shipping = shipping_request(command)
    if shipping is not None:
        body["shipping"] = shipping
    return body


def refund_note(command: RefundCommand) -> str:
    """The refund's note: our key first (`returnbridge <key> ...`), then the command's note."""
    note = (command.note or "").strip()
    if key_in_note(note) != command.idempotency_key:
        note = f"{note_marker(command.idempotency_key)}{note}".strip()
    return note[:MAX_NOTE]


@dataclass
class _Slip:
    """A payment slip the calculation offers, and what our tenders take from it."""

    parent_id: str
    gateway: str
    room: int
    taken: int = 0
    original: bool = False


def _slips(calculation: Json, currency: str) -> list[_Slip]:
    slips = []
    for txn in rows(calculation.get("transactons")) or rows(calculation.get("transactions")):
        parent = _id(txn.get("parent_id"))
        if parent is None:
            continue
        room = minor(txn.get("maximum_refundable"), currency, field="maximum_refundable")
        slips.append(_Slip(parent_id=parent, gateway=str(txn.get("gateway") or ""), room=room))
    return slips


def _candidates(tender: TenderCommand, slips: list[_Slip]) -> list[_Slip]:
    exact = [s for s in slips if tender.parent_id and s.parent_id == tender.parent_id]
    if exact:
        return exact
    if tender.gateway:
        same = [s for s in slips if s.gateway.lower() == tender.gateway.lower()]
        if same:
            return same
    return slips


def refund_transactions(command: RefundCommand, calculation: Json) -> list[dict[str, Any]]:
    """`transactions[]` for the refund: the plan's tender amounts against the payment slips
    the calculation offers (its `parent_id` and gateway), each within what the slip can
    still refund. A tender naming a slip goes there; one naming a gateway goes to that
    gateway's slips; otherwise slips are used in the calculation's order."""
    currency = command.currency.upper()
    slips = _slips(calculation, currency)
    for tender in command.tenders:
        if tender.amount <= 0:
            continue
        due = tender.amount
        candidates = _candidates(tender, slips)
        for slip in candidates:
            share = min(due, slip.room - slip.taken)
            if share > 0:
                slip.taken += share
                slip.original = slip.original or tender.method in ORIGINAL_ROUTE
                due -= share
        if due > 0:
            raise PermanentError(
                "TENDER_EXCEEDS_PAYMENTS",
                f"SHOPLINE can refund {wire(tender.amount - due, currency)} of "
                f"{wire(tender.amount, currency)} {currency} through the order's payments "
                f"for order {command.order_id}; nothing was refunded",
                tender=tender.amount,
                refundable=tender.amount - due,
            )
    return [
        {
            "id": slip.parent_id,
            "kind": "refund",
            "gateway": slip.gateway,
            "amount": wire(slip.taken, currency),
            "currency": currency,
            "type": slip.original,
        }
        for slip in slips
        if slip.taken > 0
    ]


def refund_body(
    command: RefundCommand,
    lines: Sequence[TypedLine],
    transactions: list[dict[str, Any]],
    *,
    processed_at: datetime | None = None,
) -> dict[str, Any]:
    """`POST order/refund.json`: the order id in the body, lines typed and restocked."""
    items = []
    for line in lines:
        item: dict[str, Any] = {
            "line_item_id": wire_line_id(line.line_id),
            "quantity": line.quantity,
            "type": line.type,
            "restock_type": RESTOCK_TYPES[line.restock],
        }
        if line.location_id is not None:
            item["location_id"] = line.location_id
        items.append(item)
    body: dict[str, Any] = {
        "order_id": command.order_id,
        "currency": command.currency.upper(),
        "note": refund_note(command),
        "notify": command.notify_customer,
        "refund_line_items": items,
        "transactions": transactions,
    }
    shipping = shipping_request(command)
    if shipping is not None:
        body["shipping"] = shipping
    if processed_at is not None:
        body["processed_at"] = processed_at.isoformat()
    return body


# --------------------------------------------------------------------------- refund answers


def _ordered(line_ids: Iterable[str], command: RefundCommand | None) -> list[str]:
    first = {line.line_id: i for i, line in enumerate(command.lines)} if command else {}
    unique = list(dict.fromkeys(line_ids))
    return sorted(unique, key=lambda x: first.get(x, len(first) + unique.index(x)))


def suggested_refund(calculation: Json, command: RefundCommand) -> SuggestedRefund:
    """The trial's answer: lines merged per order line (SHOPLINE splits them by type),
    shipping and its tax, the payment slips it would refund, and duties."""
    currency = str(calculation.get("currency") or command.currency).upper()
    totals: dict[str, tuple[int, int, int]] = {}
    items = rows(calculation.get("refund_line_items"))
    for row in items:
        line_id = str(row.get("line_item_id"))
        qty, subtotal, tax = totals.get(line_id, (0, 0, 0))
        totals[line_id] = (
            qty + int(row.get("quantity") or 0),
            subtotal + minor(row.get("subtotal"), currency, field="subtotal"),
            tax + minor(row.get("total_tax"), currency, field="total_tax"),
        )
    shipping = calculation.get("shipping")
    shipping = shipping if isinstance(shipping, Mapping) else {}
    duties_set = calculation.get("total_duties_set")
    shop_money = duties_set.get("shop_money") if isinstance(duties_set, Mapping) else None
    duties = (
        minor(shop_money.get("amount"), currency, field="total_duties_set")
        if isinstance(shop_money, Mapping)
        else None
    )
    return SuggestedRefund(
        currency=currency,
        lines=tuple(
            SuggestedLine(line_id=x, quantity=totals[x][0], subtotal=totals[x][1], tax=totals[x][2])
            for x in _ordered((str(r.get("line_item_id")) for r in items), command)
        ),
        shipping_amount=minor(shipping.get("amount"), currency, field="shipping.amount"),
        shipping_tax=minor(shipping.get("tax"), currency, field="shipping.tax"),
        tenders=tuple(
            SuggestedTender(
                amount=minor(t.get("amount"), currency, field="transactons.amount"),
                gateway=_id(t.get("gateway")),
                parent_id=_id(t.get("parent_id")),
            )
            for t in rows(calculation.get("transactons")) or rows(calculation.get("transactions"))
        ),
        duties=duties,
    )


def refund_currency(refund: Json) -> str | None:
    """The currency a refund names (its own, else its transactions'), if any."""
    named = refund.get("currency")
    if isinstance(named, str) and named:
        return named.upper()
    for txn in rows(refund.get("transactions")):
        code = txn.get("currency")
        if isinstance(code, str) and code:
            return code.upper()
    return None


def platform_refund(refund: Json, *, currency: str | None = None) -> PlatformRefund:
    """A SHOPLINE refund; its lines merged per order line (types and restocks joined), its
    note carrying our key when we made it."""
    code = (refund_currency(refund) or currency or "").upper()
    if not code:
        raise PermanentError("NO_CURRENCY", f"SHOPLINE refund {refund.get('id')} has no currency")
    merged: dict[str, RefundedLine] = {}
    for row in rows(refund.get("refund_line_items")):
        line_id = str(row.get("line_item_id"))
        known = merged.get(line_id) or RefundedLine(line_id=line_id, quantity=0, subtotal=0, tax=0)
        restock = RESTOCK_KINDS.get(str(row.get("restock_type") or "no_restock"), "none")
        first_restock = known.restock == "none" and restock != "none"
        merged[line_id] = known.model_copy(
            update={
                "quantity": known.quantity + int(row.get("quantity") or 0),
                "subtotal": (known.subtotal or 0) + minor(row.get("subtotal"), code),
                "tax": (known.tax or 0) + minor(row.get("total_tax"), code),
                "restock": restock if first_restock else known.restock,
                "location_id": _id(row.get("location_id")) if first_restock else known.location_id,
            }
        )
    shipping = refund.get("shipping")
    note = refund.get("note")
    text = str(note) if isinstance(note, str) and note else None
    return PlatformRefund(
        id=str(refund["id"]),
        order_id=str(refund.get("order_id")),
        currency=code,
        total=_refund_money(refund, code),
        created_at=_date(refund.get("created_at") or refund.get("create_at")),
        note=text,
        idempotency_key=key_in_note(text),
        lines=tuple(merged.values()),
        shipping=_refunded_shipping(refund, code)[0]
        if isinstance(shipping, Mapping) or isinstance(refund.get("order_adjustments"), list)
        else None,
    )
