"""A request body size limit, enforced before anything parses the body.

A declared `Content-Length` over the limit is answered 413 without reading a byte; a body
without one (chunked) is counted as it streams and refused as soon as it goes over.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from returnbridge.api.problems import ApiProblem, problem


class BodyTooLargeError(ApiProblem):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413, "BODY_TOO_LARGE", f"the request body is larger than {limit} bytes", limit=limit
        )


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodySizeLimit:
    """ASGI middleware: 413 problem+json for bodies over `max_bytes`."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            too_large = BodyTooLargeError(self.max_bytes)
            answer = problem(too_large.status, too_large.code, too_large.detail, **too_large.extra)
            answer.headers["Connection"] = "close"
            await answer(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError(self.max_bytes)
            return message

        await self.app(scope, counted, send)
