"""REST API key authentication: HTTP Basic, OAuth 1.0a one-legged, or query-string keys.

WooCommerce takes a consumer key and secret. Over HTTPS it reads them from HTTP Basic; over
plain HTTP it refuses them in the clear and requires OAuth 1.0a one-legged signing
(HMAC-SHA256 here, signature parameters in the query string, the JSON body not signed). Hosts
that strip the `Authorization` header need the keys as `consumer_key`/`consumer_secret` query
parameters (the `auth: "query"` setting). Secrets never appear in a repr, a log or an error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol
from urllib.parse import quote, urlsplit, urlunsplit

from returnbridge.domain.errors import PermanentError

Params = list[tuple[str, str]]


class AuthMode(StrEnum):
    """How requests carry the key; `AUTO` is Basic over https and OAuth 1.0a over http."""

    AUTO = "auto"
    BASIC = "basic"
    OAUTH1 = "oauth1"
    QUERY = "query"


@dataclass(frozen=True, slots=True)
class Credentials:
    """A REST API key pair (`ck_...`, `cs_...`); the secret is kept out of the repr."""

    consumer_key: str
    consumer_secret: str = field(repr=False)

    @classmethod
    def from_mapping(cls, credentials: Mapping[str, object]) -> Credentials:
        key = credentials.get("consumer_key")
        secret = credentials.get("consumer_secret")
        if not isinstance(key, str) or not key or not isinstance(secret, str) or not secret:
            raise PermanentError(
                "MISSING_CREDENTIALS",
                "woocommerce connection needs consumer_key and consumer_secret",
            )
        return cls(key, secret)


def choose_mode(site_url: str, setting: object = None) -> AuthMode:
    """The mode for `site_url` and the connection's `auth` setting (None: auto).

    Basic over plain http would send the secret in the clear and real sites refuse it, so an
    explicit `basic` on an http URL is a configuration error; `query` is allowed on either
    scheme (real sites accept it on https only) so a stripped header can be worked around.
    """
    try:
        mode = AuthMode(str(setting).lower()) if setting not in (None, "") else AuthMode.AUTO
    except ValueError:
        choices = ", ".join(m.value for m in AuthMode)
        raise PermanentError(
            "INVALID_SETTING", f"woocommerce auth setting must be one of {choices}"
        ) from None
    secure = urlsplit(site_url).scheme.lower() == "https"
    if mode is AuthMode.AUTO:
        return AuthMode.BASIC if secure else AuthMode.OAUTH1
    if mode is AuthMode.BASIC and not secure:
        raise PermanentError(
            "INSECURE_AUTH", "HTTP Basic needs an https site URL; use oauth1 over plain http"
        )
    return mode


class RequestSigner(Protocol):
    """Adds a key's proof to one request: headers for every call, query params per call."""

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def secrets(self) -> tuple[str, ...]: ...

    def params(self, method: str, url: str, params: Sequence[tuple[str, str]]) -> Params: ...


@dataclass(frozen=True, slots=True)
class BasicAuth:
    """`Authorization: Basic base64(key:secret)` (https only)."""

    credentials: Credentials = field(repr=False)
    headers: Mapping[str, str] = field(init=False, repr=False)
    secrets: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        pair = f"{self.credentials.consumer_key}:{self.credentials.consumer_secret}"
        token = base64.b64encode(pair.encode()).decode("ascii")
        object.__setattr__(self, "headers", {"Authorization": f"Basic {token}"})
        object.__setattr__(self, "secrets", (self.credentials.consumer_secret, token))

    def params(self, method: str, url: str, params: Sequence[tuple[str, str]]) -> Params:
        return list(params)


@dataclass(frozen=True, slots=True)
class QueryAuth:
    """`consumer_key` and `consumer_secret` in the query string (hosts stripping the header)."""

    credentials: Credentials = field(repr=False)
    headers: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "secrets", (self.credentials.consumer_secret,))
        _redact_httpx_log()

    def params(self, method: str, url: str, params: Sequence[tuple[str, str]]) -> Params:
        return [
            *params,
            ("consumer_key", self.credentials.consumer_key),
            ("consumer_secret", self.credentials.consumer_secret),
        ]


def new_nonce() -> str:
    return secrets.token_hex(16)


def oauth_encode(value: str) -> str:
    """RFC 3986 percent-encoding, as OAuth 1.0a signs (`~` unreserved)."""
    return quote(value, safe="~")


def normalised_url(url: str) -> str:
    """The base string URI: lower-case scheme and host, no default port, no query."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = (
        host
        if port is None or (scheme, port) in {("http", 80), ("https", 443)}
        else (f"{host}:{port}")
    )
    return urlunsplit((scheme, netloc, parts.path, "", ""))


def oauth_signature(
    method: str, url: str, params: Sequence[tuple[str, str]], consumer_secret: str
) -> str:
    """Base64 HMAC-SHA256 of `METHOD&enc(url)&enc(sorted params)` with `secret&` as key."""
    pairs = sorted((oauth_encode(k), oauth_encode(v)) for k, v in params)
    query = "&".join(f"{k}={v}" for k, v in pairs)
    base = "&".join([method.upper(), oauth_encode(normalised_url(url)), oauth_encode(query)])
    digest = hmac.new(f"{consumer_secret}&".encode(), base.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True, slots=True)
class OAuth1:
    """One-legged OAuth 1.0a (no token), HMAC-SHA256, parameters in the query string.

    `clock` (seconds) and `nonce` are injectable so a test can fix them; WooCommerce accepts a
    timestamp within 15 minutes and each nonce once per key.
    """

    credentials: Credentials = field(repr=False)
    clock: Callable[[], float] = time.time
    nonce: Callable[[], str] = new_nonce
    headers: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "secrets", (self.credentials.consumer_secret,))

    def params(self, method: str, url: str, params: Sequence[tuple[str, str]]) -> Params:
        oauth = [
            ("oauth_consumer_key", self.credentials.consumer_key),
            ("oauth_nonce", self.nonce()),
            ("oauth_signature_method", "HMAC-SHA256"),
            ("oauth_timestamp", str(int(self.clock()))),
        ]
        signed = [*params, *oauth]
        signature = oauth_signature(method, url, signed, self.credentials.consumer_secret)
        return [*signed, ("oauth_signature", signature)]


def signer_for(
    mode: AuthMode,
    credentials: Credentials,
    *,
    clock: Callable[[], float] = time.time,
    nonce: Callable[[], str] = new_nonce,
) -> RequestSigner:
    """The signer of a chosen mode (`AUTO` must have been resolved by `choose_mode`)."""
    if mode is AuthMode.BASIC:
        return BasicAuth(credentials)
    if mode is AuthMode.QUERY:
        return QueryAuth(credentials)
    if mode is AuthMode.OAUTH1:
        return OAuth1(credentials, clock=clock, nonce=nonce)
    raise ValueError(f"resolve {mode} with choose_mode first")


_SECRET_PARAM = re.compile(r"(consumer_secret=)[^&\s\"']+")


class _QuerySecretFilter(logging.Filter):
    """Masks `consumer_secret=` in httpx's request log lines (it logs full URLs at INFO)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "consumer_secret=" in message:
            record.msg = _SECRET_PARAM.sub(r"\1[REDACTED]", message)
            record.args = None
        return True


_FILTER = _QuerySecretFilter()


def _redact_httpx_log() -> None:
    """Install the filter once on the `httpx` logger (query-string keys only)."""
    logger = logging.getLogger("httpx")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
