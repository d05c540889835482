"""Headers every answer carries: no MIME sniffing, and no caching of keys or tenant data."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_ALWAYS = {"X-Content-Type-Options": "nosniff"}
# The docs' static assets (Swagger UI) may be cached; every other answer may carry a key
# (tenant creation, rotation) or tenant data.
_CACHEABLE_PREFIXES = ("/static-offline-docs/",)


class SecurityHeaders:
    """ASGI middleware adding `X-Content-Type-Options: nosniff` and `Cache-Control: no-store`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = str(scope.get("path", "")).startswith(_CACHEABLE_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _ALWAYS.items():
                    headers[name] = value
                if not cacheable:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
