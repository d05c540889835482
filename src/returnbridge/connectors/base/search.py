"""The exact check every connector applies to its platform's search hits.

Platform searches are fuzzy (Shopify's query syntax, WooCommerce's `search=` across fields,
BigCommerce's case-insensitive email): a hit counts only when it meets every part of the query.
"""

from __future__ import annotations

from datetime import UTC, datetime

from returnbridge.connectors.base.connector import OrderQuery
from returnbridge.domain.matching import normalise_email, normalise_order_name
from returnbridge.domain.orders import OrderSummary


def matches(summary: OrderSummary, query: OrderQuery, *, check_skus: bool = True) -> bool:
    """Whether `summary` meets `query`: its name is one of the names asked for, its email is
    the email asked for, it was placed on or after `created_from`, and it has every SKU
    (unless `check_skus` is False: the hit's SKUs were only partly read)."""
    names = query.names or ((query.name,) if query.name else ())
    if names and normalise_order_name(summary.name or "") not in {
        normalise_order_name(n) for n in names
    }:
        return False
    if query.email and normalise_email(summary.email or "") != normalise_email(query.email):
        return False
    if (
        query.created_from is not None
        and summary.created_at is not None
        and aware(summary.created_at) < aware(query.created_from)
    ):
        return False
    return not check_skus or all(sku in summary.skus for sku in query.skus)


def aware(moment: datetime) -> datetime:
    """`moment` with UTC assumed when it has no zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
