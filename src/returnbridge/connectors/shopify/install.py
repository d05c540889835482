"""Installing our Shopify app on a merchant's shop: the OAuth authorization code grant.

The merchant is sent to the shop's ``/admin/oauth/authorize`` page; approving it sends the
browser back to our redirect URI with ``code``, ``shop``, ``state``, ``timestamp`` (and
``host``) signed by ``hmac``; the code is then exchanged, once, for an offline access token at
``/admin/oauth/access_token``. A connection then uses that token like any other.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from returnbridge.domain.errors import AuthError, DomainError, PermanentError, TransientError

_SHOP_DOMAIN = re.compile(r"[a-z0-9][a-z0-9-]*\.myshopify\.com")


def normalise_shop(value: str) -> str:
    """The shop's ``{name}.myshopify.com`` host, from what a person types or Shopify sends.

    A scheme and trailing slash are dropped and case is folded; anything else (a path, a
    port, another domain) is refused, so the shop can never point our calls elsewhere.
    """
    text = value.strip().lower()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.rstrip("/")
    if not _SHOP_DOMAIN.fullmatch(text):
        raise DomainError(
            "INVALID_SHOP_DOMAIN",
            "the shop must be its myshopify.com domain, like acme.myshopify.com",
            field="shop",
        )
    return text


def admin_base_url(shop: str, base_url: str | None = None) -> str:
    """Where the shop's admin answers: ``https://{shop}``, or ``base_url`` (a sandbox)."""
    return (base_url or f"https://{shop}").rstrip("/")


def authorize_url(
    shop: str,
    *,
    client_id: str,
    scopes: str,
    redirect_uri: str,
    state: str,
    base_url: str | None = None,
) -> str:
    """The install page to send the merchant to (offline access: no ``grant_options[]``).

    With ``base_url`` (a host serving several shops, like the sandbox) the shop is named in
    a ``shop`` parameter as well.
    """
    params = {
        "client_id": client_id,
        "scope": scopes,
        "redirect_uri": redirect_uri,
        "state": state,
    }
    if base_url:
        params["shop"] = shop
    return f"{admin_base_url(shop, base_url)}/admin/oauth/authorize?{urlencode(params)}"


def query_signature(params: Mapping[str, str], secret: str) -> str:
    """Shopify's ``hmac`` of a redirect: hex HMAC-SHA256 with the app's client secret over
    every other parameter as ``key=value``, sorted, joined by ``&``."""
    message = "&".join(f"{key}={value}" for key, value in sorted(params.items()) if key != "hmac")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify_callback(params: Mapping[str, str], secret: str) -> bool:
    """Whether the redirect's ``hmac`` is Shopify's signature of its other parameters."""
    given = params.get("hmac", "")
    expected = query_signature(params, secret)
    return hmac.compare_digest(given.encode(), expected.encode())


@dataclass(frozen=True, slots=True)
class InstalledToken:
    """What the code was exchanged for; ``repr`` keeps the token out of logs."""

    access_token: str
    scope: str

    def __repr__(self) -> str:
        return f"InstalledToken(scope={self.scope!r})"


def exchange_code(
    shop: str,
    code: str,
    *,
    client_id: str,
    client_secret: str,
    base_url: str | None = None,
    timeout: float = 10.0,
    http: httpx.Client | None = None,
) -> InstalledToken:
    """Trade the callback's code for the shop's offline access token (one POST, no retry:
    a code is spent by the first attempt that reaches Shopify)."""
    url = f"{admin_base_url(shop, base_url)}/admin/oauth/access_token"
    form = {"client_id": client_id, "client_secret": client_secret, "code": code}
    client = http or httpx.Client(timeout=timeout)
    try:
        response = client.post(url, data=form, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise TransientError(
            "SHOPIFY_UNREACHABLE",
            f"the shop did not answer the code exchange ({type(exc).__name__})",
        ) from None
    finally:
        if http is None:
            client.close()
    return _token(response)


def _token(response: httpx.Response) -> InstalledToken:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 500:
        raise TransientError(
            "SHOPIFY_UNAVAILABLE",
            f"the shop answered the code exchange with HTTP {response.status_code}",
            status=response.status_code,
        )
    if response.status_code != 200 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        kind = AuthError if error == "invalid_client" else PermanentError
        reason = f" ({error})" if isinstance(error, str) else ""
        raise kind(
            "SHOPIFY_CODE_REFUSED",
            f"the shop refused the code exchange with HTTP {response.status_code}{reason}",
            status=response.status_code,
        )
    token, scope = body.get("access_token"), body.get("scope")
    if not isinstance(token, str) or not token:
        raise PermanentError("SHOPIFY_NO_TOKEN", "the code exchange answered no access token")
    return InstalledToken(token, scope if isinstance(scope, str) else "")
