"""The demo's WooCommerce, BigCommerce and SHOPLINE merchants: stores, orders, sample returns.

Each merchant is its own tenant (a vendor embeds returnbridge once per merchant, whatever the
platform). All sell the order every platform has (`SAME_ORDER`): three T-shirts at 20.00 with a
5.00 order coupon, 8 % tax on the discounted price and taxed shipping. Returning one shirt
refunds 19.80 on Shopify, WooCommerce, BigCommerce and SHOPLINE alike.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from returnbridge.cli.demo_scenarios import Sample

SAME_ORDER_REFUND = "19.80"
"""One of three 20.00 shirts: 20.00 - 1.67 coupon share + 1.47 tax (refund-math §3.3)."""

_KEY = re.compile(r"returnbridge (rb-[A-Za-z0-9_-]+)")


def refund_keys(journal: Iterable[dict[str, Any]]) -> Counter[str]:
    """How many refunds each of our keys made, from a sandbox's journal (any platform: our
    key travels in the refund's note, reason or meta data, all recorded in the entry)."""
    made: Counter[str] = Counter()
    for entry in journal:
        if entry.get("effect") == "refund_created":
            found = _KEY.search(json.dumps(entry, default=str))
            made[found.group(1) if found else f"unkeyed-{entry.get('refund_id')}"] += 1
    return made


@dataclass(frozen=True)
class DemoStore:
    """One merchant on one platform: how to seed its sandbox and connect to it."""

    platform: str
    tenant_name: str
    store_label: str
    credentials: dict[str, str]
    settings: dict[str, Any]
    seed: Callable[[httpx.Client], int]
    """Seeds the sandbox; answers the number of orders seeded."""
    samples: Callable[[], list[Sample]]
    base_path: str = ""


def _event(external_id: str, channel: str, **body: Any) -> dict[str, Any]:
    return {"external_id": external_id, "channel": channel, **body}


# --------------------------------------------------------------------------- WooCommerce

WOO_KEY = "ck_demo_00000000000000000000000000000000000000"
WOO_SECRET = "cs_demo_00000000000000000000000000000000000000"  # noqa: S105 - sandbox-only
WOO_TAX = 1
WOO_PRODUCTS = {"TEE-GRN": 501, "MUG-WHT": 502, "HOODIE-L": 503}


def _woo_line(sku: str, name: str, qty: int, price: str, tax: str, **extra: Any) -> dict[str, Any]:
    return {
        "product_id": WOO_PRODUCTS[sku],
        "sku": sku,
        "name": name,
        "quantity": qty,
        "price": price,
        "taxes": [{"rate_id": WOO_TAX, "total": tax}],
        **extra,
    }


def _woo_order(
    number: str, email: str, lines: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    return {
        "number": number,
        "billing": {"email": email, "first_name": email.split("@", maxsplit=1)[0].title()},
        "tax_rates": [{"rate_id": WOO_TAX, "label": "State tax"}],
        "line_items": lines,
        "shipping_lines": [{"total": "5.99", "taxes": [{"rate_id": WOO_TAX, "total": "0.48"}]}],
        **extra,
    }


def woo_orders() -> list[dict[str, Any]]:
    same = _woo_order(
        "2001",
        "jo@example.com",
        [
            _woo_line(
                "TEE-GRN",
                "Green tee",
                3,
                "20.00",
                "4.40",
                discount="5.00",
            )
        ],
        coupon_lines=[{"code": "SAVE5", "discount": "5.00"}],
        shipping_lines=[{"total": "10.00", "taxes": [{"rate_id": WOO_TAX, "total": "0.80"}]}],
    )
    same["line_items"][0]["taxes"][0]["subtotal"] = "4.80"
    return [
        same,
        _woo_order(
            "2002", "lee@example.com", [_woo_line("MUG-WHT", "White mug", 2, "12.00", "1.92")]
        ),
        _woo_order(
            "2003", "pat@example.com", [_woo_line("HOODIE-L", "Hoodie L", 1, "49.00", "3.92")]
        ),
    ]


def _seed_woo(client: httpx.Client) -> int:
    client.post(
        "/_sandbox/stores",
        json={"name": "corner-shop", "consumer_key": WOO_KEY, "consumer_secret": WOO_SECRET},
    ).raise_for_status()
    for product_id in WOO_PRODUCTS.values():
        client.post(
            "/_sandbox/stores/corner-shop/stock",
            json={"product_id": product_id, "stock_quantity": 10},
        ).raise_for_status()
    orders = woo_orders()
    for order in orders:
        client.post("/_sandbox/stores/corner-shop/orders", json=order).raise_for_status()
    return len(orders)


def _woo_samples() -> list[Sample]:
    return [
        Sample(
            "same order, WooCommerce",
            _event(
                "WOO-2001",
                "email",
                reason="too small",
                order={"order_number": "2001", "customer_email": "jo@example.com"},
                lines=[{"sku": "TEE-GRN", "quantity": 1, "condition": "new"}],
            ),
            "completed",
            SAME_ORDER_REFUND,
        ),
        Sample(
            "full return + shipping",
            _event(
                "WOO-2002",
                "ticket",
                reason="arrived broken",
                order={"order_number": "2002"},
                lines=[{"sku": "MUG-WHT", "quantity": 2, "condition": "damaged"}],
                refund={"shipping": {"mode": "full"}},
            ),
            "completed",
            "32.39",
        ),
        Sample(
            "exchange (goods only)",
            _event(
                "WOO-2003",
                "chat",
                reason="exchange for size M",
                order={"customer_email": "pat@example.com"},
                refund={"issue": False},
                lines=[{"sku": "HOODIE-L", "quantity": 1}],
            ),
            "completed",
            "0.00",
        ),
    ]


WOOCOMMERCE = DemoStore(
    platform="woocommerce",
    tenant_name="Corner Shop (WooCommerce)",
    store_label="WooCommerce site corner-shop",
    credentials={"consumer_key": WOO_KEY, "consumer_secret": WOO_SECRET},
    settings={"api_refund": True},
    seed=_seed_woo,
    samples=_woo_samples,
)


# --------------------------------------------------------------------------- BigCommerce

BC_STORE = "gearhub"
BC_TOKEN = "bc_demo_token_000000000000000000"  # noqa: S105 - sandbox-only token
BC_LOCATION = 1


def _bc_product(
    product_id: int, sku: str, name: str, qty: int, *, price: str, price_inc: str, **extra: Any
) -> dict[str, Any]:
    return {
        "product_id": product_id,
        "variant_id": product_id * 10,
        "sku": sku,
        "name": name,
        "quantity": qty,
        "price_ex_tax": price,
        "price_inc_tax": price_inc,
        **extra,
    }


def bc_orders() -> list[dict[str, Any]]:
    return [
        {
            "id": 3001,
            "customer_id": 11,
            "email": "jo@example.com",
            "payment_provider_id": "braintree",
            "products": [
                _bc_product(
                    601,
                    "TEE-GRN",
                    "Green tee",
                    3,
                    price="20.00",
                    price_inc="21.60",
                    applied_discounts=[{"code": "SAVE5", "amount": "5.00", "target": "order"}],
                    total_tax="4.40",
                )
            ],
            "coupon_discount": "5.00",
            "shipping": {"cost_ex_tax": "10.00", "cost_inc_tax": "10.80"},
        },
        {
            "id": 3002,
            "customer_id": 12,
            "email": "max@example.com",
            "payment_provider_id": "braintree",
            "products": [
                _bc_product(
                    602, "BOTTLE-1L", "Steel bottle 1L", 2, price="15.00", price_inc="16.20"
                ),
                _bc_product(603, "CAP-GRY", "Grey cap", 1, price="18.00", price_inc="19.44"),
            ],
        },
        {
            "id": 3003,
            "customer_id": 13,
            "email": "ida@example.com",
            "payment_provider_id": "braintree",
            "products": [
                _bc_product(604, "TENT-2P", "Tent 2P", 1, price="149.00", price_inc="160.92")
            ],
        },
    ]


def _seed_bc(client: httpx.Client) -> int:
    client.post(
        "/_sandbox/stores",
        json={
            "store_hash": BC_STORE,
            "access_token": BC_TOKEN,
            "client_secret": "bc-demo-client-secret",
            "locations": [{"id": BC_LOCATION, "label": "Main warehouse"}],
        },
    ).raise_for_status()
    orders = bc_orders()
    for order in orders:
        client.post(f"/_sandbox/stores/{BC_STORE}/orders", json=order).raise_for_status()
        for product in order["products"]:
            client.post(
                f"/_sandbox/stores/{BC_STORE}/stock",
                json={"sku": product["sku"], "level": 10, "location_id": BC_LOCATION},
            ).raise_for_status()
    return len(orders)


def _bc_samples() -> list[Sample]:
    return [
        Sample(
            "same order, BigCommerce",
            _event(
                "BC-3001",
                "marketplace",
                reason="too small",
                order={"platform_order_id": "3001"},
                lines=[{"sku": "TEE-GRN", "quantity": 1, "condition": "new"}],
            ),
            "completed",
            SAME_ORDER_REFUND,
        ),
        Sample(
            "by email + SKU",
            _event(
                "BC-3002",
                "social",
                reason="dented",
                order={"customer_email": "max@example.com"},
                lines=[{"sku": "CAP-GRY", "quantity": 1, "condition": "damaged"}],
            ),
            "completed",
            "19.44",
        ),
        Sample(
            "exchange, restocked",
            _event(
                "BC-3003",
                "web",
                reason="exchange for the 3P tent",
                order={"order_number": "3003"},
                refund={"issue": False},
                lines=[{"sku": "TENT-2P", "quantity": 1}],
            ),
            "completed",
            "0.00",
            extra={"platform_refund": False},  # BigCommerce: stock adjusted, no refund
        ),
    ]


BIGCOMMERCE = DemoStore(
    platform="bigcommerce",
    tenant_name="Gear Hub (BigCommerce)",
    store_label=f"BigCommerce store {BC_STORE}",
    credentials={"store_hash": BC_STORE, "access_token": BC_TOKEN},
    settings={"restock_location_id": str(BC_LOCATION)},
    seed=_seed_bc,
    samples=_bc_samples,
)


# --------------------------------------------------------------------------- SHOPLINE

SL_STORE = "lumen-goods"
SL_TOKEN = "sl_demo_token_000000000000000000"  # noqa: S105 - sandbox-only token
SL_SECRET = "sl-demo-app-secret"  # noqa: S105 - sandbox-only app secret
SL_LOCATION = "5409000000000000401"
SL_ORDER_IDS = {
    "#4001": "21050000000000000000004001",
    "#4002": "21050000000000000000004002",
    "#4003": "21050000000000000000004003",
}
_SL_VAT = [{"title": "VAT", "rate": "0.08"}]


def _sl_order(name: str, email: str, lines: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "id": SL_ORDER_IDS[name],
        "name": name,
        "email": email,
        "line_items": lines,
        "shipping_lines": [
            {
                "title": "Standard",
                "price": "5.99",
                "tax_lines": [{"title": "VAT", "rate": "0.08", "price": "0.48"}],
            }
        ],
        **extra,
    }


def sl_orders() -> list[dict[str, Any]]:
    """The same order (#4001), a mug order to return in full with shipping (#4002) and a cap
    order found by email and SKU (#4003); every unit shipped, paid through PayPal."""
    same = _sl_order(
        "#4001",
        "jo@example.com",
        [
            {
                "sku": "TEE-GRN",
                "title": "Green tee",
                "quantity": 3,
                "price": "20.00",
                "discount_allocations": [{"amount": "5.00", "discount_application_index": 0}],
                "tax_lines": _SL_VAT,
            }
        ],
        discount_applications=[
            {
                "code": "SAVE5",
                "value": "5.00",
                "value_type": "fixed_amount",
                "target_type": "line_item",
                "allocation_method": "across",
            }
        ],
        shipping_lines=[
            {
                "title": "Standard",
                "price": "10.00",
                "tax_lines": [{"title": "VAT", "rate": "0.08", "price": "0.80"}],
            }
        ],
    )
    mugs = [{"sku": "MUG-WHT", "title": "White mug", "quantity": 2, "price": "12.00"}]
    cap = [{"sku": "CAP-GRY", "title": "Grey cap", "quantity": 1, "price": "18.00"}]
    return [
        same,
        _sl_order("#4002", "lee@example.com", [{**mugs[0], "tax_lines": _SL_VAT}]),
        _sl_order("#4003", "ida@example.com", [{**cap[0], "tax_lines": _SL_VAT}]),
    ]


def _seed_sl(client: httpx.Client) -> int:
    client.post(
        "/_sandbox/stores",
        json={
            "handle": SL_STORE,
            "access_token": SL_TOKEN,
            "app_secret": SL_SECRET,
            "locations": [{"id": SL_LOCATION, "name": "Main warehouse"}],
        },
    ).raise_for_status()
    orders = sl_orders()
    for order in orders:
        client.post(f"/_sandbox/stores/{SL_STORE}/orders", json=order).raise_for_status()
        for line in order["line_items"]:
            client.post(
                f"/_sandbox/stores/{SL_STORE}/stock",
                json={"sku": line["sku"], "level": 10, "location_id": SL_LOCATION},
            ).raise_for_status()
    return len(orders)


def _sl_samples() -> list[Sample]:
    return [
        Sample(
            "same order, SHOPLINE",
            _event(
                "SL-4001",
                "email",
                reason="too small",
                order={"order_number": "4001", "customer_email": "jo@example.com"},
                lines=[{"sku": "TEE-GRN", "quantity": 1, "condition": "new"}],
            ),
            "completed",
            SAME_ORDER_REFUND,
        ),
        Sample(
            "full return + shipping",
            _event(
                "SL-4002",
                "web",
                reason="arrived broken",
                order={"platform_order_id": SL_ORDER_IDS["#4002"]},
                lines=[{"sku": "MUG-WHT", "quantity": 2, "condition": "damaged"}],
                refund={"shipping": {"mode": "full"}},
            ),
            "completed",
            "32.39",  # 2 x 12.00 + 1.92 tax + 5.99 shipping + 0.48 its tax
        ),
        Sample(
            "by email + SKU",
            _event(
                "SL-4003",
                "chat",
                reason="wrong colour",
                order={"customer_email": "ida@example.com"},
                lines=[{"sku": "CAP-GRY", "quantity": 1, "condition": "new"}],
            ),
            "completed",
            "19.44",
        ),
    ]


SHOPLINE = DemoStore(
    platform="shopline",
    tenant_name="Lumen Goods (SHOPLINE)",
    store_label=f"SHOPLINE store {SL_STORE}",
    credentials={"access_token": SL_TOKEN},
    settings={"restock_location_id": SL_LOCATION},
    seed=_seed_sl,
    samples=_sl_samples,
    base_path=f"/stores/{SL_STORE}",
)

OTHER_STORES = (WOOCOMMERCE, BIGCOMMERCE, SHOPLINE)
DEMO_PLATFORMS = ("shopify", *(store.platform for store in OTHER_STORES))
"""Every platform the demo has a merchant on, in the order their sandboxes start."""
