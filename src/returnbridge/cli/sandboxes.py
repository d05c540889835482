"""`returnbridge sandbox`: serve the platform simulators side by side in one process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn

SANDBOX_PLATFORMS = ("shopify", "woocommerce", "bigcommerce", "shopline", "loop")
"""Every sandbox `build_app` can make, in the order `--platform all` serves them."""


@dataclass(frozen=True, slots=True)
class Served:
    platform: str
    port: int
    where: str
    """What a client points at, after the base URL."""


def _shopify(restore_rate: float) -> Any:
    from returnbridge.sandbox.shopify.app import create_app

    return create_app(restore_rate=restore_rate)


def _woocommerce(_: float) -> Any:
    from returnbridge.sandbox.woocommerce.app import create_app

    return create_app()


def _bigcommerce(_: float) -> Any:
    from returnbridge.sandbox.bigcommerce.app import create_app

    return create_app()


def _shopline(_: float) -> Any:
    from returnbridge.sandbox.shopline.app import create_app

    return create_app()


def _loop(_: float) -> Any:
    from returnbridge.sandbox.loop.app import create_app

    return create_app()


_APPS: dict[str, tuple[Callable[[float], Any], str]] = {
    "shopify": (_shopify, "GraphQL at /admin/api/2026-01/graphql.json"),
    "woocommerce": (_woocommerce, "REST at /wp-json/wc/v3"),
    "bigcommerce": (_bigcommerce, "REST at /stores/{hash}/v2 and /v3"),
    "shopline": (_shopline, "REST at /stores/{handle}/admin/openapi/v20251201"),
    "loop": (_loop, "REST at /api/2026-10 (Loop Returns)"),
}


def build_app(platform: str, *, restore_rate: float = 100.0) -> Any:
    """A fresh sandbox app for `platform`."""
    return _APPS[platform][0](restore_rate)


def plan(platforms: list[str], first_port: int) -> list[Served]:
    """Ports in order from `first_port`, one per platform."""
    return [
        Served(platform, first_port + index, _APPS[platform][1])
        for index, platform in enumerate(platforms)
    ]


def serve_all(host: str, served: list[Served], *, restore_rate: float) -> None:
    """Serve every sandbox until interrupted (one event loop, one uvicorn server each)."""
    servers = [
        uvicorn.Server(
            uvicorn.Config(
                build_app(item.platform, restore_rate=restore_rate),
                host=host,
                port=item.port,
                log_level="warning",
                lifespan="off",
            )
        )
        for item in served
    ]

    async def run() -> None:
        await asyncio.gather(*(server.serve() for server in servers))

    try:
        asyncio.run(run())
    except KeyboardInterrupt:  # uvicorn passes Ctrl-C on after shutting down: a clean stop
        return
