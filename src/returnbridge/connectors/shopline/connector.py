"""`OrderConnector` for SHOPLINE (global Open Platform), REST Admin API `v20251201`.

SHOPLINE previews refunds (`refunds/calculate.json`) and restocks inside the refund, but has
no idempotency key: our key starts the refund's note, a lost answer is looked up by it
(`dedupe.create_once`), and a refund already made under the key is returned as is. Refunds
are in the order's settlement currency; each line's units are typed `Returned` (shipped) or
`Unshipped`. Return orders (`open_return`, `close_return`) are offered for the engine to use.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import httpx

from returnbridge.connectors.base import dedupe
from returnbridge.connectors.base.connector import (
    Capability,
    OrderQuery,
    PlatformRefund,
    RefundCommand,
    RestockCommand,
    RestockResult,
    SuggestedRefund,
)
from returnbridge.connectors.base.search import aware, matches
from returnbridge.connectors.shopline import mapping, returns
from returnbridge.connectors.shopline.client import Answer, ShoplineClient
from returnbridge.connectors.shopline.limits import LeakyBucket
from returnbridge.connectors.shopline.returns import (
    PlatformReturn,
    ReturnLineRequest,
)
from returnbridge.domain.errors import NotFound, PermanentError, TransientError
from returnbridge.domain.orders import Location, Order, OrderSummary

Json = Mapping[str, Any]

PAGE = 100  # the largest `limit` SHOPLINE lists accept
SEARCH_PAGE = 50
MAX_SEARCH_PAGES = 4
MAX_REFUND_PAGES = 10


def _is_id(value: str) -> bool:
    return value.isascii() and value.isdigit()


class ShoplineConnector:
    """One merchant's SHOPLINE store."""

    platform: ClassVar[str] = "shopline"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.SEARCH_BY_EMAIL,
            Capability.SEARCH_BY_NAME,
            Capability.SUGGESTED_REFUND,
            Capability.RESTOCK_WITH_REFUND,
        }
    )

    def __init__(
        self,
        base_url: str,
        access_token: str,
        *,
        http: httpx.Client | None = None,
        limiter: LeakyBucket | None = None,
        timeout: float | httpx.Timeout = 30.0,
        default_location_id: str | None = None,
        search_page_size: int = SEARCH_PAGE,
    ) -> None:
        self.search_page_size = max(1, min(search_page_size, PAGE))
        self.client = ShoplineClient(
            base_url, access_token, http=http, limiter=limiter, timeout=timeout
        )
        self.default_location_id = default_location_id
        self._location: str | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ShoplineConnector({self.client!r})"

    # ------------------------------------------------------------------ reads

    def _order_json(self, order_id: str) -> Json:
        if not _is_id(order_id):
            raise NotFound("NOT_FOUND", f"order {order_id!r} is not a SHOPLINE order id")
        body = self.client.get(f"orders/{order_id}.json").body
        order = body.get("order") if isinstance(body, Mapping) else None
        if not isinstance(order, Mapping):
            raise TransientError(
                "INVALID_RESPONSE", f"GET orders/{order_id}.json: no order", ambiguous=False
            )
        return order

    def get_order(self, order_id: str) -> Order:
        return mapping.order_from_shopline(self._order_json(order_id))

    def _list(
        self, path: str, key: str, params: Mapping[str, str | int], *, max_pages: int
    ) -> list[Json]:
        """Every element of a `Link`-paginated list, up to `max_pages` pages; a follow-up
        page sends only `limit` and the cursor, as SHOPLINE requires."""
        found: list[Json] = []
        answer: Answer = self.client.get(path, params=params)
        for page in range(1, max_pages + 1):
            body = answer.body
            found.extend(mapping.rows(body.get(key)) if isinstance(body, Mapping) else [])
            if answer.next_page_info is None or page == max_pages:
                break
            follow: dict[str, str | int] = {"page_info": answer.next_page_info}
            if "limit" in params:
                follow["limit"] = params["limit"]
            answer = self.client.get(path, params=follow)
        return found

    def find_orders(self, query: OrderQuery) -> list[OrderSummary]:
        """By order name (each spelling, with and without `#`), else email and/or date; every
        hit checked exactly (`search.matches`). Nothing to filter on: no scan, no hits."""
        params: dict[str, str | int] = {"status": "any", "limit": self.search_page_size}
        if query.email:
            params["email"] = query.email.strip()
        if query.created_from is not None:
            params["created_at_min"] = aware(query.created_from).isoformat()
        names = [n.strip() for n in (query.name, *query.names) if n and n.strip()]
        searches: list[dict[str, str | int]] = []
        if names:
            spellings = dict.fromkeys(
                spelling for n in names for spelling in (n, f"#{n.lstrip('#')}", n.lstrip("#"))
            )
            searches = [{**params, "name": s} for s in spellings if s]
        elif query.email or query.created_from is not None:
            searches = [params]
        hits: dict[str, OrderSummary] = {}
        limit = max(1, query.limit)
        for search in searches:
            pages = 1 if "name" in search else MAX_SEARCH_PAGES
            for node in self._list("orders.json", "orders", search, max_pages=pages):
                summary = mapping.order_summary(node)
                if matches(summary, query):
                    hits.setdefault(summary.id, summary)
            if len(hits) >= limit:
                break
        return list(hits.values())[:limit]

    def list_locations(self) -> list[Location]:
        body = self.client.get("locations/list.json").body
        nodes = mapping.rows(body.get("locations")) if isinstance(body, Mapping) else []
        return [mapping.location(node) for node in nodes]

    def _restock_location(self) -> str:
        """Where restocked units go when the command names no place: the connection's
        setting, else the store's first active location (asked once)."""
        if self.default_location_id:
            return self.default_location_id
        with self._lock:
            if self._location is None:
                active = [loc for loc in self.list_locations() if loc.active]
                if not active:
                    raise PermanentError(
                        "NO_LOCATION", "the SHOPLINE store has no active location to restock to"
                    )
                self._location = active[0].id
            return self._location

    def list_refunds(self, order_id: str) -> list[PlatformRefund]:
        if not _is_id(order_id):
            raise NotFound("NOT_FOUND", f"order {order_id!r} is not a SHOPLINE order id")
        rows = self._list(
            f"orders/{order_id}/refunds.json",
            "refunds",
            {"limit": PAGE},
            max_pages=MAX_REFUND_PAGES,
        )
        currency = None
        if any(mapping.refund_currency(row) is None for row in rows):
            # SHOPLINE's refund object may name no currency (the SDK's has none): it is
            # the order's settlement currency.
            currency = mapping.settlement_currency(self._order_json(order_id))
        return [mapping.platform_refund(row, currency=currency) for row in rows]

    # ------------------------------------------------------------------ refunds

    def _prepare(self, command: RefundCommand) -> tuple[Json, list[mapping.TypedLine]]:
        """A fresh read of the order, its currency checked, the command's lines typed."""
        order = self._order_json(command.order_id)
        settlement = mapping.settlement_currency(order)
        if command.currency.upper() != settlement:
            raise PermanentError(
                "CURRENCY_MISMATCH",
                f"SHOPLINE refunds order {command.order_id} only in its settlement currency "
                f"{settlement}; the refund was planned in {command.currency.upper()}, so "
                "nothing was sent",
                settlement_currency=settlement,
                currency=command.currency.upper(),
            )
        lines = mapping.typed_lines(
            command, mapping.line_units(order), location_for=self._restock_location
        )
        return order, lines

    def _calculate(self, command: RefundCommand, lines: Sequence[mapping.TypedLine]) -> Json:
        body = self.client.post(
            f"orders/{command.order_id}/refunds/calculate.json",
            mapping.calculate_body(command, lines),
            writes=False,  # a trial changes nothing
        ).body
        refund = body.get("refund") if isinstance(body, Mapping) else None
        if not isinstance(refund, Mapping):
            raise TransientError(
                "INVALID_RESPONSE",
                f"refund calculation for order {command.order_id} answered no refund",
                ambiguous=False,
            )
        return refund

    def suggest_refund(self, command: RefundCommand) -> SuggestedRefund:
        """SHOPLINE's trial of the command (lines typed as `create_refund` types them)."""
        _, lines = self._prepare(command)
        return mapping.suggested_refund(self._calculate(command, lines), command)

    def create_refund(self, command: RefundCommand) -> PlatformRefund:
        """Read the order, calculate, then refund once with the calculation's payment slips
        and the plan's tender amounts.

        A refund already made under the key (on the order just read) is returned as is; a
        lost answer is looked for in `list_refunds` before the error is raised.
        """
        order, lines = self._prepare(command)
        made = [
            mapping.platform_refund(r, currency=command.currency)
            for r in mapping.rows(order.get("refunds"))
        ]
        existing = dedupe.find_by_key(made, command.idempotency_key)
        if existing is not None:
            return existing
        if not any(t.amount > 0 for t in command.tenders):
            raise PermanentError(
                "NO_MONEY_TO_REFUND",
                f"SHOPLINE records a refund only when money moves, and this return of order "
                f"{command.order_id} moves none (goods only): nothing was sent; put the goods "
                "back in stock in the SHOPLINE admin",
            )
        calculation = self._calculate(command, lines)
        body = mapping.refund_body(
            command, lines, mapping.refund_transactions(command, calculation)
        )

        def write() -> PlatformRefund:
            answer = self.client.post("order/refund.json", body, writes=True).body
            refund = _unwrap(answer, "data", "refund")
            if refund is None or "id" not in refund:
                raise TransientError(
                    "INVALID_RESPONSE",
                    f"POST order/refund.json for order {command.order_id}: no refund in the answer",
                    ambiguous=True,
                )
            return mapping.platform_refund(refund, currency=command.currency)

        return dedupe.create_once(
            write, lambda: self.list_refunds(command.order_id), command.idempotency_key
        )

    def restock(self, command: RestockCommand) -> RestockResult:
        """Not offered: SHOPLINE restocks inside the refund (`restock_type`, `location_id`)."""
        raise PermanentError(
            "UNSUPPORTED_OPERATION", "shopline restocks returned goods inside the refund"
        )

    # ------------------------------------------------------------------ return orders

    def list_returns(self, order_id: str) -> list[PlatformReturn]:
        if not _is_id(order_id):
            raise NotFound("NOT_FOUND", f"order {order_id!r} is not a SHOPLINE order id")
        return [returns.platform_return(node) for node in self._returns_json(order_id)]

    def _returns_json(self, order_id: str) -> list[Json]:
        body = self.client.get("return.json", params={"order_id": order_id}).body
        return mapping.rows(body.get("returns")) if isinstance(body, Mapping) else []

    def open_return(
        self,
        order_id: str,
        lines: Sequence[ReturnLineRequest],
        *,
        reason: str | None = None,
        notify_customer: bool = False,
    ) -> PlatformReturn:
        """Record a return order for shipped units (no money, no stock moves).

        Each line's units are tied to the fulfillments that shipped them. Not idempotent on
        SHOPLINE: a lost answer is a transient, ambiguous error; look with `list_returns`
        before opening again.
        """
        order = self._order_json(order_id)
        items = returns.return_line_items(order, self._returns_json(order_id), lines)
        if not items:
            raise PermanentError("EMPTY_RETURN", f"order {order_id}: nothing to return")
        body: dict[str, Any] = {
            "order_seq": order_id,
            "notify_customer": notify_customer,
            "return_line_items": items,
        }
        if reason:
            body["return_reason"] = reason
        answer = self.client.post("return/create.json", body, writes=True).body
        made = _unwrap(answer, "return", "data")
        if made is None:
            raise TransientError(
                "INVALID_RESPONSE",
                f"POST return/create.json for order {order_id}: no return in the answer",
                ambiguous=True,
            )
        return returns.platform_return(made)

    def close_return(
        self, return_id: str, *, order_id: str | None = None, notify: bool = False
    ) -> PlatformReturn:
        """Close a return order. Closing one already closed is done, not an error."""
        if not _is_id(return_id):
            raise NotFound("NOT_FOUND", f"return {return_id!r} is not a SHOPLINE return id")
        try:
            answer = self.client.post(
                f"return/{return_id}/close.json", {"notify": notify}, writes=True
            ).body
        except PermanentError as error:
            if error.status != 422 or "already closed" not in error.message.lower():
                raise
            answer = None
        made = _unwrap(answer, "return", "data")
        if made is not None:
            return returns.platform_return(made)
        # SHOPLINE's documented answer is empty (or it was closed already): read it back.
        params = {"id": return_id} | ({"order_id": order_id} if order_id else {})
        body = self.client.get("return.json", params=params).body
        found = mapping.rows(body.get("returns")) if isinstance(body, Mapping) else []
        if not found:
            raise NotFound("NOT_FOUND", f"SHOPLINE return {return_id} not found")
        return returns.platform_return(found[0])

    def close(self) -> None:
        self.client.close()


def _unwrap(body: Any, *keys: str) -> Json | None:
    """The object under the first of `keys` present in `body`."""
    if not isinstance(body, Mapping):
        return None
    for key in keys:
        value = body.get(key)
        if isinstance(value, Mapping):
            return value
    return None


def from_connection(
    base_url: str,
    credentials: Mapping[str, Any],
    timeout: float,
    state: dict[str, Any],
    settings: Mapping[str, Any],
) -> ShoplineConnector:
    """The registry's factory: a connector for one stored connection.

    `base_url` is the store (`https://{handle}.myshopline.com`, or just the handle).
    `state` lives as long as the process and belongs to this connection: its leaky bucket
    (`state["limiter"]`) and pooled HTTP client (`state["http"]`, closed by the runtime).
    `settings["restock_location_id"]` names the default restock location.
    """
    token = credentials.get("access_token")
    if not isinstance(token, str) or not token.strip():
        raise PermanentError("MISSING_CREDENTIALS", "shopline connection has no access_token")
    limiter = state.get("limiter")
    if not isinstance(limiter, LeakyBucket):  # setdefault: one bucket per connection wins
        limiter = state.setdefault("limiter", LeakyBucket())
    http = state.get("http")
    location = settings.get("restock_location_id") or settings.get("location_id")
    return ShoplineConnector(
        base_url,
        token.strip(),
        http=http if isinstance(http, httpx.Client) else None,
        limiter=limiter,
        timeout=timeout,
        default_location_id=str(location) if location else None,
    )
