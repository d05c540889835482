"""App install by the OAuth authorization code grant, on Shopify's paths.

``GET /admin/oauth/authorize`` shows the merchant the install page (or decides at once with
``sandbox_decision=install|cancel``); installing redirects to the app's ``redirect_uri`` with
``code``, ``hmac``, ``host``, ``shop``, ``state`` and ``timestamp``. ``POST
/admin/oauth/access_token`` trades the code, once, for an offline access token of the shop.
``POST /_sandbox/apps`` registers an app.

One sandbox serves many shops on one host, so the shop comes from a ``shop`` query parameter
(else the ``Host`` header, when it names a shop), where Shopify reads it from the host alone.
"""

from __future__ import annotations

import base64
import html
import json
import re
import secrets
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from returnbridge.sandbox.common.control import control_router, simulator_of
from returnbridge.sandbox.shopify.apps import App, Grant, query_hmac
from returnbridge.sandbox.shopify.simulator import Simulator

router = APIRouter(include_in_schema=False)
control = control_router()
SimulatorDep = Annotated[Simulator, Depends(simulator_of)]

_SCOPE = re.compile(r"(unauthenticated_)?(read|write)_[a-z_]+")
_USED_CODE = "The authorization code was not found or was already used"
_AUTHORIZE_FIELDS = ("client_id", "scope", "redirect_uri", "state", "shop")


class AppSeed(BaseModel):
    """``POST /_sandbox/apps``: an app's credentials and allowed redirect URLs."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)
    redirect_urls: list[str] = Field(default_factory=list)


@control.post("/apps", status_code=status.HTTP_201_CREATED)
def register_app(seed: AppSeed, simulator: SimulatorDep) -> dict[str, Any]:
    """Create or replace an app (the secret is not echoed)."""
    app = App(seed.client_id, seed.client_secret, tuple(seed.redirect_urls))
    with simulator.world.lock:
        simulator.installs.apps[app.client_id] = app
    return {"client_id": app.client_id, "redirect_urls": list(app.redirect_urls)}


class _Refused(Exception):
    """The authorize page refuses the request with this message and status."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


def _page(title: str, body: str, *, status_code: int = 200) -> HTMLResponse:
    document = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>"
        f"{body}</body></html>"
    )
    return HTMLResponse(document, status_code=status_code)


def _shop_domain(params: dict[str, str], request: Request, simulator: Simulator) -> str:
    shop = params.get("shop") or (request.headers.get("host") or "").partition(":")[0]
    with simulator.world.lock:
        if shop not in simulator.world.shops:
            raise _Refused("There is no shop at this address (pass shop=...myshopify.com).", 404)
    return shop


def _checked(params: dict[str, str], request: Request, simulator: Simulator) -> App:
    """The app asking, after the checks Shopify makes before showing the install page."""
    with simulator.world.lock:
        app = simulator.installs.apps.get(params.get("client_id", ""))
    if app is None:
        raise _Refused("Oauth error invalid_request: The client_id provided is invalid")
    scopes = [s.strip() for s in params.get("scope", "").split(",") if s.strip()]
    if not scopes or not all(_SCOPE.fullmatch(s) for s in scopes):
        raise _Refused("Oauth error invalid_scope: The access scope is invalid")
    redirect_uri = params.get("redirect_uri", "")
    if urlsplit(redirect_uri).scheme not in ("http", "https") or not app.allows(redirect_uri):
        raise _Refused("Oauth error invalid_request: The redirect_uri is not whitelisted")
    if params.get("grant_options[]") not in (None, ""):
        raise _Refused("online (per-user) access tokens are not simulated; ask for offline")
    _shop_domain(params, request, simulator)
    return app


def _approve(params: dict[str, str], app: App, request: Request, simulator: Simulator) -> Response:
    shop = _shop_domain(params, request, simulator)
    now = simulator.clock()
    scopes = dict.fromkeys(s.strip() for s in params["scope"].split(",") if s.strip())
    grant = Grant(
        code=secrets.token_hex(16),
        client_id=app.client_id,
        shop=shop,
        scope=",".join(scopes),
        issued_at=now,
    )
    with simulator.world.lock:
        simulator.installs.grants[grant.code] = grant
    store = shop.removesuffix(".myshopify.com")
    answer = {
        "code": grant.code,
        "host": base64.b64encode(f"admin.shopify.com/store/{store}".encode()).decode(),
        "shop": shop,
        "timestamp": str(int(now)),
    }
    if params.get("state"):
        answer["state"] = params["state"]
    answer["hmac"] = query_hmac(answer, app.client_secret)
    target = params["redirect_uri"]
    separator = "&" if urlsplit(target).query else "?"
    # 303 after the install form's POST (a browser then GETs the redirect), 302 otherwise.
    code = status.HTTP_303_SEE_OTHER if request.method == "POST" else status.HTTP_302_FOUND
    return RedirectResponse(f"{target}{separator}{urlencode(answer)}", status_code=code)


def _cancelled(app: App) -> HTMLResponse:
    body = f"<p>The app {html.escape(app.client_id)} was not installed.</p>"
    return _page("Installation cancelled", body)


def _install_page(params: dict[str, str], app: App) -> HTMLResponse:
    hidden = "".join(
        f"<input type='hidden' name='{name}' value='{html.escape(params[name], quote=True)}'>"
        for name in _AUTHORIZE_FIELDS
        if params.get(name)
    )
    body = (
        f"<p>{html.escape(app.client_id)} asks for: {html.escape(params['scope'])}</p>"
        f"<form method='post' action='/admin/oauth/authorize'>{hidden}"
        "<button name='sandbox_decision' value='install'>Install</button> "
        "<button name='sandbox_decision' value='cancel'>Cancel</button></form>"
    )
    return _page("Install app", body)


def _decide(params: dict[str, str], request: Request, simulator: Simulator) -> Response:
    try:
        app = _checked(params, request, simulator)
        decision = params.get("sandbox_decision")
        if decision == "install":
            return _approve(params, app, request, simulator)
        if decision == "cancel":
            return _cancelled(app)
        if request.method == "POST" or decision is not None:
            raise _Refused("sandbox_decision must be install or cancel")
        return _install_page(params, app)
    except _Refused as refused:
        return _page(
            "Error", f"<p>{html.escape(refused.message)}</p>", status_code=refused.status_code
        )


@router.get("/admin/oauth/authorize")
def authorize(request: Request, simulator: SimulatorDep) -> Response:
    """The install page for the merchant (or the decision, with ``sandbox_decision``)."""
    return _decide(dict(request.query_params), request, simulator)


@router.post("/admin/oauth/authorize")
async def authorize_form(request: Request, simulator: SimulatorDep) -> Response:
    """The install page's form: ``sandbox_decision=install`` or ``cancel``."""
    raw = (await request.body()).decode("utf-8", errors="replace")
    return _decide(dict(parse_qsl(raw)), request, simulator)


def _oauth_error(error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=400)


async def _token_request(request: Request) -> dict[str, str]:
    raw = await request.body()
    fields: dict[str, str] = dict(request.query_params)
    if "json" in request.headers.get("content-type", ""):
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if isinstance(body, dict):
            fields.update({k: v for k, v in body.items() if isinstance(v, str)})
    else:
        fields.update(parse_qsl(raw.decode("utf-8", errors="replace")))
    return fields


@router.post("/admin/oauth/access_token")
async def access_token(request: Request, simulator: SimulatorDep) -> JSONResponse:
    """Trade an authorization code (with the app's credentials) for an access token."""
    fields = await _token_request(request)
    missing = [n for n in ("client_id", "client_secret", "code") if not fields.get(n)]
    if missing:
        return _oauth_error("invalid_request", f"Missing parameter(s): {', '.join(missing)}")
    with simulator.world.lock:
        app = simulator.installs.apps.get(fields["client_id"])
        if app is None or not secrets.compare_digest(
            app.client_secret.encode(), fields["client_secret"].encode()
        ):
            return _oauth_error("invalid_client", "Client authentication failed")
        grant = simulator.installs.take_grant(
            fields["code"], client_id=app.client_id, now=simulator.clock()
        )
        shop = simulator.world.shops.get(grant.shop) if grant else None
        if grant is None or shop is None:
            return _oauth_error("invalid_request", _USED_CODE)
        token = f"shpat_{secrets.token_hex(16)}"
        shop.app_tokens[token] = app.client_id
    return JSONResponse({"access_token": token, "scope": grant.scope})
