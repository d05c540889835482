"""`OrderConnector` for Shopify over the GraphQL Admin API 2026-01."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from returnbridge.connectors.base.connector import (
    Capability,
    OpenReturnCommand,
    OrderQuery,
    PlatformRefund,
    PlatformReturn,
    ProcessedReturn,
    ProcessReturnCommand,
    RefundCommand,
    RestockCommand,
    RestockResult,
    SuggestedRefund,
)
from returnbridge.connectors.base.search import matches
from returnbridge.connectors.shopify import mapping, returns, tenders
from returnbridge.connectors.shopify.client import ShopifyGraphQLClient
from returnbridge.connectors.shopify.errors import error_from_user_errors
from returnbridge.connectors.shopify.limits import CostLimiter
from returnbridge.domain.errors import NotFound, PermanentError, TransientError
from returnbridge.domain.orders import Location, Order, OrderSummary

# Page sizes chosen so every query's requested cost stays under Shopify's 1000-point cap.
MAX_SEARCH_RESULTS = 25
ORDER_GID = re.compile(r"gid://shopify/Order/[0-9]+")
MAX_REFUNDS = 7  # per order, read in one call (one more is requested to detect a longer list)
MAX_REFUND_LINES = 12  # per refund when listing
MAX_TRANSACTIONS = 30  # per order (Order.graphql)
# The first read of an order asks for small pages (requested cost about 250 instead of 871 +
# 857), so several calls fit in a standard bucket at once; a larger order is read again.
SMALL_ORDER = {"lines": 8, "shippingLines": 2, "transactions": 6, "refunds": 4}
LARGE_ORDER = {"lines": 50, "shippingLines": 5, "transactions": MAX_TRANSACTIONS, "refunds": 0}


class ShopifyConnector:
    """One merchant's Shopify store; every method is one or two GraphQL calls."""

    platform: ClassVar[str] = "shopify"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.IDEMPOTENT_REFUNDS,
            Capability.SUGGESTED_REFUND,
            Capability.RESTOCK_WITH_REFUND,
            Capability.GOODS_ONLY_REFUND,
            Capability.SEARCH_BY_EMAIL,
            Capability.SEARCH_BY_NAME,
            Capability.PLATFORM_RETURNS,
        }
    )

    def __init__(
        self,
        shop_url: str,
        access_token: str,
        *,
        http: httpx.Client | None = None,
        limiter: CostLimiter | None = None,
        timeout: float | httpx.Timeout = 30.0,
        hints: dict[str, Any] | None = None,
        platform_returns: bool = False,
    ) -> None:
        self.client = ShopifyGraphQLClient(
            shop_url, access_token, http=http, limiter=limiter, timeout=timeout
        )
        # What earlier calls taught about this store, kept as long as the caller keeps `hints`
        # (the runtime: the process's life): "shop_money" once it sold in a second currency.
        self.hints: dict[str, Any] = {} if hints is None else hints
        # The connection's `shopify_returns`: returned goods go through Shopify returns.
        self.platform_returns = platform_returns

    def _order_node(self, document: str, variables: Mapping[str, Any]) -> Mapping[str, Any]:
        order_id = str(variables.get("id"))
        if not ORDER_GID.fullmatch(order_id):
            # Shopify answers an id that is not an order's global id with an error, not null:
            # for us such an order does not exist (a human's "#3000" is looked up by name).
            raise NotFound("NOT_FOUND", f"{order_id!r} is not a Shopify order id")
        data = self.client.execute(document, variables)
        order = data.get("order")
        if not isinstance(order, Mapping):
            raise NotFound("NOT_FOUND", f"order {variables.get('id')} not found")
        return order

    def _refund_nodes(self, order_id: str, *, shop_money: bool = False) -> list[Mapping[str, Any]]:
        variables = {
            "id": order_id,
            "refunds": MAX_REFUNDS + 1,
            "refundLines": MAX_REFUND_LINES,
            "shopMoney": shop_money,
        }
        order = self._order_node("OrderRefunds", variables)
        refunds = [r for r in order.get("refunds") or () if isinstance(r, Mapping)]
        if len(refunds) > MAX_REFUNDS:
            raise _too_large(order_id, f"more than {MAX_REFUNDS} refunds")
        for refund in refunds:
            if mapping.has_next_page(refund.get("refundLineItems")) or mapping.has_next_page(
                refund.get("refundShippingLines")
            ):
                raise _too_large(order_id, f"refund {refund.get('id')} has too many lines")
        return refunds

    def _read_order(
        self, order_id: str, pages: Mapping[str, int], *, totals: bool = False
    ) -> Mapping[str, Any]:
        """One Order read; shop money is asked once the store is known to sell in two currencies.

        A single-currency order needs only presentment money. The first multi-currency order
        costs one more read (with shop money), and later reads of the store ask for it at once.
        """
        variables = {"id": order_id, **pages, "totals": totals}
        shop_money = bool(self.hints.get("shop_money"))
        order = self._order_node("Order", {**variables, "shopMoney": shop_money})
        if not shop_money and mapping.is_multi_currency(order):
            self.hints["shop_money"] = True
            order = self._order_node("Order", {**variables, "shopMoney": True})
        return order

    def get_order(self, order_id: str) -> Order:
        """The order and its refunds: one call with small pages, read at one moment.

        An order larger than the small pages is read again with large pages and its refunds in
        a second call; the two are checked to agree (a refund landing between the reads makes
        the order's refunded total differ from the refunds' sum) and read again once if not.
        """
        order = self._read_order(order_id, SMALL_ORDER)
        refunds = [r for r in order.get("refunds") or () if isinstance(r, Mapping)]
        if not _overflows(order, SMALL_ORDER) and _complete(refunds, SMALL_ORDER["refunds"]):
            return mapping.order_from_shopify(order, refunds)
        for _ in range(2):
            # with its totals: they check the refunds read apart (refunds_match_order)
            order = self._read_order(order_id, LARGE_ORDER, totals=True)
            if _overflows(order, LARGE_ORDER):
                raise _too_large(order_id, "too many line items, shipping lines or transactions")
            refunds = self._refund_nodes(order_id, shop_money=mapping.is_multi_currency(order))
            if mapping.refunds_match_order(order, refunds):
                return mapping.order_from_shopify(order, refunds)
        raise TransientError(
            "ORDER_CHANGING",
            f"order {order_id} changed while it was read; read it again",
            ambiguous=False,
        )

    def find_orders(self, query: OrderQuery) -> list[OrderSummary]:
        search = mapping.search_query(query)
        if not search:
            return []
        first = max(1, min(query.limit, MAX_SEARCH_RESULTS))
        data = self.client.execute("OrdersSearch", {"query": search, "first": first})
        hits = []
        for node in (data.get("orders") or {}).get("nodes") or ():
            if not isinstance(node, Mapping):
                continue
            summary = mapping.order_summary_from_shopify(node)
            # SKUs are only checked when every line was read; Shopify already filtered by sku.
            complete = not mapping.has_next_page(node.get("lineItems"))
            if matches(summary, query, check_skus=complete):
                hits.append(summary)
        return hits[: query.limit]

    def list_locations(self) -> list[Location]:
        locations: list[Location] = []
        after: str | None = None
        while True:
            data = self.client.execute("Locations", {"after": after})
            connection = data.get("locations") or {}
            locations.extend(
                mapping.location_from_shopify(node)
                for node in connection.get("nodes") or ()
                if isinstance(node, Mapping)
            )
            page = connection.get("pageInfo") or {}
            if not page.get("hasNextPage") or not page.get("endCursor"):
                return locations
            after = str(page["endCursor"])

    def suggest_refund(self, command: RefundCommand) -> SuggestedRefund:
        order = self._order_node("SuggestedRefund", mapping.suggested_refund_variables(command))
        suggested = order.get("suggestedRefund")
        if not isinstance(suggested, Mapping):
            raise PermanentError("NO_SUGGESTION", f"no suggested refund for {command.order_id}")
        return mapping.suggested_refund_from_shopify(suggested, currency=command.currency)

    def create_refund(self, command: RefundCommand) -> PlatformRefund:
        """`refundCreate` with `@idempotent(key:)`: a repeated key returns the original refund.

        A tender without the transaction it reverses gets one from `suggestedRefund` first.
        """
        command = tenders.with_parents(command, self.suggest_refund)
        variables = {
            "input": mapping.refund_input(command),
            "idempotencyKey": command.platform_key or command.idempotency_key,
        }
        data = self.client.execute("RefundCreate", variables)
        payload = data.get("refundCreate") or {}
        user_errors = [e for e in payload.get("userErrors") or () if isinstance(e, Mapping)]
        error = error_from_user_errors(user_errors, operation="refundCreate")
        if error is not None:
            raise error
        refund = payload.get("refund")
        if not isinstance(refund, Mapping):
            raise PermanentError("NO_REFUND", "refundCreate returned neither a refund nor errors")
        return mapping.created_refund(refund, command)

    def restock(self, command: RestockCommand) -> RestockResult:
        """Not offered: Shopify restocks inside the refund (`restockType`), also with no money."""
        raise PermanentError(
            "UNSUPPORTED_OPERATION", "shopify restocks returned goods inside the refund"
        )

    def open_return(self, command: OpenReturnCommand) -> PlatformReturn:
        """`returnCreate` (status OPEN) unless the order already has the return under our key."""
        return returns.open_return(self.client, command)

    def process_return(self, command: ProcessReturnCommand) -> ProcessedReturn:
        """`returnProcess`: dispositions and the refund as its financial transfer, once."""
        return returns.process_return(self.client, command, suggest=self.suggest_refund)

    def find_return(self, order_id: str, key: str) -> ProcessedReturn | None:
        """The return opened under `key` (and the refund its processing made), if any."""
        return returns.find_return(self.client, order_id, key)

    def list_refunds(self, order_id: str) -> list[PlatformRefund]:
        return [
            mapping.refund_from_shopify(refund, order_id=order_id)
            for refund in self._refund_nodes(order_id)
        ]

    def close(self) -> None:
        self.client.close()


def _overflows(order: Mapping[str, Any], pages: Mapping[str, int]) -> bool:
    """Whether the order has more lines, shipping lines or transactions than `pages` read."""
    return (
        mapping.has_next_page(order.get("lineItems"))
        or mapping.has_next_page(order.get("shippingLines"))
        or len(order.get("transactions") or ()) >= pages["transactions"]
    )


def _complete(refunds: list[Mapping[str, Any]], asked: int) -> bool:
    """Whether every refund (fewer than asked for) came back with all its shipping lines."""
    return len(refunds) < asked and not any(
        mapping.has_next_page(r.get("refundShippingLines")) for r in refunds
    )


def _too_large(order_id: str, what: str) -> PermanentError:
    return PermanentError(
        "ORDER_TOO_LARGE", f"order {order_id}: {what}; beyond what one read returns"
    )


def from_connection(
    base_url: str,
    credentials: Mapping[str, Any],
    timeout: float,
    state: dict[str, Any],
    settings: Mapping[str, Any],
) -> ShopifyConnector:
    """The registry's factory: a connector for one stored connection.

    `state` lives as long as the process and belongs to this connection: its rate limiter,
    pooled HTTP client (`state["http"]`, closed by the runtime) and what calls taught.
    """
    token = credentials.get("access_token")
    if not isinstance(token, str) or not token:
        raise PermanentError("MISSING_CREDENTIALS", "shopify connection has no access_token")
    limiter = state.get("limiter")
    if limiter is None:  # the first step of this connection; setdefault: one limiter wins
        limiter = state.setdefault("limiter", CostLimiter())
    http = state.get("http")
    return ShopifyConnector(
        base_url,
        token,
        timeout=timeout,
        limiter=limiter,
        http=http if isinstance(http, httpx.Client) else None,
        hints=state.setdefault("hints", {}),
        platform_returns=settings.get("shopify_returns") is True,
    )
