"""A local simulator of Loop Returns' API (2026-10): draft returns, return actions and data,
asynchronous processing and signed webhooks."""

from returnbridge.sandbox.loop.app import create_app
from returnbridge.sandbox.loop.server import BackgroundServer, serve

__all__ = ["BackgroundServer", "create_app", "serve"]
