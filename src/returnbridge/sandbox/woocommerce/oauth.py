"""OAuth 1.0a one-legged request signing, checked the way WooCommerce core does it.

Parameters come from the query string merged with an ``Authorization: OAuth ...`` header; the
JSON body is not signed. Base string: ``METHOD&enc(url without query)&enc(sorted k=v joined by
&)``; key: ``consumer_secret&``; HMAC-SHA1 or HMAC-SHA256; timestamps within 15 minutes;
a nonce is refused once used with the same key. Array parameters (``status[]``) are signed as
sent, not in PHP's indexed form.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote, unquote

from returnbridge.sandbox.woocommerce.errors import WooError
from returnbridge.sandbox.woocommerce.state import Store

REQUIRED = (
    "oauth_consumer_key",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
)
TIMESTAMP_WINDOW = 15 * 60
_ALGORITHMS = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}


def _refuse(message: str) -> WooError:
    return WooError(401, "woocommerce_rest_authentication_error", message)


def encode(value: str) -> str:
    """RFC 3986 percent-encoding (``~`` stays)."""
    return quote(value, safe="~")


def parse_header(header: str) -> dict[str, str]:
    """The ``key="value"`` pairs of an ``Authorization: OAuth ...`` header."""
    params: dict[str, str] = {}
    for part in header.removeprefix("OAuth ").split(","):
        key, sep, value = part.strip().partition("=")
        if sep and key.startswith("oauth_"):
            params[unquote(key)] = unquote(value.strip().strip('"'))
    return params


def oauth_params(query: list[tuple[str, str]], header: str | None) -> dict[str, str] | None:
    """Every signed parameter, or None when the call does not try OAuth at all."""
    params = dict(query)
    if header and header.startswith("OAuth "):
        params |= parse_header(header)
    present = [name for name in REQUIRED if params.get(name)]
    if not present:
        return None
    missing = [name for name in REQUIRED if not params.get(name)]
    if missing:
        raise _refuse(f"Missing OAuth parameter {', '.join(missing)}")
    return params


def signature(method: str, url: str, params: dict[str, str], secret: str) -> str:
    """The base64 signature of a request with these parameters (``oauth_signature`` left out)."""
    algorithm = _ALGORITHMS[params["oauth_signature_method"]]
    pairs = sorted((encode(k), encode(v)) for k, v in params.items() if k != "oauth_signature")
    query = "&".join(f"{k}={v}" for k, v in pairs)
    base = "&".join([method.upper(), encode(url), encode(query)])
    digest = hmac.new(f"{secret}&".encode(), base.encode(), algorithm).digest()
    return base64.b64encode(digest).decode()


def verify(
    store: Store, *, secret: str, method: str, url: str, params: dict[str, str], now: float
) -> None:
    """Accept the signature, timestamp and nonce, or raise the error WooCommerce sends."""
    if params["oauth_signature_method"] not in _ALGORITHMS:
        raise _refuse("Signature method is invalid.")
    expected = signature(method, url, params, secret)
    given = params["oauth_signature"].replace(" ", "+")
    if not hmac.compare_digest(expected, given):
        raise _refuse("Invalid signature - provided signature does not match.")
    try:
        timestamp = int(params["oauth_timestamp"])
    except ValueError as exc:
        raise _refuse("Invalid timestamp.") from exc
    if abs(timestamp - now) > TIMESTAMP_WINDOW:
        raise _refuse("Invalid timestamp.")
    nonce = params["oauth_nonce"]
    if nonce in store.used_nonces:
        raise _refuse("Invalid nonce - nonce has already been used.")
    store.used_nonces.add(nonce)
