"""Shopify connector: GraphQL Admin API 2026-01."""
