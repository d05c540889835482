"""What earlier calls taught about a store's orders, kept for the connection's life.

An order's currency and what its products are in the catalog (SKU, variant, product) never
change, so a restock after the order was read needs no second read of its products, and a
refund list needs no order read for its currency. Bounded: the oldest orders are forgotten.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_ORDERS = 512


@dataclass(frozen=True, slots=True)
class ItemIdentity:
    """How the inventory API names an order product's item."""

    sku: str | None
    variant_id: int | None
    product_id: int | None

    @classmethod
    def of(cls, product: Mapping[str, Any]) -> ItemIdentity:
        return cls(
            sku=str(product.get("sku") or "") or None,
            variant_id=int(product["variant_id"]) if product.get("variant_id") else None,
            product_id=int(product["product_id"]) if product.get("product_id") else None,
        )


@dataclass(frozen=True, slots=True)
class OrderFacts:
    currency: str
    items: Mapping[str, ItemIdentity] | None = None
    """Per order product id; None when the products were not read."""


class OrderHints:
    """A bounded, thread-safe memory of `OrderFacts` per order id."""

    def __init__(self, max_orders: int = MAX_ORDERS) -> None:
        self._facts: OrderedDict[str, OrderFacts] = OrderedDict()
        self._max = max_orders
        self._lock = threading.Lock()

    def get(self, order_id: str) -> OrderFacts | None:
        with self._lock:
            facts = self._facts.get(order_id)
            if facts is not None:
                self._facts.move_to_end(order_id)
            return facts

    def remember(
        self, order_id: str, *, currency: str, items: Mapping[str, ItemIdentity] | None = None
    ) -> None:
        """Keep the order's currency (and its items when given; known items are kept)."""
        with self._lock:
            known = self._facts.get(order_id)
            kept = items if items is not None else (known.items if known else None)
            self._facts[order_id] = OrderFacts(currency=currency, items=kept)
            self._facts.move_to_end(order_id)
            while len(self._facts) > self._max:
                self._facts.popitem(last=False)
