"""`OrderConnector` for BigCommerce: Orders v2 reads, v3 payment actions, Inventory v3.

BigCommerce has no idempotency key for refunds: our key starts the refund's reason, a lost
answer is looked up by it (`dedupe.create_once`), and refunds never restock, so restocking is
its own call (an inventory relative adjustment).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from returnbridge.connectors.base import dedupe
from returnbridge.connectors.base.connector import (
    Capability,
    OrderQuery,
    PlatformRefund,
    RefundCommand,
    RestockCommand,
    RestockLine,
    RestockResult,
    SuggestedRefund,
)
from returnbridge.connectors.bigcommerce import mapping
from returnbridge.connectors.bigcommerce.client import DEFAULT_BASE_URL, BigCommerceClient
from returnbridge.connectors.bigcommerce.hints import ItemIdentity, OrderHints
from returnbridge.connectors.bigcommerce.limits import WindowLimiter
from returnbridge.domain.errors import NotFound, PermanentError
from returnbridge.domain.orders import Location, Order, OrderSummary

PAGE = 250  # the largest page v2 lists and v3 refunds give
SEARCH_PAGE = 50
MAX_SEARCH_PAGES = 4


class BigCommerceConnector:
    """One merchant's BigCommerce store."""

    platform: ClassVar[str] = "bigcommerce"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.SEARCH_BY_EMAIL,
            Capability.SEARCH_BY_NAME,
            Capability.SUGGESTED_REFUND,
            Capability.RESTOCK,
        }
    )

    def __init__(
        self,
        store_hash: str,
        access_token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        http: httpx.Client | None = None,
        limiter: WindowLimiter | None = None,
        timeout: float | httpx.Timeout = 30.0,
        hints: dict[str, Any] | None = None,
        default_location_id: str | None = None,
    ) -> None:
        self.client = BigCommerceClient(
            base_url, store_hash, access_token, http=http, limiter=limiter, timeout=timeout
        )
        # What earlier calls taught, kept as long as the caller keeps `hints` (the connection's
        # state): order currencies and the catalog identity of their products.
        self.hints: dict[str, Any] = {} if hints is None else hints
        orders = self.hints.get("orders")
        if not isinstance(orders, OrderHints):
            orders = self.hints.setdefault("orders", OrderHints())
        self.orders: OrderHints = orders
        self.default_location_id = default_location_id

    # ------------------------------------------------------------------ reads

    def _order_json(self, number: int) -> Mapping[str, Any]:
        body = self.client.get(f"v2/orders/{number}")
        if not isinstance(body, Mapping):
            raise NotFound("NOT_FOUND", f"order {number} not found")
        self.orders.remember(str(number), currency=mapping.order_currency(body))
        return body

    def _pages(self, path: str, params: Mapping[str, str | int]) -> list[Mapping[str, Any]]:
        """Every element of a paginated list (v2: a bare array, 204 when empty; v3: `data`
        with `meta.pagination.total_pages` when the API gives it, else until a short page)."""
        found: list[Mapping[str, Any]] = []
        page = 1
        while True:
            body = self.client.get(path, params={**params, "page": page, "limit": PAGE})
            items = body.get("data") if isinstance(body, Mapping) else body
            batch = [x for x in items or () if isinstance(x, Mapping)]
            found.extend(batch)
            pages = _total_pages(body)
            if not batch or (page >= pages if pages is not None else len(batch) < PAGE):
                return found
            page += 1

    def _refunds_json(self, number: int) -> list[Mapping[str, Any]]:
        return self._pages("v3/orders/payment_actions/refunds", {"order_id:in": number})

    def _products(self, number: int) -> list[Mapping[str, Any]]:
        return self._pages(f"v2/orders/{number}/products", {})

    def get_order(self, order_id: str) -> Order:
        """The order, its products, shipping addresses and refunds (four reads)."""
        number = _number(order_id)
        order = self._order_json(number)
        products = self._products(number)
        addresses = self._pages(f"v2/orders/{number}/shipping_addresses", {})
        refunds = self._refunds_json(number)
        self.orders.remember(
            str(number),
            currency=mapping.order_currency(order),
            items={str(p["id"]): ItemIdentity.of(p) for p in products},
        )
        return mapping.order_from_bigcommerce(order, products, addresses, refunds)

    def find_orders(self, query: OrderQuery) -> list[OrderSummary]:
        """By order id (BigCommerce's order number), email and/or date; SKUs checked on the
        products of each hit (one more read per hit when SKUs are asked)."""
        params: dict[str, str | int] = {"sort": "date_created:desc"}
        names = [n for n in (query.name, *query.names) if n]
        if names:
            numbers = {mapping.order_number(n) for n in names} - {None}
            if not numbers:
                return []
            return self._find_by_numbers(sorted(n for n in numbers if n is not None), query)
        if query.email:
            params["email"] = query.email
        if query.created_from:
            params["min_date_created"] = query.created_from.isoformat()
        if len(params) == 1:
            return []  # nothing BigCommerce can filter on: no scan of the whole store
        hits: list[OrderSummary] = []
        for page in range(1, MAX_SEARCH_PAGES + 1):
            body = self.client.get(
                "v2/orders", params={**params, "page": page, "limit": SEARCH_PAGE}
            )
            orders = [o for o in body or () if isinstance(o, Mapping)]
            hits.extend(self._hits(orders, query))
            if len(hits) >= query.limit or len(orders) < SEARCH_PAGE:
                break
        return hits[: query.limit]

    def _find_by_numbers(self, numbers: list[int], query: OrderQuery) -> list[OrderSummary]:
        orders: list[Mapping[str, Any]] = []
        for number in numbers:
            params: dict[str, str | int] = {"min_id": number, "max_id": number}
            if query.email:
                params["email"] = query.email
            body = self.client.get("v2/orders", params=params)
            orders.extend(o for o in body or () if isinstance(o, Mapping))
        return self._hits(orders, query)[: query.limit]

    def _hits(self, orders: list[Mapping[str, Any]], query: OrderQuery) -> list[OrderSummary]:
        hits = []
        for order in orders:
            products = self._products(int(order["id"])) if query.skus else None
            summary = mapping.order_summary(order, products)
            if mapping.matches(summary, query):
                hits.append(summary)
        return hits

    def list_locations(self) -> list[Location]:
        return [mapping.location(node) for node in self._pages("v3/inventory/locations", {})]

    def list_refunds(self, order_id: str) -> list[PlatformRefund]:
        number = _number(order_id)
        refunds = self._refunds_json(number)
        facts = self.orders.get(str(number))
        currency = facts.currency if facts else mapping.order_currency(self._order_json(number))
        return [mapping.platform_refund(refund, currency) for refund in refunds]

    # ------------------------------------------------------------------ refunds

    def _quote(self, command: RefundCommand) -> Mapping[str, Any]:
        number = _number(command.order_id)
        body = self.client.post(
            f"v3/orders/{number}/payment_actions/refund_quotes",
            {"items": mapping.refund_items(command)},
            writes=False,  # a quote changes nothing
        )
        quote = body.get("data") if isinstance(body, Mapping) else None
        if not isinstance(quote, Mapping):
            raise PermanentError("NO_QUOTE", f"no refund quote for order {number}")
        return quote

    def suggest_refund(self, command: RefundCommand) -> SuggestedRefund:
        return mapping.suggested_refund(self._quote(command), command)

    def create_refund(self, command: RefundCommand) -> PlatformRefund:
        """Quote, check the quote against the plan, then refund with the quote's payments.

        A quote that differs from the plan's total by more than the command's tolerance is a
        `PermanentError` with both figures (the return waits for a person); nothing is
        refunded then. Within it, BigCommerce is paid what it quoted.
        """
        number = _number(command.order_id)
        self.orders.remember(str(number), currency=command.currency)

        def write() -> PlatformRefund:
            quote = self._quote(command)
            quoted = mapping.quoted_total(quote, command.currency)
            planned = command.money.total if command.money is not None else command.expected_total
            if planned is not None and abs(quoted - planned) > command.tolerance:
                raise PermanentError(
                    "QUOTE_DIFFERS",
                    f"BigCommerce quotes {quoted} for order {number}, the plan {planned} "
                    f"({command.currency} minor units)",
                    planned=planned,
                    quoted=quoted,
                )
            payload = {
                "items": mapping.refund_items(command),
                "payments": mapping.refund_payments(quote, command),
            }
            body = self.client.post(
                f"v3/orders/{number}/payment_actions/refunds", payload, writes=True
            )
            refund = body.get("data") if isinstance(body, Mapping) else None
            if not isinstance(refund, Mapping):
                raise PermanentError("NO_REFUND", f"refund of order {number} answered no refund")
            return mapping.platform_refund(refund, command.currency)

        return dedupe.create_once(
            write, lambda: self.list_refunds(command.order_id), command.idempotency_key
        )

    # ------------------------------------------------------------------ restock

    def _location_id(self, command: RestockCommand) -> int:
        wanted = command.location_id or self.default_location_id
        if wanted:
            return _number(wanted, what="location")
        active = [loc for loc in self.list_locations() if loc.active]
        if not active:
            raise PermanentError("NO_LOCATION", "the store has no active inventory location")
        return _number(active[0].id, what="location")

    def restock(self, command: RestockCommand) -> RestockResult:
        """One relative inventory adjustment (+quantity per returned line) at the location.

        The order products name what to adjust (SKU, else variant, else product); the reason
        carries our key. BigCommerce answers a transaction id; it keeps no key to dedupe by.
        """
        number = _number(command.order_id)
        location_id = self._location_id(command)
        identities = self._identities(number)
        items = []
        for line in command.lines:
            identity = identities.get(line.line_id)
            if identity is None:
                raise NotFound("NOT_FOUND", f"order {number} has no product {line.line_id}")
            if line.quantity > 0:
                items.append(mapping.adjustment_item(identity, location_id, line.quantity))
        if not items:
            return RestockResult(location_id=str(location_id))
        reason = f"{dedupe.note_marker(command.key)}{command.reason or f'return of order {number}'}"
        body = self.client.post(
            "v3/inventory/adjustments/relative",
            {"reason": reason[: mapping.MAX_REASON], "items": items},
            writes=True,
        )
        reference = body.get("transaction_id") if isinstance(body, Mapping) else None
        return RestockResult(
            reference=str(reference) if reference else None,
            lines=tuple(
                RestockLine(line_id=line.line_id, quantity=line.quantity)
                for line in command.lines
                if line.quantity > 0
            ),
            location_id=str(location_id),
        )

    def _identities(self, number: int) -> Mapping[str, ItemIdentity]:
        """The order's products as inventory items: remembered from the order read, else read."""
        facts = self.orders.get(str(number))
        if facts is not None and facts.items is not None:
            return facts.items
        return {str(p["id"]): ItemIdentity.of(p) for p in self._products(number)}

    def close(self) -> None:
        self.client.close()


def _total_pages(body: Any) -> int | None:
    """`meta.pagination.total_pages` of a v3 list, if it says."""
    meta = body.get("meta") if isinstance(body, Mapping) else None
    pagination = meta.get("pagination") if isinstance(meta, Mapping) else None
    total = pagination.get("total_pages") if isinstance(pagination, Mapping) else None
    return total if isinstance(total, int) and not isinstance(total, bool) else None


def _number(raw: str, *, what: str = "order") -> int:
    """The integer id BigCommerce uses; anything else cannot exist (`NotFound`)."""
    number = mapping.order_number(raw)
    if number is None:
        raise NotFound("NOT_FOUND", f"{what} {raw!r} is not a BigCommerce id")
    return number


def from_connection(
    base_url: str,
    credentials: Mapping[str, Any],
    timeout: float,
    state: dict[str, Any],
    settings: Mapping[str, Any],
) -> BigCommerceConnector:
    """The registry's factory: a connector for one stored connection.

    `state` lives as long as the process and belongs to this connection: its rate limiter
    (the store's window), pooled HTTP client (`state["http"]`, closed by the runtime) and
    hints. `settings["restock_location_id"]` names the default restock location.
    """
    store_hash = credentials.get("store_hash")
    token = credentials.get("access_token")
    if not isinstance(store_hash, str) or not store_hash:
        raise PermanentError("MISSING_CREDENTIALS", "bigcommerce connection has no store_hash")
    if not isinstance(token, str) or not token:
        raise PermanentError("MISSING_CREDENTIALS", "bigcommerce connection has no access_token")
    limiter = state.get("limiter")
    if not isinstance(limiter, WindowLimiter):  # setdefault: one limiter per connection wins
        limiter = state.setdefault("limiter", WindowLimiter())
    http = state.get("http")
    location = settings.get("restock_location_id") or settings.get("location_id")
    return BigCommerceConnector(
        store_hash,
        token,
        base_url=base_url or DEFAULT_BASE_URL,
        timeout=timeout,
        limiter=limiter,
        http=http if isinstance(http, httpx.Client) else None,
        hints=state.setdefault("hints", {}),
        default_location_id=str(location) if location else None,
    )
