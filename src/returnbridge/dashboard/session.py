"""Dashboard sign-in: a tenant's or the admin's key, exchanged for a signed session cookie.

The cookie (HttpOnly, SameSite=Strict, Secure over https, path /dashboard, 8 hours) holds the
tenant id, a fingerprint of the key's stored hash (rotating or revoking the key ends the
session) and the CSRF token every form must echo. The key itself is never stored.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from returnbridge.api.auth import FailedAuthThrottle
from returnbridge.engine.runtime import Runtime
from returnbridge.store.errors import RecordNotFoundError
from returnbridge.store.tenants import get_tenant, tenant_by_api_key

COOKIE = "rb_dashboard"
MAX_AGE = 8 * 3600
PATH = "/dashboard"
_SALT = "returnbridge-dashboard-session"


@dataclass(frozen=True, slots=True)
class Session:
    """Who is signed in: a tenant (its own data), or the admin looking at `tenant_id`."""

    csrf: str
    tenant_id: str | None = None
    admin: bool = False
    key_fp: str | None = None

    @property
    def who(self) -> str:
        return "admin" if self.admin else f"tenant:{self.tenant_id}"


class SignInRefused(Exception):
    """The key opens nothing; the message is safe to show."""


def _serializer(runtime: Runtime) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(runtime.settings.resolved_secret_key, salt=_SALT)


def _fingerprint(key_hash: str) -> str:
    return key_hash[:16]


def sign_in(runtime: Runtime, throttle: FailedAuthThrottle, client: str, key: str) -> Session:
    """A session for `key`: the admin key, or a tenant's API key."""
    throttle.check(client)
    key = key.strip()
    admin_key = _admin_key(runtime)
    if admin_key and hmac.compare_digest(key.encode(), admin_key.encode()):
        return Session(csrf=secrets.token_urlsafe(24), admin=True)
    with runtime.reads() as db:
        tenant = tenant_by_api_key(db, key)
    if tenant is None:
        throttle.failed(client)
        raise SignInRefused("that key is not a tenant's API key or the admin key")
    return Session(
        csrf=secrets.token_urlsafe(24),
        tenant_id=tenant.id,
        key_fp=_fingerprint(tenant.api_key_hash),
    )


def _admin_key(runtime: Runtime) -> str:
    try:
        return runtime.settings.resolved_admin_key.strip()
    except Exception:  # no usable admin key: it matches nothing
        return ""


def save(runtime: Runtime, response: Response, session: Session, *, secure: bool) -> None:
    value = _serializer(runtime).dumps(
        {"c": session.csrf, "t": session.tenant_id, "a": session.admin, "f": session.key_fp}
    )
    response.set_cookie(
        COOKIE,
        value,
        max_age=MAX_AGE,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def forget(response: Response) -> None:
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict")


def load(runtime: Runtime, request: Request) -> Session | None:
    """The request's session, if its cookie is ours, fresh, and its key still valid."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(runtime).loads(raw, max_age=MAX_AGE)
    except BadSignature:
        return None
    session = Session(
        csrf=str(data["c"]), tenant_id=data["t"], admin=bool(data["a"]), key_fp=data["f"]
    )
    if session.admin:
        return session if _admin_key(runtime) else None
    with runtime.reads() as db:
        try:
            tenant = get_tenant(db, str(session.tenant_id))
        except RecordNotFoundError:
            return None
    if not hmac.compare_digest(_fingerprint(tenant.api_key_hash), str(session.key_fp)):
        return None  # the key was rotated or revoked since
    return session


def csrf_ok(session: Session, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(session.csrf.encode(), str(token).encode())
