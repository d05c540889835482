"""`/v1/connect`: a merchant connects a store by approving us on the platform itself.

Shopify: `POST /v1/connect/shopify` answers the install page of our Shopify app; the browser
comes back to `GET /v1/connect/shopify/callback`, whose signature and state are checked before
the code is exchanged for a token. WooCommerce: `POST /v1/connect/woocommerce` answers the
site's key approval page; the site POSTs the new key to `/v1/connect/woocommerce/callback`
and sends the browser to `/v1/connect/woocommerce/done`.

Nothing is stored until the platform has answered: what the start route knew (tenant, store,
connection name) travels in a signed, time-limited `state` (Shopify's `state`, WooCommerce's
`user_id`), keyed from the gateway's secret key. The connection is created only after a live
call with the new credentials worked.
"""

from __future__ import annotations

import html
import ipaddress
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from returnbridge.api.deps import RuntimeDep, TenantDep
from returnbridge.api.problems import ApiProblem
from returnbridge.api.routing import TenantRoute
from returnbridge.api.schemas import reject_unstorable
from returnbridge.connectors.shopify import install as shopify_install
from returnbridge.connectors.woocommerce import key_delivery
from returnbridge.connectors.woocommerce.client import site_base_url
from returnbridge.domain.errors import ConnectorError, DomainError, TransientError
from returnbridge.engine.actions.run import ActionFailed
from returnbridge.engine.actions.verify import verify_credentials
from returnbridge.engine.runtime import Runtime
from returnbridge.store import audit
from returnbridge.store.connections import create_connection, list_connections
from returnbridge.store.errors import RecordNotFoundError
from returnbridge.store.tenants import get_tenant

STATE_MAX_AGE = 600
"""Seconds a merchant has from the start route to the platform's answer."""
Platform = Literal["shopify", "woocommerce"]
WOOCOMMERCE_APP_NAME = "returnbridge"
"""How the site's approval page and key description name us."""

# -- the signed state ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectState:
    """What the start route knew, carried through the platform and back."""

    platform: Platform
    tenant_id: str
    store: str
    name: str
    base_url: str | None
    nonce: str


class StateError(Exception):
    """A state that is not ours, was altered, or is too old; the message says which."""


class ConnectStates:
    """Signs and reads states: HMAC over the content with a timestamp (itsdangerous), a salt
    per platform, so a state made for one flow is refused by the other."""

    def __init__(
        self,
        secret_key: str,
        *,
        max_age: int = STATE_MAX_AGE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_age = max_age

        class _Signer(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(clock())

        self._serializers = {
            platform: URLSafeTimedSerializer(
                secret_key, salt=f"returnbridge.connect.{platform}", signer=_Signer
            )
            for platform in ("shopify", "woocommerce")
        }

    def dump(self, state: ConnectState) -> str:
        payload = {
            "t": state.tenant_id,
            "s": state.store,
            "n": state.name,
            "b": state.base_url,
            "x": state.nonce,
        }
        signed: str = self._serializers[state.platform].dumps(payload)
        return signed

    def load(self, platform: Platform, token: str) -> ConnectState:
        try:
            payload = self._serializers[platform].loads(token, max_age=self.max_age)
        except SignatureExpired:
            raise StateError("the connect request expired; start it again") from None
        except BadSignature:
            raise StateError("the state is not one this gateway signed") from None
        if not isinstance(payload, dict):
            raise StateError("the state is not one this gateway signed")
        base_url = payload.get("b")
        fields = (payload.get("t"), payload.get("s"), payload.get("n"), payload.get("x"))
        if not all(isinstance(v, str) for v in fields) or not (
            base_url is None or isinstance(base_url, str)
        ):
            raise StateError("the state is not one this gateway signed")
        tenant_id, store, name, nonce = (str(v) for v in fields)
        return ConnectState(platform, tenant_id, store, name, base_url, nonce)


def new_state(
    platform: Platform, *, tenant_id: str, store: str, name: str, base_url: str | None = None
) -> ConnectState:
    return ConnectState(platform, tenant_id, store, name, base_url, secrets.token_urlsafe(12))


def _states(runtime: Runtime) -> ConnectStates:
    return ConnectStates(runtime.settings.resolved_secret_key)


def _read_state(runtime: Runtime, platform: Platform, token: str | None) -> ConnectState:
    if not token:
        raise ApiProblem(400, "INVALID_CONNECT_STATE", "the callback carries no state")
    try:
        return _states(runtime).load(platform, token)
    except StateError as exc:
        raise ApiProblem(400, "INVALID_CONNECT_STATE", str(exc)) from None


# -- shared pieces ------------------------------------------------------------------------------


_LOOPBACK_NAMES = frozenset({"localhost"})


def _checked_url(value: str, *, field: str) -> str:
    """An http(s) URL without credentials; plain http only to a loopback host (a sandbox)."""
    url = value.strip().rstrip("/")
    invalid = ApiProblem(
        422, "VALIDATION_ERROR", f"{field}: an http(s) URL with a host", field=field
    )
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port  # a port that is not a number raises here
    except ValueError:
        raise invalid from None
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        raise invalid
    if parts.scheme == "http" and not _is_loopback(host):
        raise ApiProblem(
            422,
            "VALIDATION_ERROR",
            f"{field}: use https (plain http only reaches a sandbox on loopback)",
            field=field,
        )
    return url


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _require_tenant(runtime: Runtime, tenant_id: str) -> None:
    with runtime.reads() as session:
        try:
            get_tenant(session, tenant_id)
        except RecordNotFoundError:
            raise ApiProblem(
                404, "TENANT_NOT_FOUND", "the tenant that started this connect request is gone"
            ) from None


def _store_connection(
    runtime: Runtime,
    state: ConnectState,
    *,
    base_url: str,
    credentials: dict[str, Any],
) -> str:
    with runtime.sessions.begin() as session:
        connection = create_connection(
            session,
            state.tenant_id,
            platform=state.platform,
            name=state.name,
            base_url=base_url,
            credentials=credentials,
            cipher=runtime.cipher,
        )
        entry = audit.Entry(
            channel="api",
            actor=f"connect-flow:{state.platform}",
            action="connect",
            outcome="ok",
            connection_id=connection.id,
            status_code=201,
            summary={"platform": state.platform, "name": state.name},
        )
        audit.record(session, state.tenant_id, entry)
        return connection.id


def _platform_problem(what: str, exc: ConnectorError) -> ApiProblem:
    """Our sentence for a platform call that failed (its message carries no secret)."""
    status = 503 if isinstance(exc, TransientError) else 502
    return ApiProblem(status, f"{what}_FAILED", f"{what.lower().replace('_', ' ')}: {exc.message}")


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _page(request: Request, title: str, sentence: str, data: dict[str, Any]) -> Response:
    """A small page for the merchant's browser, or the same facts as JSON."""
    if _wants_json(request):
        return JSONResponse(data)
    document = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(sentence)}</p></body></html>"
    )
    return HTMLResponse(document)


class AuthorizeOut(BaseModel):
    authorize_url: str = Field(description="send the merchant's browser here")


# -- Shopify ------------------------------------------------------------------------------------


class ShopifyConnectIn(BaseModel):
    """Which shop to install our Shopify app on, and the connection's name."""

    model_config = ConfigDict(extra="forbid")

    shop: str = Field(min_length=1, max_length=255, description="acme.myshopify.com")
    name: str = Field(min_length=1, max_length=200)
    base_url: str | None = Field(
        default=None,
        max_length=500,
        description="where the shop's admin answers when not at https://{shop} (a sandbox)",
    )


@dataclass(frozen=True, slots=True)
class _ShopifyApp:
    client_id: str
    client_secret: str
    scopes: str


def _shopify_app(runtime: Runtime) -> _ShopifyApp:
    settings = runtime.settings
    secret = settings.shopify_app_client_secret
    if not settings.shopify_app_client_id or secret is None or not secret.get_secret_value():
        raise ApiProblem(
            409,
            "SHOPIFY_APP_NOT_CONFIGURED",
            "connecting Shopify stores by install needs the gateway's Shopify app: set "
            "RETURNBRIDGE_SHOPIFY_APP_CLIENT_ID and RETURNBRIDGE_SHOPIFY_APP_CLIENT_SECRET",
        )
    return _ShopifyApp(
        settings.shopify_app_client_id, secret.get_secret_value(), settings.shopify_app_scopes
    )


def _shop(value: str) -> str:
    try:
        return shopify_install.normalise_shop(value)
    except DomainError as exc:
        raise ApiProblem(422, exc.code, exc.message, field="shop") from None


def _shopify_callback_url(runtime: Runtime) -> str:
    return f"{runtime.settings.resolved_public_url}/v1/connect/shopify/callback"


tenant_routes = APIRouter(route_class=TenantRoute)
browser_routes = APIRouter()


@tenant_routes.post(
    "/shopify",
    summary="Start connecting a Shopify shop: the install page to send the merchant to",
)
def start_shopify(body: ShopifyConnectIn, tenant: TenantDep, runtime: RuntimeDep) -> AuthorizeOut:
    reject_unstorable(body)
    app = _shopify_app(runtime)
    shop = _shop(body.shop)
    base_url = _checked_url(body.base_url, field="base_url") if body.base_url else None
    state = new_state("shopify", tenant_id=tenant.id, store=shop, name=body.name, base_url=base_url)
    url = shopify_install.authorize_url(
        shop,
        client_id=app.client_id,
        scopes=app.scopes,
        redirect_uri=_shopify_callback_url(runtime),
        state=_states(runtime).dump(state),
        base_url=base_url,
    )
    return AuthorizeOut(authorize_url=url)


@browser_routes.get(
    "/shopify/callback",
    summary="Where Shopify sends the merchant back after installing: creates the connection",
    response_class=HTMLResponse,
)
def shopify_callback(request: Request, runtime: RuntimeDep) -> Response:
    app = _shopify_app(runtime)
    params = dict(request.query_params)
    missing = [n for n in ("code", "hmac", "shop", "state") if not params.get(n)]
    if missing:
        raise ApiProblem(400, "INVALID_CALLBACK", f"the callback lacks {', '.join(missing)}")
    if not shopify_install.verify_callback(params, app.client_secret):
        raise ApiProblem(
            400, "INVALID_CALLBACK_SIGNATURE", "the callback's hmac is not Shopify's signature"
        )
    shop = _shop(params["shop"])
    state = _read_state(runtime, "shopify", params["state"])
    if state.store != shop:
        raise ApiProblem(400, "INVALID_CONNECT_STATE", "the state was made for another shop")
    _require_tenant(runtime, state.tenant_id)
    try:
        token = shopify_install.exchange_code(
            shop,
            params["code"],
            client_id=app.client_id,
            client_secret=app.client_secret,
            base_url=state.base_url,
            timeout=runtime.settings.http_timeout,
        )
    except ConnectorError as exc:
        raise _platform_problem("SHOPIFY_CODE_EXCHANGE", exc) from None
    base_url = shopify_install.admin_base_url(shop, state.base_url)
    credentials = {"access_token": token.access_token}
    _verify_shopify(base_url, credentials, runtime)
    connection_id = _store_connection(runtime, state, base_url=base_url, credentials=credentials)
    return _page(
        request,
        "Shopify store connected",
        f"{shop} is connected as {state.name}: connection {connection_id}.",
        {"connection_id": connection_id, "platform": "shopify", "shop": shop, "name": state.name},
    )


def _verify_shopify(base_url: str, credentials: dict[str, Any], runtime: Runtime) -> None:
    """One live check with the new token before anything is stored."""
    _verify(runtime, "shopify", base_url, credentials)


def _verify(runtime: Runtime, platform: str, base_url: str, credentials: dict[str, Any]) -> None:
    try:
        verify_credentials(runtime, platform, base_url, credentials)
    except ActionFailed as failure:
        status = 503 if failure.retryable else 502
        raise ApiProblem(
            status, "CREDENTIALS_CHECK_FAILED", f"credentials check: {failure.detail}"
        ) from None


# -- WooCommerce --------------------------------------------------------------------------------


class WooCommerceConnectIn(BaseModel):
    """Which WooCommerce site to get a key from, and the connection's name."""

    model_config = ConfigDict(extra="forbid")

    store_url: str = Field(min_length=1, max_length=500, description="https://shop.example.com")
    name: str = Field(min_length=1, max_length=200)


@tenant_routes.post(
    "/woocommerce",
    summary="Start connecting a WooCommerce site: the key approval page to send the manager to",
)
def start_woocommerce(
    body: WooCommerceConnectIn, tenant: TenantDep, runtime: RuntimeDep
) -> AuthorizeOut:
    reject_unstorable(body)
    site = _checked_url(site_base_url(body.store_url), field="store_url")
    state = new_state("woocommerce", tenant_id=tenant.id, store=site, name=body.name)
    public = runtime.settings.resolved_public_url
    url = key_delivery.authorize_url(
        site,
        app_name=WOOCOMMERCE_APP_NAME,
        user_id=_states(runtime).dump(state),
        return_url=f"{public}/v1/connect/woocommerce/done",
        callback_url=f"{public}/v1/connect/woocommerce/callback",
    )
    return AuthorizeOut(authorize_url=url)


@browser_routes.post(
    "/woocommerce/callback",
    summary="Where the WooCommerce site delivers the approved key: creates the connection",
)
async def woocommerce_callback(request: Request, runtime: RuntimeDep) -> JSONResponse:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiProblem(400, "INVALID_KEY_DELIVERY", "the key delivery is not JSON") from None
    try:
        key = key_delivery.parse_delivery(body)
    except DomainError as exc:
        raise ApiProblem(400, exc.code, exc.message) from None
    connection_id = await run_in_threadpool(_connect_woocommerce, runtime, key)
    return JSONResponse({"connection_id": connection_id})


def _connect_woocommerce(runtime: Runtime, key: key_delivery.DeliveredKey) -> str:
    state = _read_state(runtime, "woocommerce", key.user_id)
    if key.permissions != key_delivery.SCOPE:
        raise ApiProblem(
            400,
            "INSUFFICIENT_KEY_PERMISSIONS",
            f"the key must allow read_write; it allows {key.permissions}",
        )
    _require_tenant(runtime, state.tenant_id)
    _verify(runtime, "woocommerce", state.store, key.credentials)
    return _store_connection(runtime, state, base_url=state.store, credentials=key.credentials)


@browser_routes.get(
    "/woocommerce/done",
    summary="Where the WooCommerce site sends the manager back: says whether it worked",
    response_class=HTMLResponse,
)
def woocommerce_done(request: Request, runtime: RuntimeDep) -> Response:
    state = _read_state(runtime, "woocommerce", request.query_params.get("user_id"))
    if request.query_params.get("success") != "1":
        return _page(
            request,
            "WooCommerce store not connected",
            f"Access to {state.store} was denied; nothing was connected.",
            {"connected": False, "store_url": state.store, "name": state.name},
        )
    with runtime.reads() as session:
        found = [
            c
            for c in list_connections(session, state.tenant_id, platform="woocommerce")
            if c.name == state.name and c.base_url == state.store
        ]
    if not found:
        return _page(
            request,
            "WooCommerce store not connected",
            f"{state.store} approved the key, but it never reached us; start again.",
            {"connected": False, "store_url": state.store, "name": state.name},
        )
    connection_id = found[-1].id
    return _page(
        request,
        "WooCommerce store connected",
        f"{state.store} is connected as {state.name}: connection {connection_id}.",
        {
            "connected": True,
            "connection_id": connection_id,
            "store_url": state.store,
            "name": state.name,
        },
    )


router = APIRouter(prefix="/v1/connect", tags=["connect"])
router.include_router(tenant_routes)
router.include_router(browser_routes)
