"""A response that drops the connection mid-answer, as a proxy or a crashed PHP worker would.

The status line and headers go out, then the ASGI app fails; the server closes the connection
and the client sees an incomplete response (``httpx.RemoteProtocolError``). The server logs
the failure as an application error.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import Receive, Scope, Send


class ConnectionDropped(RuntimeError):
    """Raised on purpose to make the server close the connection."""


class DroppedConnection(Response):
    """A response that never completes."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"id":', "more_body": True})
        msg = "sandbox fault: connection dropped"
        raise ConnectionDropped(msg)
