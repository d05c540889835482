"""The control surface's seeds: shops (API keys, settings, policy) and their Shopify orders."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from returnbridge.sandbox.loop.money import ZERO
from returnbridge.sandbox.loop.state import Order, OrderLine, Shop, World

DEFAULT_AUTO_PROCESS_SECONDS = 0.5


class _Seed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ShopSeed(_Seed):
    """``POST /_sandbox/shops``: a Loop merchant (created or replaced, by name)."""

    name: str = Field(min_length=1)
    api_key: str = Field(min_length=1)
    api_keys: list[str] = Field(default_factory=list, description="more keys of the shop")
    currency: str = "USD"
    shop_id: int | None = None
    auto_process_seconds: float | None = Field(
        default=DEFAULT_AUTO_PROCESS_SECONDS,
        ge=0,
        description="seconds (sandbox clock) until a queued processing completes; null: only"
        " on process_pending",
    )
    unavailable_orders: list[str] = Field(
        default_factory=list, description="order names no return policy covers"
    )
    unavailable_zips: list[str] = Field(
        default_factory=list, description="postal codes no return policy covers"
    )
    webhook_secret: str = Field(
        default="loop-webhook-secret", description="signs programmatic webhooks"
    )
    retry_after: bool = Field(
        default=False, description="send Retry-After on 429 (Loop documents none)"
    )


class LineSeed(_Seed):
    id: int = Field(description="the Shopify line item id")
    sku: str | None = None
    title: str = ""
    quantity: int = Field(ge=1)
    price: Decimal = Field(description="unit price")
    tax: Decimal = Field(default=ZERO, description="tax of the whole line")
    discount: Decimal = Field(default=ZERO, description="discount of the whole line")


class OrderSeed(_Seed):
    """``POST /_sandbox/shops/{shop}/orders``: a Shopify order as Loop reads it."""

    name: str = Field(min_length=1, description='the Shopify order name, e.g. "#1001"')
    provider_order_id: int = Field(description="the Shopify order id")
    email: str
    zip: str = "10001"
    phone: str | None = None
    currency: str | None = None
    line_items: list[LineSeed] = Field(min_length=1)


class WebhookSeed(_Seed):
    """``POST /_sandbox/shops/{shop}/webhooks``: an active endpoint with its own secret."""

    url: str
    secret: str
    triggers: list[str] | None = Field(default=None, description="null: every trigger")


def build_shop(seed: ShopSeed, world: World) -> Shop:
    return Shop(
        name=seed.name,
        shop_id=seed.shop_id or world.next_small_id(),
        api_keys=(seed.api_key, *seed.api_keys),
        currency=seed.currency,
        auto_process_seconds=seed.auto_process_seconds,
        webhook_secret=seed.webhook_secret,
        retry_after=seed.retry_after,
        unavailable_orders=set(seed.unavailable_orders),
        unavailable_zips=set(seed.unavailable_zips),
    )


def build_order(seed: OrderSeed, shop: Shop, world: World) -> Order:
    lines = tuple(
        OrderLine(ln.id, ln.sku or str(ln.id), ln.title, ln.quantity, ln.price, ln.tax, ln.discount)
        for ln in seed.line_items
    )
    return Order(
        name=seed.name,
        provider_order_id=seed.provider_order_id,
        loop_id=world.next_id(),
        email=seed.email,
        zip=seed.zip,
        phone=seed.phone,
        currency=seed.currency or shop.currency,
        lines=lines,
    )
