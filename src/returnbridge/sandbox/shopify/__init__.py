"""A local simulator of the Shopify Admin GraphQL API 2026-01 (orders, refunds, stock)."""

from returnbridge.sandbox.shopify.app import create_app
from returnbridge.sandbox.shopify.server import BackgroundServer, serve

__all__ = ["BackgroundServer", "create_app", "serve"]
