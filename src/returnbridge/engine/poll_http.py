"""One page from a vendor's endpoint: auth, the request for each pagination style, the answer.

Errors are classified here, where they enter, into the connector error kinds (a table by
status), with our own sentences: a vendor's body or a secret never reaches a message.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import jmespath

from returnbridge.domain.errors import (
    AuthError,
    ConnectorError,
    NotFound,
    PermanentError,
    RateLimited,
    TransientError,
)
from returnbridge.engine.poll_config import AuthKind, CursorKind, Pagination, PollConfig

_BY_STATUS: dict[int, type[ConnectorError]] = {
    401: AuthError,
    403: AuthError,
    404: NotFound,
    408: TransientError,
    425: TransientError,
    429: RateLimited,
}


def classify(status: int) -> type[ConnectorError]:
    """What a vendor's HTTP status means for the sync: retry later, or fix something first."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return TransientError if status >= 500 else PermanentError


class HmacAuth(httpx.Auth):
    """Signs each request: HMAC-SHA256 over ``"{timestamp}.{METHOD}.{path}?{query}"``."""

    def __init__(
        self,
        secret: str,
        *,
        signature_header: str,
        timestamp_header: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret.encode()
        self._signature_header = signature_header
        self._timestamp_header = timestamp_header
        self._clock = clock

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        stamp = str(int(self._clock()))
        message = f"{stamp}.{request.method}.{request.url.raw_path.decode('ascii')}".encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).hexdigest()
        request.headers[self._timestamp_header] = stamp
        request.headers[self._signature_header] = f"sha256={digest}"
        yield request


class BearerAuth(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


def build_auth(config: PollConfig, secrets: dict[str, Any]) -> httpx.Auth | None:
    """The httpx auth for the source's auth kind (``None``: no auth)."""
    if config.auth is AuthKind.BEARER:
        return BearerAuth(str(secrets["token"]))
    if config.auth is AuthKind.BASIC:
        return httpx.BasicAuth(str(secrets["username"]), str(secrets["password"]))
    if config.auth is AuthKind.HMAC:
        return HmacAuth(
            str(secrets["secret"]),
            signature_header=config.signature_header,
            timestamp_header=config.timestamp_header,
        )
    return None


@dataclass(frozen=True, slots=True)
class Page:
    """One page: its records, where the next page is (``None``: this was the last) and, for an
    opaque cursor, the cursor to keep."""

    records: list[Any]
    next_position: str | None
    feed_cursor: str | None = None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _same_origin(url: httpx.URL, base: httpx.URL) -> bool:
    return (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)


def _request(
    config: PollConfig, *, since: datetime | None, position: str | None
) -> tuple[str, dict[str, str]]:
    if config.pagination is Pagination.LINK and position is not None:
        return position, {}
    params: dict[str, str] = {config.page_size_param: str(config.page_size)}
    if config.cursor is CursorKind.UPDATED_SINCE and since is not None:
        params[config.since_param] = _iso(since)
    if config.pagination is Pagination.PAGE:
        params[config.page_param] = position or "1"
    elif config.pagination is Pagination.CURSOR and position:
        params[config.cursor_param] = position
    return config.url, params


def _records(config: PollConfig, body: Any, page_number: int) -> list[Any]:
    found = body if isinstance(body, list) else jmespath.search(config.records_path, body)
    if not isinstance(found, list):
        raise PermanentError(
            "VENDOR_BODY", f"page {page_number}: no list of records at {config.records_path!r}"
        )
    return found


def fetch_page(
    client: httpx.Client,
    config: PollConfig,
    *,
    since: datetime | None,
    position: str | None,
    page_number: int,
    auth: httpx.Auth | None,
) -> Page:
    """Fetch the page at ``position`` (``None``: the first) and say where the next one is."""
    url, params = _request(config, since=since, position=position)
    try:
        # An empty `params` would wipe the query of a next-page link.
        response = client.get(url, params=params or None, auth=auth or httpx.USE_CLIENT_DEFAULT)
    except httpx.TimeoutException as exc:
        raise TransientError("VENDOR_TIMEOUT", f"page {page_number}: vendor timed out") from exc
    except httpx.TransportError as exc:
        raise TransientError(
            "VENDOR_UNREACHABLE", f"page {page_number}: vendor unreachable"
        ) from exc
    except (httpx.InvalidURL, httpx.HTTPError) as exc:
        raise PermanentError("VENDOR_URL", f"page {page_number}: cannot request the URL") from exc
    if response.status_code >= 400:
        kind = classify(response.status_code)
        raise kind(
            f"VENDOR_HTTP_{response.status_code}",
            f"page {page_number}: vendor answered HTTP {response.status_code}",
            status=response.status_code,
        )
    try:
        body = response.json()
    except ValueError as exc:
        raise PermanentError("VENDOR_BODY", f"page {page_number}: body is not JSON") from exc
    records = _records(config, body, page_number)
    return Page(records, *_next(config, body, response, records, position))


def _next(
    config: PollConfig,
    body: Any,
    response: httpx.Response,
    records: list[Any],
    position: str | None,
) -> tuple[str | None, str | None]:
    """(next position, cursor to keep) for the page just read."""
    if config.pagination is Pagination.PAGE:
        following = str(int(position or "1") + 1)
        return (following if len(records) >= config.page_size else None), None
    if config.pagination is Pagination.LINK:
        link = response.links.get("next", {}).get("url")
        if not link:
            return None, None
        following_url = response.url.join(link)
        if not _same_origin(following_url, httpx.URL(config.url)):
            raise PermanentError("VENDOR_LINK", "the next-page link leaves the vendor's host")
        return str(following_url), None
    cursor = body.get(config.next_cursor_field) if isinstance(body, dict) else None
    cursor = str(cursor) if cursor else None
    if config.cursor is CursorKind.OPAQUE:
        ended = not records or bool(body.get(config.end_field)) or cursor is None
        return (None if ended else cursor), (cursor or position)
    return cursor, None
