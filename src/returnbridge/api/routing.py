"""Route classes that authenticate before the body is read, then parse JSON bodies strictly.

FastAPI reads and parses a route's body before its dependencies run, so an auth dependency
alone would let any client make the gateway buffer a body. These route classes run the check
on the headers first; the dependencies in `deps.py` then only hand over what was found (and
declare the security scheme in the OpenAPI document).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from returnbridge.api.auth import authenticate_admin, authenticate_tenant
from returnbridge.api.json_body import ParsedJSONRequest, is_json, parse_json_body

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class _GuardedRoute(APIRoute):
    """Authenticate (`_authenticate`), then read and strictly parse a JSON body, then run."""

    @staticmethod
    def _authenticate(request: Request) -> Any:
        raise NotImplementedError

    def get_route_handler(self) -> Handler:
        handle = super().get_route_handler()
        authenticate = self._authenticate
        takes_body = self.body_field is not None

        async def guarded(request: Request) -> Response:
            await run_in_threadpool(authenticate, request)
            if takes_body and is_json(request):
                raw = await request.body()  # the size limit applies while it is read
                if raw:
                    request = ParsedJSONRequest(request, raw=raw, parsed=parse_json_body(raw))
            return await handle(request)

        return guarded


class TenantRoute(_GuardedRoute):
    """A route for tenants: their API key is checked before anything else."""

    _authenticate = staticmethod(authenticate_tenant)


class AdminRoute(_GuardedRoute):
    """An admin route: the admin key is checked before anything else."""

    _authenticate = staticmethod(authenticate_admin)
