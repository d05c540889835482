"""App key delivery: ``/wc-auth/v1/authorize``, WooCommerce's way of handing an app a REST key.

The app sends the shop manager to ``/wc-auth/v1/authorize`` with ``app_name``, ``scope``
(``read``, ``write`` or ``read_write``), ``user_id``, ``return_url`` and ``callback_url``. On
approval the site creates a key with that permission and POSTs ``{key_id, user_id,
consumer_key, consumer_secret, key_permissions}`` as JSON to ``callback_url``; only if that
answers 200 is the manager sent to ``return_url?success=1&user_id=...``. Otherwise the key is
deleted and the site answers its 401 error page. Denying sends the manager to
``return_url?success=0&user_id=...``.

Where the sandbox differs, on purpose: logging in is choosing a store (``sandbox_store``; the
only store when there is one), ``sandbox_decision=approve|deny`` decides without the grant
page, and ``callback_url`` may be plain ``http`` to a loopback address (WooCommerce demands
``https``).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import ipaddress
import secrets
from typing import Annotated, Any, cast
from urllib.parse import unquote_plus, urlencode, urlsplit

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from returnbridge.sandbox.common.control import simulator_of
from returnbridge.sandbox.woocommerce.simulator import Simulator
from returnbridge.sandbox.woocommerce.state import ApiKey, KeyPermission, Store

router = APIRouter(prefix="/wc-auth/v1", include_in_schema=False)
SimulatorDep = Annotated[Simulator, Depends(simulator_of)]

PARAMETERS = ("app_name", "user_id", "return_url", "callback_url", "scope")
SCOPES: tuple[KeyPermission, ...] = ("read", "write", "read_write")
CALLBACK_TIMEOUT = 60.0
"""Seconds WooCommerce gives the app's callback to answer."""
_LOOPBACK_NAMES = frozenset({"localhost"})


class _Denied(Exception):
    """WooCommerce's ``wp_die`` page: "Error: {message}." with status 401."""


def _error_page(message: str) -> HTMLResponse:
    text = html.escape(f"Error: {message}.")
    document = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Access denied</title>"
        f"</head><body><p>{text}</p></body></html>"
    )
    return HTMLResponse(document, status_code=401)


def _page(title: str, body: str) -> HTMLResponse:
    document = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>"
        f"{body}</body></html>"
    )
    return HTMLResponse(document)


def formatted_url(value: str) -> str:
    """The URL as WooCommerce reads it: decoded once more, ``https://`` when it has no scheme."""
    url = unquote_plus(value)
    return url if "://" in url else f"https://{url}"


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _validated(query: dict[str, str]) -> dict[str, str]:
    """The five parameters, checked as WooCommerce checks them before anything else."""
    data: dict[str, str] = {}
    for name in PARAMETERS:
        if not query.get(name):
            raise _Denied(f"Missing parameter {name}")
        data[name] = query[name]
    if data["scope"] not in SCOPES:
        raise _Denied(f"Invalid scope {data['scope']}")
    for name in ("return_url", "callback_url"):
        parts = urlsplit(formatted_url(data[name]))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _Denied(f"The {formatted_url(data[name])} is not a valid URL")
    callback = urlsplit(formatted_url(data["callback_url"]))
    if callback.scheme != "https" and not _is_loopback(callback.hostname or ""):
        raise _Denied("The callback_url needs to be over SSL")
    return data


def _store(query: dict[str, str], simulator: Simulator) -> Store | None:
    """The store the manager "logged in" to: ``sandbox_store``, else the only one."""
    with simulator.world.lock:
        name = query.get("sandbox_store")
        if name:
            store = simulator.world.stores.get(name)
            if store is None:
                raise _Denied(f"Unknown store {name}")
            return store
        stores = list(simulator.world.stores.values())
    return stores[0] if len(stores) == 1 else None


def _with_query(url: str, extra: dict[str, str]) -> str:
    separator = "&" if urlsplit(url).query else "?"
    return f"{url}{separator}{urlencode(extra)}"


def _return_to(data: dict[str, str], *, success: bool) -> str:
    extra = {"success": "1" if success else "0", "user_id": data["user_id"].strip()}
    return _with_query(formatted_url(data["return_url"]), extra)


def _nonce(simulator: Simulator, store: Store, data: dict[str, str]) -> str:
    """The grant link's nonce: bound to the store and the request, like ``wp_create_nonce``."""
    message = "\n".join([store.name, *(data[name] for name in PARAMETERS)])
    return hmac.new(simulator.auth_secret, message.encode(), hashlib.sha256).hexdigest()[:20]


def _login_page(query: dict[str, str], simulator: Simulator) -> HTMLResponse:
    with simulator.world.lock:
        names = sorted(simulator.world.stores)
    links = "".join(
        f"<li><a href='/wc-auth/v1/authorize?"
        f"{html.escape(urlencode({**query, 'sandbox_store': name}), quote=True)}'>"
        f"{html.escape(name)}</a></li>"
        for name in names
    )
    return _page("Log in", f"<p>Choose the store to log in to:</p><ul>{links}</ul>")


def _grant_page(data: dict[str, str], store: Store, simulator: Simulator) -> HTMLResponse:
    granted = {
        **data,
        "sandbox_store": store.name,
        "wc_auth_nonce": _nonce(simulator, store, data),
    }
    approve = f"/wc-auth/v1/access_granted?{urlencode(granted)}"
    deny = _return_to(data, success=False)
    body = (
        f"<p>{html.escape(data['app_name'])} would like to connect to {html.escape(store.name)}"
        f" with {html.escape(data['scope'])} access.</p>"
        f"<a href='{html.escape(approve, quote=True)}'>Approve</a> "
        f"<a href='{html.escape(deny, quote=True)}'>Deny</a>"
    )
    return _page(f"{data['app_name']} would like to connect", body)


def _create_key(store: Store, data: dict[str, str], simulator: Simulator) -> ApiKey:
    with simulator.world.lock:
        key = ApiKey(
            consumer_key=f"ck_{secrets.token_hex(20)}",
            consumer_secret=f"cs_{secrets.token_hex(20)}",
            permissions=cast(KeyPermission, data["scope"]),
            key_id=simulator.world.ids.next(),
            description=f"{data['app_name'][:170]} - API ({simulator.timestamp()})",
        )
        store.issued_keys[key.consumer_key] = key
    return key


async def _deliver(key: ApiKey, data: dict[str, str]) -> bool:
    """POST the key to the app's callback; True only for a 200 answer."""
    payload: dict[str, Any] = {
        "key_id": key.key_id,
        "user_id": data["user_id"],
        "consumer_key": key.consumer_key,
        "consumer_secret": key.consumer_secret,
        "key_permissions": key.permissions,
    }
    try:
        async with httpx.AsyncClient(timeout=CALLBACK_TIMEOUT) as client:
            answer = await client.post(formatted_url(data["callback_url"]), json=payload)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200


async def _grant(data: dict[str, str], store: Store, simulator: Simulator) -> Response:
    key = _create_key(store, data, simulator)
    if not await _deliver(key, data):
        with simulator.world.lock:
            store.issued_keys.pop(key.consumer_key, None)
        raise _Denied(
            "An error occurred in the request and at the time were unable to send the consumer data"
        )
    return RedirectResponse(_return_to(data, success=True), status_code=302)


@router.get("/authorize")
async def authorize(request: Request, simulator: SimulatorDep) -> Response:
    """The grant page, the login page when no store is chosen, or ``sandbox_decision``."""
    query = dict(request.query_params)
    try:
        data = _validated(query)
        store = _store(query, simulator)
        if store is None:
            return _login_page(query, simulator)
        decision = query.get("sandbox_decision")
        if decision == "approve":
            return await _grant(data, store, simulator)
        if decision == "deny":
            return RedirectResponse(_return_to(data, success=False), status_code=302)
        if decision is not None:
            raise _Denied("sandbox_decision must be approve or deny")
        return _grant_page(data, store, simulator)
    except _Denied as denied:
        return _error_page(str(denied))


@router.get("/access_granted")
async def access_granted(request: Request, simulator: SimulatorDep) -> Response:
    """The grant page's Approve link: create the key, deliver it, send the manager back."""
    query = dict(request.query_params)
    try:
        data = _validated(query)
        store = _store(query, simulator)
        if store is None:
            raise _Denied("You do not have permission to access this page")
        given = query.get("wc_auth_nonce", "")
        if not hmac.compare_digest(given.encode(), _nonce(simulator, store, data).encode()):
            raise _Denied("Invalid nonce verification")
        return await _grant(data, store, simulator)
    except _Denied as denied:
        return _error_page(str(denied))
