"""Bearer authentication: tenant keys and the admin key, with throttling of failed attempts.

Routes authenticate before their body is read (see `routing.py`), so an unauthenticated
client cannot make the gateway buffer or parse anything. A key that is empty once stripped
never matches, and neither does an empty configured admin key.
"""

from __future__ import annotations

import hmac
import math
import time

from fastapi import Request
from fastapi.security import HTTPBearer
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from returnbridge.api.problems import ApiProblem
from returnbridge.engine.runtime import Runtime
from returnbridge.settings import Settings
from returnbridge.store.tables import Tenant
from returnbridge.store.tenants import tenant_by_api_key

tenant_key_scheme = HTTPBearer(
    scheme_name="TenantKey",
    description="a tenant's API key (rbk_...), from POST /v1/tenants or the CLI",
    auto_error=False,
)
admin_key_scheme = HTTPBearer(
    scheme_name="AdminKey",
    description="the admin key (RETURNBRIDGE_ADMIN_KEY or <data dir>/admin.key)",
    auto_error=False,
)


class FailedAuthThrottle:
    """Counts failed authentications per client address in a moving window (in memory)."""

    def __init__(self, *, limit: int, window_seconds: int) -> None:
        self._item = RateLimitItemPerSecond(limit, window_seconds)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def check(self, client: str) -> None:
        """Refuse a client that failed too often lately: 429 with Retry-After."""
        if self._limiter.test(self._item, client):
            return
        reset_at = self._limiter.get_window_stats(self._item, client).reset_time
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise ApiProblem(
            429,
            "TOO_MANY_FAILED_AUTHENTICATIONS",
            f"too many failed authentications from this address; retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )

    def failed(self, client: str) -> None:
        self._limiter.hit(self._item, client)


def throttle_for(settings: Settings) -> FailedAuthThrottle:
    return FailedAuthThrottle(
        limit=settings.auth_failure_limit, window_seconds=settings.auth_failure_window
    )


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _throttle(request: Request) -> FailedAuthThrottle:
    throttle: FailedAuthThrottle = request.app.state.auth_throttle
    return throttle


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def bearer_key(authorization: str | None) -> str:
    """The key of an `Authorization: Bearer <key>` header; 401 if missing or blank."""
    scheme, _, key = (authorization or "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise ApiProblem(401, "UNAUTHENTICATED", "send 'Authorization: Bearer <api key>'")
    return key


def _failing(request: Request, problem: ApiProblem) -> ApiProblem:
    _throttle(request).failed(_client(request))
    return problem


def _presented_key(request: Request) -> str:
    _throttle(request).check(_client(request))
    try:
        return bearer_key(request.headers.get("authorization"))
    except ApiProblem as problem:
        raise _failing(request, problem) from None


def authenticate_tenant(request: Request) -> Tenant:
    """The tenant owning the request's bearer key (a read session; no write lock)."""
    key = _presented_key(request)
    with _runtime(request).reads() as session:
        tenant = tenant_by_api_key(session, key)
    if tenant is None:
        raise _failing(request, ApiProblem(401, "INVALID_API_KEY", "the API key is not valid"))
    request.state.tenant = tenant
    return tenant


def _configured_admin_key(settings: Settings) -> str:
    """The admin key, or "" when there is none usable (an empty key matches nothing)."""
    try:
        return settings.resolved_admin_key.strip()
    except Exception:  # an unreadable or refused key must fail closed, never open
        return ""


def authenticate_admin(request: Request) -> None:
    """Accept only the configured admin key; any other key (or none configured) is 403."""
    given = _presented_key(request)
    expected = _configured_admin_key(_runtime(request).settings)
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise _failing(request, ApiProblem(403, "NOT_ADMIN", "this route needs the admin key"))
    request.state.admin = True
