"""`OrderConnector` for Shopify over the GraphQL Admin API 2026-01."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from returnbridge.connectors.base.connector import (
    Capability,
    OrderQuery,
    PlatformRefund,
    RefundCommand,
    SuggestedRefund,
)
from returnbridge.connectors.base.limits import CostLimiter
from returnbridge.connectors.shopify import mapping
from returnbridge.connectors.shopify.client import ShopifyGraphQLClient
from returnbridge.connectors.shopify.errors import error_from_user_errors
from returnbridge.domain.errors import NotFound, PermanentError
from returnbridge.domain.orders import Location, Order, OrderSummary

_MAX_SEARCH = 50


class ShopifyConnector:
    """One merchant's Shopify store; every method is one or two GraphQL calls."""

    platform: ClassVar[str] = "shopify"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.IDEMPOTENT_REFUNDS,
            Capability.SUGGESTED_REFUND,
            Capability.RESTOCK_WITH_REFUND,
            Capability.SEARCH_BY_EMAIL,
            Capability.SEARCH_BY_NAME,
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
    ) -> None:
        self.client = ShopifyGraphQLClient(
            shop_url, access_token, http=http, limiter=limiter, timeout=timeout
        )

    def _order_node(self, document: str, variables: Mapping[str, Any]) -> Mapping[str, Any]:
        data = self.client.execute(document, variables)
        order = data.get("order")
        if not isinstance(order, Mapping):
            raise NotFound("NOT_FOUND", f"order {variables.get('id')} not found")
        return order

    def _refund_nodes(self, order_id: str) -> list[Mapping[str, Any]]:
        order = self._order_node("OrderRefunds", {"id": order_id})
        refunds = [r for r in order.get("refunds") or () if isinstance(r, Mapping)]
        for refund in refunds:
            page = (refund.get("refundLineItems") or {}).get("pageInfo") or {}
            if page.get("hasNextPage"):
                raise PermanentError(
                    "ORDER_TOO_LARGE", f"refund {refund.get('id')} has over 100 line items"
                )
        return refunds

    def get_order(self, order_id: str) -> Order:
        order = self._order_node("Order", {"id": order_id})
        page = (order.get("lineItems") or {}).get("pageInfo") or {}
        if page.get("hasNextPage"):
            raise PermanentError("ORDER_TOO_LARGE", f"order {order_id} has over 100 line items")
        return mapping.order_from_shopify(order, self._refund_nodes(order_id))

    def find_orders(self, query: OrderQuery) -> list[OrderSummary]:
        search = mapping.search_query(query)
        if not search:
            return []
        first = max(1, min(query.limit, _MAX_SEARCH))
        data = self.client.execute("OrdersSearch", {"query": search, "first": first})
        nodes = (data.get("orders") or {}).get("nodes") or ()
        summaries = (mapping.order_summary_from_shopify(n) for n in nodes if isinstance(n, Mapping))
        return [s for s in summaries if mapping.matches(s, query)][: query.limit]

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
        return mapping.suggested_refund_from_shopify(suggested)

    def create_refund(self, command: RefundCommand) -> PlatformRefund:
        """`refundCreate` with `@idempotent(key:)`: a repeated key returns the original refund."""
        variables = {
            "input": mapping.refund_input(command),
            "idempotencyKey": command.idempotency_key,
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
        return mapping.refund_from_shopify(
            refund, order_id=command.order_id, idempotency_key=command.idempotency_key
        )

    def list_refunds(self, order_id: str) -> list[PlatformRefund]:
        return [
            mapping.refund_from_shopify(refund, order_id=order_id)
            for refund in self._refund_nodes(order_id)
        ]

    def close(self) -> None:
        self.client.close()
