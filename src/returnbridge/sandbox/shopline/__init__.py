"""A local simulator of SHOPLINE's Open Admin REST API (v20251201): orders, refunds, returns."""

from returnbridge.sandbox.shopline.app import create_app
from returnbridge.sandbox.shopline.server import BackgroundServer, serve

__all__ = ["BackgroundServer", "create_app", "serve"]
