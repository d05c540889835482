"""Dashboard sign-in: a tenant's or the admin's key, exchanged for a signed session cookie.

The cookie (HttpOnly, SameSite=Strict, Secure over https, path /dashboard, 8 hours) holds the
tenant id, a keyed fingerprint of the key (of a tenant's key, its stored hash: rotating or
revoking the key ends the session; of the admin key, the key: changing it ends the session)
and the CSRF token every form must echo. The key itself is never stored.

Every form post must also come from our own pages by the browser's word: a post whose
`Origin` (or `Sec-Fetch-Site`) names another site is refused, the sign-in form included,
which has no session token yet to check.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from returnbridge.api.auth import FailedAuthThrottle
from returnbridge.api.auth import _configured_admin_key as configured_admin_key
from returnbridge.engine.runtime import Runtime
from returnbridge.store.errors import RecordNotFoundError
from returnbridge.store.tenants import get_tenant, tenant_by_api_key

COOKIE = "rb_dashboard"
MAX_AGE = 8 * 3600
PATH = "/dashboard"
_SALT = "returnbridge-dashboard-session"
_ADMIN = "admin-key:"


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


def _fingerprint(runtime: Runtime, key_hash: str) -> str:
    """Names the key without revealing anything about it (the cookie is signed, not secret)."""
    secret = runtime.settings.resolved_secret_key.encode()
    return hmac.new(secret, f"{_SALT}:{key_hash}".encode(), hashlib.sha256).hexdigest()[:32]


def sign_in(runtime: Runtime, throttle: FailedAuthThrottle, client: str, key: str) -> Session:
    """A session for `key`: the admin key, or a tenant's API key."""
    throttle.check(client)
    key = key.strip()
    admin_key = configured_admin_key(runtime.settings)
    if admin_key and hmac.compare_digest(key.encode(), admin_key.encode()):
        return Session(
            csrf=secrets.token_urlsafe(24), admin=True, key_fp=_fingerprint(runtime, _ADMIN + key)
        )
    with runtime.reads() as db:
        tenant = tenant_by_api_key(db, key)
    if tenant is None:
        throttle.failed(client)
        raise SignInRefused("that key is not a tenant's API key or the admin key")
    return Session(
        csrf=secrets.token_urlsafe(24),
        tenant_id=tenant.id,
        key_fp=_fingerprint(runtime, tenant.api_key_hash),
    )


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
        session = Session(
            csrf=str(data["c"]), tenant_id=data["t"], admin=bool(data["a"]), key_fp=data["f"]
        )
    except (BadSignature, KeyError, TypeError):  # not ours, expired, or an older layout
        return None
    if session.admin:
        admin_key = configured_admin_key(runtime.settings)
        now = _fingerprint(runtime, _ADMIN + admin_key) if admin_key else ""
        # a changed (or removed) admin key ends the admin's sessions
        return session if now and hmac.compare_digest(now, str(session.key_fp)) else None
    with runtime.reads() as db:
        try:
            tenant = get_tenant(db, str(session.tenant_id))
        except RecordNotFoundError:
            return None
    if not hmac.compare_digest(_fingerprint(runtime, tenant.api_key_hash), str(session.key_fp)):
        return None  # the key was rotated or revoked since
    return session


def csrf_ok(session: Session, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(session.csrf.encode(), str(token).encode())


def same_site(runtime: Runtime, request: Request) -> bool:
    """Whether a form post comes from our own pages, as far as the browser tells: its
    `Sec-Fetch-Site` is not cross-site and its `Origin`, when sent, is the gateway's public
    address or the address the request was made to. Clients other than browsers send
    neither header and are judged by the session token alone."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    ours = {_origin(runtime.settings.resolved_public_url), _origin(str(request.base_url))}
    return _origin(origin) in ours


def _origin(url: str) -> str:
    parts = urlsplit(url.strip().lower())
    default = {"http": 80, "https": 443}.get(parts.scheme)
    try:
        port = parts.port or default
    except ValueError:
        return "invalid"
    return f"{parts.scheme}://{parts.hostname}:{port}"


def secure(runtime: Runtime, request: Request) -> bool:
    """Cookies only over https: the request's own scheme, or the public address behind a
    proxy that ends TLS."""
    public = runtime.settings.resolved_public_url.lower()
    return request.url.scheme == "https" or public.startswith("https://")


_FLASH_SALT = "returnbridge-dashboard-flash"
_FLASH_AGE = 600


def flash(runtime: Runtime, *, done: str | None, problem: str | None) -> str:
    """What the next page should tell the reader, signed for the query string."""
    serializer = URLSafeTimedSerializer(runtime.settings.resolved_secret_key, salt=_FLASH_SALT)
    return str(serializer.dumps({"d": done, "p": problem}))


def read_flash(runtime: Runtime, token: str | None) -> tuple[str | None, str | None]:
    """(done, problem) from a `flash` we signed in the last ten minutes; nothing otherwise."""
    if not token:
        return None, None
    serializer = URLSafeTimedSerializer(runtime.settings.resolved_secret_key, salt=_FLASH_SALT)
    try:
        data = serializer.loads(token, max_age=_FLASH_AGE)
        done, problem = data["d"], data["p"]
    except (BadSignature, KeyError, TypeError):
        return None, None
    return (str(done) if done else None), (str(problem) if problem else None)
