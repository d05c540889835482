"""Control-surface payloads that create shops and orders, and the JSON state they answer with.

Seed amounts are REST-like decimal strings in the order's presentment currency; the shop-currency
twin of each component is converted once with the order's exchange rate, rounded half-up.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from returnbridge.sandbox.shopify.gids import gid
from returnbridge.sandbox.shopify.money import Bag, convert, format_fixed, parse_amount, total
from returnbridge.sandbox.shopify.state import (
    DiscountAllocation,
    DiscountApplication,
    Duty,
    Ids,
    LineItem,
    Location,
    Order,
    ShippingLine,
    Shop,
    TaxLine,
    Transaction,
)


class _Seed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LocationSeed(_Seed):
    """A location of a new shop."""

    id: int
    name: str
    active: bool = True


class ShopSeed(_Seed):
    """``POST /_sandbox/shops``."""

    domain: str
    access_token: str
    currency: str = "USD"
    locations: list[LocationSeed] = Field(
        default_factory=lambda: [LocationSeed(id=1, name="Main warehouse")]
    )
    restore_rate: float | None = None
    bucket_size: int | None = None


class TaxLineSeed(_Seed):
    """A tax charged on all units of a line."""

    title: str
    rate: Decimal
    price: str


class DiscountSeed(_Seed):
    """A discount allocated to all units of a line."""

    amount: str
    code: str | None = None
    title: str | None = None
    allocation_method: Literal["ACROSS", "EACH"] = "ACROSS"
    target_selection: Literal["ALL", "ENTITLED", "EXPLICIT"] = "ALL"
    target_type: Literal["LINE_ITEM", "SHIPPING_LINE"] = "LINE_ITEM"


class DutySeed(_Seed):
    """An import duty charged on all units of a line (``LineItem.duties``)."""

    id: int | None = None
    price: str
    harmonized_system_code: str | None = None
    country_code_of_origin: str | None = None


class LineItemSeed(_Seed):
    """An ordered line."""

    id: int | None = None
    sku: str | None = None
    title: str
    quantity: int = Field(ge=1)
    price: str
    fulfilled_quantity: int | None = Field(default=None, ge=0)
    tax_lines: list[TaxLineSeed] = Field(default_factory=list)
    discount_allocations: list[DiscountSeed] = Field(default_factory=list)
    stocked_at: list[int] | None = None
    duties: list[DutySeed] = Field(default_factory=list)


class ShippingLineSeed(_Seed):
    """A shipping charge."""

    id: int | None = None
    title: str
    price: str
    discount: str = "0"
    tax_lines: list[TaxLineSeed] = Field(default_factory=list)


class TransactionSeed(_Seed):
    """A payment already taken on the order."""

    id: int | None = None
    kind: Literal["SALE", "CAPTURE", "AUTHORIZATION"] = "SALE"
    status: Literal["SUCCESS", "FAILURE", "PENDING"] = "SUCCESS"
    gateway: str = "shopify_payments"
    amount: str


class AddressSeed(_Seed):
    """The parts of a shipping address the sandbox keeps."""

    zip: str | None = None


class OrderSeed(_Seed):
    """``POST /_sandbox/shops/{domain}/orders``."""

    id: int | None = None
    name: str
    email: str | None = None
    phone: str | None = None
    shipping_address: AddressSeed | None = None
    created_at: str = "2026-01-15T10:00:00Z"
    closed_at: str | None = None
    cancelled_at: str | None = None
    currency: str | None = None
    presentment_currency: str | None = None
    exchange_rate: Decimal = Decimal(1)
    taxes_included: bool = False
    line_items: list[LineItemSeed] = Field(min_length=1)
    shipping_lines: list[ShippingLineSeed] = Field(default_factory=list)
    transactions: list[TransactionSeed] | None = None


class InventorySeed(_Seed):
    """``POST /_sandbox/shops/{domain}/inventory``."""

    sku: str
    location_id: int
    available: int


class SeedError(ValueError):
    """A seed payload that cannot become an order."""


class _Builder:
    def __init__(self, seed: OrderSeed, *, shop: Shop, ids: Ids) -> None:
        self.ids = ids
        self.currency = seed.currency or shop.currency
        self.presentment = seed.presentment_currency or self.currency
        self.rate = Fraction(seed.exchange_rate)
        self.applications: dict[tuple[str | None, str, str, str, str], DiscountApplication] = {}

    def bag(self, amount: str) -> Bag:
        presentment = parse_amount(amount, self.presentment)
        shop = convert(presentment, self.rate, source=self.presentment, target=self.currency)
        return Bag(shop, presentment)

    def tax_lines(self, seeds: list[TaxLineSeed]) -> list[TaxLine]:
        return [TaxLine(t.title, Fraction(t.rate), self.bag(t.price)) for t in seeds]

    def application(self, seed: DiscountSeed) -> DiscountApplication:
        title = seed.title or seed.code or "Discount"
        key = (seed.code, title, seed.allocation_method, seed.target_selection, seed.target_type)
        if key not in self.applications:
            self.applications[key] = DiscountApplication(
                index=len(self.applications),
                code=seed.code,
                title=title,
                allocation_method=seed.allocation_method,
                target_selection=seed.target_selection,
                target_type=seed.target_type,
            )
        return self.applications[key]

    def line(self, seed: LineItemSeed) -> LineItem:
        fulfilled = seed.quantity if seed.fulfilled_quantity is None else seed.fulfilled_quantity
        if fulfilled > seed.quantity:
            msg = f"fulfilled_quantity of {seed.title!r} exceeds its quantity"
            raise SeedError(msg)
        return LineItem(
            id=seed.id or self.ids.next(),
            sku=seed.sku,
            title=seed.title,
            quantity=seed.quantity,
            unit_price=self.bag(seed.price),
            fulfilled_quantity=fulfilled,
            tax_lines=self.tax_lines(seed.tax_lines),
            discount_allocations=[
                DiscountAllocation(self.bag(d.amount), self.application(d))
                for d in seed.discount_allocations
            ],
            duties=[
                Duty(
                    id=d.id or self.ids.next(),
                    price=self.bag(d.price),
                    harmonized_system_code=d.harmonized_system_code,
                    country_code_of_origin=d.country_code_of_origin,
                )
                for d in seed.duties
            ],
        )

    def shipping(self, seed: ShippingLineSeed) -> ShippingLine:
        discount = self.bag(seed.discount)
        allocations = []
        if discount.presentment:
            application = self.application(
                DiscountSeed(
                    amount=seed.discount, title="Shipping discount", target_type="SHIPPING_LINE"
                )
            )
            allocations.append(DiscountAllocation(discount, application))
        return ShippingLine(
            id=seed.id or self.ids.next(),
            title=seed.title,
            price=self.bag(seed.price),
            discount=discount,
            tax_lines=self.tax_lines(seed.tax_lines),
            discount_allocations=allocations,
        )


def build_order(seed: OrderSeed, *, shop: Shop, ids: Ids) -> Order:
    """An order from its seed; without transactions it gets one SALE of its total."""
    builder = _Builder(seed, shop=shop, ids=ids)
    order_id = seed.id or ids.next()
    try:
        lines = [builder.line(li) for li in seed.line_items]
        shipping = [builder.shipping(s) for s in seed.shipping_lines]
        order = Order(
            id=order_id,
            name=seed.name,
            email=seed.email,
            phone=seed.phone,
            shipping_zip=seed.shipping_address.zip if seed.shipping_address else None,
            created_at=seed.created_at,
            updated_at=seed.created_at,
            closed_at=seed.closed_at,
            cancelled_at=seed.cancelled_at,
            currency=builder.currency,
            presentment_currency=builder.presentment,
            exchange_rate=builder.rate,
            taxes_included=seed.taxes_included,
            line_items=lines,
            shipping_lines=shipping,
            discount_applications=list(builder.applications.values()),
        )
        for line in lines:
            if order.line_total(line).presentment < 0:
                msg = f"discounts of {line.title!r} exceed its price"
                raise SeedError(msg)
        if seed.transactions is None:
            order.transactions.append(
                Transaction(
                    ids.next(),
                    "SALE",
                    "SUCCESS",
                    "shopify_payments",
                    order.total_price,
                    seed.created_at,
                )
            )
        else:
            order.transactions.extend(
                Transaction(
                    t.id or ids.next(),
                    t.kind,
                    t.status,
                    t.gateway,
                    builder.bag(t.amount),
                    seed.created_at,
                )
                for t in seed.transactions
            )
    except ValueError as exc:
        raise SeedError(str(exc)) from exc
    _stock_lines(seed, order, shop)
    return order


def _stock_lines(seed: OrderSeed, order: Order, shop: Shop) -> None:
    """Record where each SKU is stocked: ``stocked_at``, or every location of the shop."""
    known = {loc.id for loc in shop.locations}
    levels: set[tuple[str, int]] = set()
    for line_seed, line in zip(seed.line_items, order.line_items, strict=True):
        at = known if line_seed.stocked_at is None else set(line_seed.stocked_at)
        if at - known:
            msg = f"stocked_at of {line_seed.title!r} names unknown locations {sorted(at - known)}"
            raise SeedError(msg)
        if line.sku:
            levels.update((line.sku, location_id) for location_id in at)
    shop.stocked.update(levels)


def build_shop(seed: ShopSeed, *, restore_rate: float, bucket_size: int) -> Shop:
    """A shop from its seed, with the app's rate-limit defaults unless overridden."""
    return Shop(
        domain=seed.domain,
        access_token=seed.access_token,
        currency=seed.currency,
        locations=[Location(loc.id, loc.name, loc.active) for loc in seed.locations],
        restore_rate=seed.restore_rate if seed.restore_rate is not None else restore_rate,
        bucket_size=seed.bucket_size if seed.bucket_size is not None else bucket_size,
    )


def store_credit_state(shop: Shop, owner: str | None = None) -> dict[str, Any]:
    """Store credit per customer (email) per currency: balance and the credits behind it."""
    accounts: dict[str, Any] = {}
    for (email, currency), account in sorted(shop.store_credit.items()):
        if owner is not None and email != owner.lower():
            continue
        accounts.setdefault(email, {})[currency] = {
            "account_id": gid("StoreCreditAccount", account.id),
            "balance": format_fixed(account.balance, currency),
            "credits": [
                {
                    "id": gid("StoreCreditAccountCreditTransaction", c.id),
                    "amount": format_fixed(c.amount, currency),
                    "created_at": c.created_at,
                    "expires_at": c.expires_at,
                    "event": c.event,
                    "origin_transaction": (
                        gid("OrderTransaction", c.origin_transaction_id)
                        if c.origin_transaction_id
                        else None
                    ),
                }
                for c in account.credits
            ],
        }
    return accounts


def shop_state(shop: Shop) -> dict[str, Any]:
    """A shop as the control surface answers it."""
    return {
        "domain": shop.domain,
        "currency": shop.currency,
        "restore_rate": shop.restore_rate,
        "bucket_size": shop.bucket_size,
        "locations": [
            {"id": loc.id, "gid": gid("Location", loc.id), "name": loc.name, "active": loc.active}
            for loc in shop.locations
        ],
    }


def order_state(order: Order) -> dict[str, Any]:
    """The full internal state of an order, for assertions and debugging."""

    def bag(value: Bag) -> dict[str, str]:
        return {
            "shop": format_fixed(value.shop, order.currency),
            "presentment": format_fixed(value.presentment, order.presentment_currency),
        }

    return {
        "id": order.id,
        "gid": gid("Order", order.id),
        "name": order.name,
        "email": order.email,
        "phone": order.phone,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
        "currency": order.currency,
        "presentment_currency": order.presentment_currency,
        "exchange_rate": str(
            Decimal(order.exchange_rate.numerator) / order.exchange_rate.denominator
        ),
        "taxes_included": order.taxes_included,
        "financial_status": order.financial_status,
        "total_price": bag(order.total_price),
        "received": bag(order.received),
        "refunded": bag(order.refunded),
        "net_payment": bag(order.net_payment),
        "line_items": [
            {
                "id": li.id,
                "gid": gid("LineItem", li.id),
                "sku": li.sku,
                "title": li.title,
                "quantity": li.quantity,
                "fulfilled_quantity": li.fulfilled_quantity,
                "refunded_quantity": order.refunded_quantity(li),
                "refundable_quantity": li.quantity - order.refunded_quantity(li),
                "unfulfilled_quantity": order.unfulfilled_quantity(li),
                "price": bag(li.unit_price),
                "discount": bag(total([a.amount for a in li.discount_allocations])),
                "tax": bag(total([t.price for t in li.tax_lines])),
                "duties": [
                    {
                        "id": d.id,
                        "gid": gid("Duty", d.id),
                        "price": bag(d.price),
                        "refunded": bag(order.refunded_duty(d.id)),
                    }
                    for d in li.duties
                ],
            }
            for li in order.line_items
        ],
        "shipping_lines": [
            {
                "id": s.id,
                "gid": gid("ShippingLine", s.id),
                "title": s.title,
                "price": bag(s.price),
                "discount": bag(s.discount),
                "tax": bag(s.tax),
            }
            for s in order.shipping_lines
        ],
        "transactions": [
            {
                "id": t.id,
                "gid": gid("OrderTransaction", t.id),
                "kind": t.kind,
                "status": t.status,
                "gateway": t.gateway,
                "amount": bag(t.amount),
                "parent_id": t.parent_id,
            }
            for t in order.transactions
        ],
        "refunds": [
            {
                "id": r.id,
                "gid": gid("Refund", r.id),
                "created_at": r.created_at,
                "note": r.note,
                "lines": [
                    {
                        "line_item_id": rl.line_item_id,
                        "quantity": rl.quantity,
                        "restock_type": rl.restock_type,
                        "location_id": rl.location_id,
                        "subtotal": bag(rl.subtotal),
                        "tax": bag(rl.tax),
                    }
                    for rl in r.lines
                ],
                "shipping": [
                    {
                        "shipping_line_id": rs.shipping_line_id,
                        "subtotal": bag(rs.subtotal),
                        "tax": bag(rs.tax),
                    }
                    for rs in r.shipping
                ],
                "duties": [{"duty_id": d.duty_id, "amount": bag(d.amount)} for d in r.duties],
                "transaction_ids": r.transaction_ids,
            }
            for r in order.refunds
        ],
    }
