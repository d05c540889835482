"""Run the Loop sandbox over real HTTP: in the foreground (CLI) or in a background thread."""

from __future__ import annotations

from typing import Any

from returnbridge.sandbox.common import server
from returnbridge.sandbox.loop.app import create_app


def serve(host: str = "127.0.0.1", port: int = 8769, **app_options: Any) -> None:
    """Serve a new sandbox until interrupted; ``app_options`` go to :func:`create_app`."""
    server.serve(create_app(**app_options), host, port)


class BackgroundServer(server.BackgroundServer):
    """A new sandbox on a free loopback port, served from a thread; a context manager."""

    def __init__(self, **app_options: Any) -> None:
        super().__init__(create_app(**app_options))
