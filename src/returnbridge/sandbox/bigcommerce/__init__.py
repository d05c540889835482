"""A local simulator of BigCommerce Orders v2 and v3 payment actions (refund quotes, refunds)."""

from returnbridge.sandbox.bigcommerce.app import create_app
from returnbridge.sandbox.bigcommerce.server import BackgroundServer, serve

__all__ = ["BackgroundServer", "create_app", "serve"]
