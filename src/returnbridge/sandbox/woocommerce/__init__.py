"""A local simulator of the WooCommerce REST API wc/v3 (orders, refunds, stock)."""

from returnbridge.sandbox.woocommerce.app import create_app
from returnbridge.sandbox.woocommerce.server import BackgroundServer, serve

__all__ = ["BackgroundServer", "create_app", "serve"]
