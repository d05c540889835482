"""A small JSON-over-HTTP client that every connector builds on.

It owns what is the same for all platforms: timeouts, a request id on every call, secrets kept
out of error messages, and turning HTTP failures into the domain error classes through a status
table that each platform extends. It does not retry; rate-limit retries live in `limits.py` and
everything else is the engine's decision.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx

from returnbridge.domain.errors import (
    AuthError,
    ConnectorError,
    NotFound,
    PermanentError,
    RateLimited,
    TransientError,
)

REDACTED = "[REDACTED]"
_EXCERPT = 500


@dataclass(frozen=True, slots=True)
class StatusRule:
    """HTTP statuses that map to one error class and a stable code."""

    statuses: frozenset[int]
    error: type[ConnectorError]
    code: str

    @classmethod
    def of(cls, statuses: Iterable[int], error: type[ConnectorError], code: str) -> StatusRule:
        return cls(frozenset(statuses), error, code)


# First matching rule wins; a platform prepends its own rules to this table.
DEFAULT_STATUS_RULES: tuple[StatusRule, ...] = (
    StatusRule.of({401}, AuthError, "UNAUTHORIZED"),
    StatusRule.of({403}, AuthError, "FORBIDDEN"),
    StatusRule.of({404}, NotFound, "NOT_FOUND"),
    StatusRule.of({408}, TransientError, "REQUEST_TIMEOUT"),
    StatusRule.of({429}, RateLimited, "RATE_LIMITED"),
    StatusRule.of(range(500, 600), TransientError, "SERVER_ERROR"),
    StatusRule.of(range(400, 500), PermanentError, "CLIENT_ERROR"),
)


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every non-empty secret in `text` with a fixed marker."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def parse_retry_after(value: str | None, *, now: Callable[[], float] | None = None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds, possibly fractional, or an HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        current = now() if now is not None else time.time()
        seconds = when.timestamp() - current
    return max(seconds, 0.0)


def error_for_status(
    status: int,
    *,
    rules: Iterable[StatusRule] = DEFAULT_STATUS_RULES,
    message: str = "",
    request_id: str | None = None,
    retry_after: float | None = None,
    ambiguous: bool = False,
    **details: Any,
) -> ConnectorError | None:
    """The error a response status stands for, or None for a success status."""
    if status < 400:
        return None
    rule = next((r for r in rules if status in r.statuses), None)
    error_class: type[ConnectorError] = rule.error if rule else TransientError
    code = rule.code if rule else "HTTP_ERROR"
    text = message or f"HTTP {status}"
    if issubclass(error_class, RateLimited):
        return error_class(
            code,
            text,
            retry_after=retry_after if retry_after is not None else 1.0,
            status=status,
            request_id=request_id,
            ambiguous=False,
            **details,
        )
    if issubclass(error_class, TransientError):
        details["ambiguous"] = ambiguous
    return error_class(code, text, status=status, request_id=request_id, **details)


HttpMethod = Literal["GET", "POST", "PUT", "DELETE"]
QueryParams = Mapping[str, str | int | Sequence[str | int]] | tuple[tuple[str, str | int], ...]
"""Query parameters: a mapping (a sequence value repeats the key) or ordered pairs."""


@dataclass(frozen=True, slots=True)
class JsonResponse:
    """A decoded successful response."""

    status: int
    body: Any
    request_id: str
    headers: Mapping[str, str] = field(default_factory=dict)


def _new_request_id() -> str:
    return uuid.uuid4().hex


class JsonHttpClient:
    """POSTs JSON and returns decoded JSON; every failure becomes a `ConnectorError`.

    `http` lets tests and callers share a configured `httpx.Client` (it is then not closed
    here). Strings in `secrets` never appear in raised messages or details.
    """

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout = 30.0,
        http: httpx.Client | None = None,
        secrets: Iterable[str] = (),
        status_rules: Iterable[StatusRule] = DEFAULT_STATUS_RULES,
        request_id_header: str = "X-Request-Id",
        new_request_id: Callable[[], str] = _new_request_id,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = dict(headers or {})
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(timeout=self._timeout)
        self._secrets = tuple(s for s in secrets if s)
        self._rules = tuple(status_rules)
        self._request_id_header = request_id_header
        self._new_request_id = new_request_id

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def post_json(
        self, path: str, payload: Mapping[str, Any], *, writes: bool = False
    ) -> JsonResponse:
        """POST `payload` to `path`; `writes`: a failure may hide a committed write."""
        return self.request_json("POST", path, payload=payload, writes=writes)

    def get_json(self, path: str, *, params: QueryParams | None = None) -> JsonResponse:
        """GET `path` with query `params`; a read, so no failure hides a write."""
        return self.request_json("GET", path, params=params)

    def put_json(
        self,
        path: str,
        payload: Mapping[str, Any],
        *,
        params: QueryParams | None = None,
        writes: bool = True,
    ) -> JsonResponse:
        """PUT `payload` to `path`; by default a failure may hide a committed write."""
        return self.request_json("PUT", path, payload=payload, params=params, writes=writes)

    def request_json(
        self,
        method: HttpMethod,
        path: str,
        *,
        payload: Mapping[str, Any] | Sequence[Any] | None = None,
        params: QueryParams | None = None,
        writes: bool = False,
    ) -> JsonResponse:
        """Send `method` to `path` (query `params`, JSON `payload`) and decode the JSON answer.

        `writes`: a failure after sending may hide a committed write (the error says so).
        A 204 No Content decodes as None; any other answer must be JSON.
        """
        url = f"{self.base_url}/{path.lstrip('/')}" if path else self.base_url
        request_id = self._new_request_id()
        headers = {
            **self._headers,
            "Accept": "application/json",
            self._request_id_header: request_id,
        }
        content: str | None = None
        if payload is not None:
            headers["Content-Type"] = "application/json"
            content = json.dumps(payload)
        label = f"{method} {path}"
        try:
            response = self._http.request(
                method,
                url,
                params=params,
                content=content,
                headers=headers,
                timeout=self._timeout,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransientError(
                "CONNECT_FAILED",
                self.redact(f"{label}: could not connect ({type(exc).__name__})"),
                request_id=request_id,
                ambiguous=False,
            ) from None
        except httpx.TimeoutException as exc:
            raise TransientError(
                "TIMEOUT",
                self.redact(f"{label}: timed out ({type(exc).__name__})")
                + ("; the write may have been committed" if writes else ""),
                request_id=request_id,
                ambiguous=writes,
            ) from None
        except httpx.TransportError as exc:
            raise TransientError(
                "CONNECTION_LOST",
                self.redact(f"{label}: connection lost ({type(exc).__name__})"),
                request_id=request_id,
                ambiguous=writes,
            ) from None
        request_id = response.headers.get(self._request_id_header) or request_id
        if 300 <= response.status_code < 400:
            # Redirects are not followed: a moved shop domain needs a configuration change.
            location = self.redact(response.headers.get("Location", ""))
            raise PermanentError(
                "UNEXPECTED_REDIRECT",
                f"{label} -> HTTP {response.status_code} to {location or 'nowhere'}",
                status=response.status_code,
                request_id=request_id,
                location=location,
            )
        if response.status_code >= 400:
            excerpt = self.redact(response.text[:_EXCERPT])
            error = error_for_status(
                response.status_code,
                rules=self._rules,
                message=f"{label} -> HTTP {response.status_code}: {excerpt}".rstrip(": "),
                request_id=request_id,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                ambiguous=writes,
                body=excerpt,
            )
            assert error is not None
            raise error
        body: Any = None
        if response.status_code != 204:
            try:
                body = response.json()
            except ValueError:
                raise TransientError(
                    "INVALID_JSON",
                    f"{label} -> HTTP {response.status_code}: response is not JSON",
                    status=response.status_code,
                    request_id=request_id,
                    ambiguous=writes,
                ) from None
        return JsonResponse(
            status=response.status_code,
            body=body,
            request_id=request_id,
            headers=dict(response.headers),
        )

    def close(self) -> None:
        if self._owns_http:
            self._http.close()
