"""REST API keys: HTTP Basic, ``consumer_key``/``consumer_secret`` query params or OAuth 1.0a.

Real sites take Basic and query keys over HTTPS only and demand OAuth 1.0a over plain HTTP;
the sandbox serves loopback over plain HTTP and accepts all three.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from fastapi import Request

from returnbridge.sandbox.woocommerce.errors import WooError
from returnbridge.sandbox.woocommerce.oauth import oauth_params, verify
from returnbridge.sandbox.woocommerce.state import ApiKey, Store, World


def _credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        key, sep, secret = decoded.partition(":")
        return (key, secret) if sep else None
    query_key = request.query_params.get("consumer_key")
    query_secret = request.query_params.get("consumer_secret")
    if query_key is not None and query_secret is not None:
        return query_key, query_secret
    return None


_REFUSALS = {
    "view": "Sorry, you cannot list resources.",
    "create": "Sorry, you are not allowed to create resources.",
}


def _oauth_store(request: Request, world: World, now: float) -> tuple[Store, ApiKey] | None:
    params = oauth_params(request.query_params.multi_items(), request.headers.get("Authorization"))
    if params is None:
        return None
    with world.lock:
        store = world.store_for_key(params["oauth_consumer_key"])
        key = store.api_key(params["oauth_consumer_key"]) if store else None
        if store is None or key is None:
            raise WooError(401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
        url = str(request.url.replace(query=""))
        verify(
            store,
            secret=key.consumer_secret,
            method=request.method,
            url=url,
            params=params,
            now=now,
        )
    return store, key


def authenticate(request: Request, world: World, *, action: str, now: float) -> Store:
    """The store whose key authorises the call; ``action`` is ``view`` or ``create``."""
    signed = _oauth_store(request, world, now)
    if signed is not None:
        return _permitted(*signed, action)
    credentials = _credentials(request)
    if credentials is None:
        raise WooError(401, f"woocommerce_rest_cannot_{action}", _REFUSALS[action])
    consumer_key, secret = credentials
    with world.lock:
        store = world.store_for_key(consumer_key)
        key = store.api_key(consumer_key) if store else None
    if store is None or key is None:
        raise WooError(401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
    if not hmac.compare_digest(key.consumer_secret.encode(), secret.encode()):
        raise WooError(401, "woocommerce_rest_authentication_error", "Consumer secret is invalid.")
    return _permitted(store, key, action)


def _permitted(store: Store, key: ApiKey, action: str) -> Store:
    needed = "read" if action == "view" else "write"
    if key.permissions not in (needed, "read_write"):
        raise WooError(
            401,
            "woocommerce_rest_authentication_error",
            f"The API key provided does not have {needed} permissions.",
        )
    return store
