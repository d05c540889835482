"""The demo store and its sample returns: ~20 orders, ~10 returns from different channels.

Deterministic: the same orders, customers and returns every run, so `demo --once` can say
exactly what should happen to each return.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SHOP_DOMAIN = "demo-outfitters.myshopify.com"
ACCESS_TOKEN = "shpat_demo_0000000000000000000000"  # noqa: S105 - sandbox-only token
LOCATIONS = [
    {"id": 1, "name": "Main warehouse", "active": True},
    {"id": 2, "name": "Returns center", "active": True},
]
RESTOCK_LOCATION = "gid://shopify/Location/2"


def _tax(price: str, rate: str = "0.08", title: str = "State tax") -> list[dict[str, str]]:
    return [{"title": title, "rate": rate, "price": price}]


def _line(sku: str, title: str, qty: int, price: str, tax: str, **extra: Any) -> dict[str, Any]:
    return {
        "sku": sku,
        "title": title,
        "quantity": qty,
        "price": price,
        "tax_lines": _tax(tax),
        **extra,
    }


SHIPPING = [{"title": "Standard", "price": "5.99", "tax_lines": _tax("0.48")}]


def orders() -> list[dict[str, Any]]:
    """Seed orders for the sandbox control surface (amounts in presentment currency)."""
    seeded: list[dict[str, Any]] = [
        {  # full return by platform order id
            "id": 1001,
            "name": "#1001",
            "email": "jane@example.com",
            "line_items": [_line("MUG-WHT", "White mug", 2, "12.00", "1.92")],
            "shipping_lines": SHIPPING,
        },
        {  # partial return with an order-level discount allocated over the lines
            "id": 1002,
            "name": "#1002",
            "email": "sam@example.com",
            "line_items": [
                _line(
                    "POSTER-A2",
                    "Poster A2",
                    1,
                    "30.00",
                    "2.16",
                    discount_allocations=[{"amount": "3.00", "code": "ART10"}],
                ),
                _line(
                    "FRAME-A2",
                    "Frame A2",
                    3,
                    "10.00",
                    "2.16",
                    discount_allocations=[{"amount": "3.00", "code": "ART10"}],
                ),
            ],
            "shipping_lines": SHIPPING,
        },
        {  # refund only: the customer keeps a damaged item
            "id": 1003,
            "name": "#1003",
            "email": "li@example.com",
            "line_items": [_line("LAMP-DESK", "Desk lamp", 1, "45.00", "3.60")],
            "shipping_lines": SHIPPING,
        },
        {  # shipping refund for a late delivery
            "id": 1004,
            "name": "#1004",
            "email": "omar@example.com",
            "line_items": [_line("BOOK-COOK", "Cookbook", 1, "25.00", "2.00")],
            "shipping_lines": [{"title": "Express", "price": "15.00", "tax_lines": _tax("1.20")}],
        },
        {  # multi-currency: paid in EUR, shop books USD
            "id": 1005,
            "name": "#1005",
            "email": "anna@example.de",
            "presentment_currency": "EUR",
            "exchange_rate": "1.08",
            "line_items": [
                {
                    "sku": "SCARF-WOOL",
                    "title": "Wool scarf",
                    "quantity": 2,
                    "price": "39.00",
                    "tax_lines": _tax("14.82", "0.19", "MwSt"),
                },
            ],
            "shipping_lines": [
                {"title": "EU shipping", "price": "9.00", "tax_lines": _tax("1.71", "0.19", "MwSt")}
            ],
        },
        {  # alex has two orders with the same tee: the return cannot be told apart
            "id": 1006,
            "name": "#1006",
            "email": "alex@example.com",
            "line_items": [_line("TEE-BLK-M", "Black tee M", 1, "20.00", "1.60")],
        },
        {
            "id": 1007,
            "name": "#1007",
            "email": "alex@example.com",
            "line_items": [_line("TEE-BLK-M", "Black tee M", 2, "20.00", "3.20")],
        },
        {  # exchange: goods come back, no money moves
            "id": 1008,
            "name": "#1008",
            "email": "kim@example.com",
            "line_items": [_line("SHOE-RUN-42", "Running shoe 42", 1, "89.00", "7.12")],
            "shipping_lines": SHIPPING,
        },
        {  # found by customer email and SKU
            "id": 1009,
            "name": "#1009",
            "email": "maria@example.com",
            "line_items": [
                _line("SOCK-3PK", "Socks 3-pack", 2, "9.50", "1.52"),
                _line("CAP-BLU", "Blue cap", 1, "18.00", "1.44"),
            ],
        },
        {  # restocking fee on an opened appliance
            "id": 1010,
            "name": "#1010",
            "email": "tom@example.com",
            "line_items": [_line("KETTLE-STL", "Steel kettle", 1, "60.00", "4.80")],
            "shipping_lines": SHIPPING,
        },
        {  # one unit never shipped: it is cancelled, not restocked
            "id": 1011,
            "name": "#1011",
            "email": "ravi@example.com",
            "line_items": [
                _line("CANDLE-SOY", "Soy candle", 3, "14.00", "3.36", fulfilled_quantity=2)
            ],
        },
    ]
    seeded.append(same_order())
    for number in range(1012, 1021):  # the rest of the store
        seeded.append(
            {
                "id": number,
                "name": f"#{number}",
                "email": f"customer{number}@example.com",
                "line_items": [
                    _line(
                        f"SKU-{number}",
                        f"Item {number}",
                        1 + number % 3,
                        "19.90",
                        f"{1.59 * (1 + number % 3):.2f}",
                    )
                ],
                "shipping_lines": SHIPPING,
            }
        )
    return seeded


def same_order() -> dict[str, Any]:
    """The order every demo platform has (see `demo_platforms`): 3 shirts at 20.00, a 5.00
    order coupon spread across them, 8 % tax on the discounted price, taxed shipping."""
    return {
        "id": 1030,
        "name": "#1030",
        "email": "jo@example.com",
        "line_items": [
            _line(
                "TEE-GRN",
                "Green tee",
                3,
                "20.00",
                "4.40",
                discount_allocations=[{"amount": "5.00", "code": "SAVE5"}],
            )
        ],
        "shipping_lines": [{"title": "Standard", "price": "10.00", "tax_lines": _tax("0.80")}],
    }


@dataclass(frozen=True)
class Sample:
    """One sample return event and what must become of it."""

    label: str
    event: dict[str, Any]
    expected_status: str
    expected_refund: str | None = None  # decimal string in the order's currency
    duplicate_of: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def samples() -> list[Sample]:
    def event(external_id: str, channel: str, **body: Any) -> dict[str, Any]:
        return {"external_id": external_id, "channel": channel, **body}

    full = event(
        "TCK-5001",
        "ticket",
        reason="changed mind",
        order={"platform_order_id": "gid://shopify/Order/1001"},
        lines=[{"sku": "MUG-WHT", "quantity": 2, "reason": "unwanted", "condition": "new"}],
        refund={"shipping": {"mode": "full"}},
    )
    return [
        Sample("full return", full, "completed", "32.39"),
        Sample(
            "partial, order discount",
            event(
                "EML-7002",
                "email",
                reason="frame cracked",
                order={"order_number": "#1002", "customer_email": "sam@example.com"},
                lines=[{"sku": "FRAME-A2", "quantity": 1, "condition": "damaged"}],
            ),
            "completed",
            "9.72",
        ),
        Sample(
            "refund only",
            event(
                "CHAT-3003",
                "chat",
                reason="arrived scratched, customer keeps it",
                order={"order_number": "1003"},
                restock=False,
                lines=[{"sku": "LAMP-DESK", "quantity": 1, "condition": "damaged"}],
            ),
            "completed",
            "48.60",
        ),
        Sample(
            "shipping refund",
            event(
                "IG-4004",
                "social",
                reason="express delivery arrived late",
                order={"order_number": "#1004"},
                refund={"shipping": {"mode": "full"}},
            ),
            "completed",
            "16.20",
        ),
        Sample(
            "multi-currency (EUR)",
            event(
                "MKT-5005",
                "marketplace",
                reason="too small",
                order={"order_number": "#1005"},
                lines=[{"sku": "SCARF-WOOL", "quantity": 1, "reason": "size"}],
            ),
            "completed",
            "46.41",
        ),
        Sample(
            "ambiguous order",
            event(
                "TEL-6006",
                "phone",
                reason="wrong size",
                order={"customer_email": "alex@example.com"},
                lines=[{"sku": "TEE-BLK-M", "quantity": 1}],
            ),
            "needs_review",
        ),
        Sample(
            "exchange (goods only)",
            event(
                "WEB-8008",
                "web",
                reason="exchange for size 43",
                order={"order_number": "#1008"},
                refund={"issue": False},
                lines=[{"sku": "SHOE-RUN-42", "quantity": 1, "condition": "new"}],
            ),
            "completed",
            "0.00",
        ),
        Sample(
            "by email + SKU",
            event(
                "EML-9009",
                "email",
                reason="colour not as pictured",
                order={"customer_email": "maria@example.com"},
                lines=[{"sku": "CAP-BLU", "quantity": 1}],
            ),
            "completed",
            "19.44",
        ),
        Sample(
            "restocking fee",
            event(
                "TCK-1010",
                "ticket",
                reason="opened, works fine",
                order={"order_number": "#1010"},
                refund={"restocking_fee": {"type": "percent", "rate": "0.15"}},
                lines=[{"sku": "KETTLE-STL", "quantity": 1, "condition": "opened"}],
            ),
            "completed",
            "55.80",
        ),
        Sample(
            "unshipped unit cancelled",
            event(
                "WEB-1111",
                "web",
                reason="ordered too many",
                order={"order_number": "#1011"},
                lines=[{"sku": "CANDLE-SOY", "quantity": 3}],
            ),
            "completed",
            "45.36",
        ),
        Sample(
            "same order, Shopify",
            event(
                "SHOP-1030",
                "email",
                reason="too small",
                order={"order_number": "#1030", "customer_email": "jo@example.com"},
                lines=[{"sku": "TEE-GRN", "quantity": 1, "condition": "new"}],
            ),
            "completed",
            "19.80",
        ),
        Sample("duplicate delivery", full, "completed", "32.39", duplicate_of="TCK-5001"),
    ]
