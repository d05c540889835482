"""`OrderConnector` for WooCommerce over the REST API `wc/v3`."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import httpx

from returnbridge.connectors.base.connector import (
    Capability,
    OrderQuery,
    PlatformRefund,
    RefundCommand,
    RestockCommand,
    RestockResult,
    SuggestedRefund,
)
from returnbridge.connectors.base.dedupe import create_once, find_by_key
from returnbridge.connectors.base.search import matches
from returnbridge.connectors.woocommerce import mapping
from returnbridge.connectors.woocommerce.auth import AuthMode, Credentials, new_nonce
from returnbridge.connectors.woocommerce.client import MAX_PER_PAGE, WooCommerceClient
from returnbridge.connectors.woocommerce.refunds import refund_body
from returnbridge.domain.errors import NotFound, PermanentError, TransientError
from returnbridge.domain.orders import Location, Order, OrderSummary

Json = Mapping[str, Any]

SEARCH_PAGE_SIZE = 25
MAX_SEARCH_PAGES = 4  # a loose search is read at most this far (100 orders by default)
STOCK_LOCATION = Location(id="default", name="Store stock")
_FACTS_KEPT = 256


class WooCommerceConnector:
    """One WooCommerce site; reads are one or two GETs, a refund one POST after a fresh read."""

    platform: ClassVar[str] = "woocommerce"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.RESTOCK_WITH_REFUND,
            Capability.GOODS_ONLY_REFUND,
            Capability.SEARCH_BY_EMAIL,
            Capability.SEARCH_BY_NAME,
        }
    )

    def __init__(
        self,
        site_url: str,
        credentials: Credentials,
        *,
        auth: AuthMode | str | None = None,
        api_refund: bool = True,
        http: httpx.Client | None = None,
        timeout: float | httpx.Timeout = 30.0,
        search_page_size: int = SEARCH_PAGE_SIZE,
        refund_page_size: int = MAX_PER_PAGE,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = new_nonce,
    ) -> None:
        self.client = WooCommerceClient(
            site_url, credentials, auth=auth, http=http, timeout=timeout, clock=clock, nonce=nonce
        )
        self.api_refund = api_refund
        self.search_page_size = max(1, min(search_page_size, MAX_PER_PAGE))
        self.refund_page_size = max(1, min(refund_page_size, MAX_PER_PAGE))
        # Per order read: (currency, prices include tax); refunds carry neither.
        self._facts: dict[str, tuple[str, bool]] = {}

    def __repr__(self) -> str:
        return f"WooCommerceConnector({self.client!r}, api_refund={self.api_refund})"

    # -- reads ---------------------------------------------------------------------------------

    def _order_json(self, order_id: str, *, fields: str | None = None) -> Json:
        if not (order_id.isascii() and order_id.isdigit()):
            raise NotFound("NOT_FOUND", f"order {order_id!r} is not a WooCommerce order id")
        params = [("_fields", fields)] if fields else []
        body = self.client.get(f"orders/{order_id}", params)
        if not isinstance(body, Mapping):
            raise TransientError(
                "INVALID_RESPONSE", f"GET orders/{order_id}: not an order", ambiguous=False
            )
        currency = str(body.get("currency") or "").upper()
        if currency:
            self._remember(order_id, currency, taxes_included=bool(body.get("prices_include_tax")))
        return body

    def _remember(self, order_id: str, currency: str, *, taxes_included: bool) -> None:
        if len(self._facts) >= _FACTS_KEPT and order_id not in self._facts:
            self._facts.pop(next(iter(self._facts)))
        self._facts[order_id] = (currency, taxes_included)

    def _refunds_json(self, order_id: str) -> list[Json]:
        return [
            refund
            for page in self.client.pages(
                f"orders/{order_id}/refunds", per_page=self.refund_page_size
            )
            for refund in page.items
        ]

    def _read(self, order_id: str) -> tuple[Json, list[Json]]:
        """The order and all its refunds, checked to be of one moment (the order lists the
        same refund ids); read once more if a refund landed in between."""
        for _ in range(2):
            order = self._order_json(order_id)
            refunds = self._refunds_json(order_id)
            listed = mapping.refund_ids(order)
            if listed is None or listed == {str(r.get("id")) for r in refunds}:
                return order, refunds
        raise TransientError(
            "ORDER_CHANGING", f"order {order_id} changed while it was read", ambiguous=False
        )

    def get_order(self, order_id: str) -> Order:
        order, refunds = self._read(order_id)
        return mapping.order_from_woocommerce(order, refunds)

    def find_orders(self, query: OrderQuery) -> list[OrderSummary]:
        """`search=` each order number (else the email), newest first, filtered exactly."""
        hits: dict[str, OrderSummary] = {}
        limit = max(1, query.limit)
        for term in mapping.search_terms(query):
            params = [("search", term)]
            if query.created_from is not None:
                params += [
                    ("after", mapping.after_param(query.created_from)),
                    ("dates_are_gmt", "true"),
                ]
            pages = self.client.pages(
                "orders", params, per_page=self.search_page_size, max_pages=MAX_SEARCH_PAGES
            )
            for page in pages:
                for node in page.items:
                    summary = mapping.order_summary(node)
                    if matches(summary, query):
                        hits.setdefault(summary.id, summary)
                if len(hits) >= limit:
                    break
            if len(hits) >= limit:
                break
        return list(hits.values())[:limit]

    def list_locations(self) -> list[Location]:
        """WooCommerce core keeps one stock figure per product: one location."""
        return [STOCK_LOCATION]

    def suggest_refund(self, command: RefundCommand) -> SuggestedRefund:
        raise PermanentError(
            "UNSUPPORTED_OPERATION", "woocommerce has no refund preview; the plan is ours"
        )

    # -- refunds -------------------------------------------------------------------------------

    def create_refund(self, command: RefundCommand) -> PlatformRefund:
        """Read the order and its refunds, check the body, then POST once.

        A refund already made under the key (found in that read) is returned as is. When the
        answer to the POST is lost, the order's refunds are searched for the key before the
        error is raised (`dedupe.create_once`).
        """
        order_id = command.order_id
        order_json, refunds_json = self._read(order_id)
        order = mapping.order_from_woocommerce(order_json, refunds_json)
        if command.currency.upper() != order.currency:
            raise PermanentError(
                "CURRENCY_MISMATCH",
                f"refund in {command.currency} for order {order_id} in {order.currency}",
            )
        existing = find_by_key(self._to_refunds(order_id, refunds_json), command.idempotency_key)
        if existing is not None:
            return existing
        body = refund_body(command, order, api_refund=self.api_refund)
        restock: dict[str, str] = {}
        for line in command.lines:
            if line.restock != "none":
                restock.setdefault(line.line_id, line.restock)

        def write() -> PlatformRefund:
            answer = self.client.post(f"orders/{order_id}/refunds", body)
            if not isinstance(answer, Mapping) or "id" not in answer:
                raise TransientError(
                    "INVALID_RESPONSE",
                    f"POST orders/{order_id}/refunds: no refund in the answer",
                    ambiguous=True,
                )
            made = mapping.refund_from_woocommerce(
                answer,
                order_id=order_id,
                currency=order.currency,
                taxes_included=order.taxes_included,
                restock=restock,
            )
            # The answer to our own write: its key is ours even if the site hides meta data.
            return made.model_copy(update={"idempotency_key": command.idempotency_key})

        return create_once(write, lambda: self.list_refunds(order_id), command.idempotency_key)

    def _to_refunds(self, order_id: str, refunds: list[Json]) -> list[PlatformRefund]:
        currency, inclusive = self._facts[order_id]
        return [
            mapping.refund_from_woocommerce(
                refund, order_id=order_id, currency=currency, taxes_included=inclusive
            )
            for refund in refunds
        ]

    def list_refunds(self, order_id: str) -> list[PlatformRefund]:
        """The order's refunds, newest first; the order's currency is read once if unknown."""
        if order_id not in self._facts:
            self._order_json(order_id, fields="id,currency,prices_include_tax")
        if order_id not in self._facts:
            raise TransientError(
                "INVALID_RESPONSE", f"order {order_id}: no currency", ambiguous=False
            )
        return self._to_refunds(order_id, self._refunds_json(order_id))

    def restock(self, command: RestockCommand) -> RestockResult:
        """Not offered: WooCommerce restocks inside the refund (`api_restock`)."""
        raise PermanentError(
            "UNSUPPORTED_OPERATION", "woocommerce restocks returned goods inside the refund"
        )

    def close(self) -> None:
        self.client.close()


def setting_flag(settings: Mapping[str, Any], name: str, *, default: bool) -> bool:
    """A yes/no connection setting given as a bool or as text."""
    value = settings.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "yes", "1", "on"}:
        return True
    if text in {"false", "no", "0", "off"}:
        return False
    raise PermanentError("INVALID_SETTING", f"woocommerce setting {name} must be true or false")


def from_connection(
    base_url: str,
    credentials: Mapping[str, Any],
    timeout: float,
    state: dict[str, Any],
    settings: Mapping[str, Any],
) -> WooCommerceConnector:
    """The registry's factory: a connector for one stored connection.

    `base_url` is the site (`https://shop.example.com`); settings: `api_refund` (default true:
    WooCommerce asks the payment gateway to send the money back; false records a refund whose
    money is returned elsewhere) and `auth` (`auto`, `basic`, `oauth1`, `query`).
    `state["http"]`, when an `httpx.Client`, is the connection's pooled client.
    """
    http = state.get("http")
    return WooCommerceConnector(
        base_url,
        Credentials.from_mapping(credentials),
        auth=settings.get("auth"),
        api_refund=setting_flag(settings, "api_refund", default=True),
        http=http if isinstance(http, httpx.Client) else None,
        timeout=timeout,
    )
