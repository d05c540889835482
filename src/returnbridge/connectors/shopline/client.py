"""Raw HTTP to one SHOPLINE store: `{store}/admin/openapi/v20251201/...`, Bearer token.

Every request first takes a slot in the connection's `LeakyBucket`; a 429 (nothing was done)
is retried in-process a few times after the wait SHOPLINE names. Every call is logged with
SHOPLINE's `traceId` response header, and every error carries it (`errors.refine`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from returnbridge.connectors.base.http import HttpMethod, JsonHttpClient, QueryParams
from returnbridge.connectors.base.signing import header
from returnbridge.connectors.shopline.errors import LOCAL_ID_PREFIX, STATUS_RULES, refine
from returnbridge.connectors.shopline.limits import LeakyBucket
from returnbridge.domain.errors import ConnectorError, RateLimited
from returnbridge.observability import get_logger

API_VERSION = "v20251201"
API_PATH = f"/admin/openapi/{API_VERSION}"
TRACE_HEADER = "traceId"
CONTENT_TYPE = "application/json; charset=utf-8"

log = get_logger(__name__)

_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?', re.IGNORECASE)


def store_root(base_url: str) -> str:
    """`https://{handle}.myshopline.com` for a bare domain or handle; an explicit scheme (a
    loopback sandbox, `http://127.0.0.1:PORT/stores/{handle}`) is kept, and a pasted API root
    (`.../admin/openapi/v2025...`) is taken back to the store."""
    url = base_url.strip().rstrip("/")
    url = re.sub(r"/admin/openapi(/v\d{8})?$", "", url)
    if "://" not in url:
        url = f"https://{url}" if "." in url else f"https://{url}.myshopline.com"
    return url


def next_page_info(headers: Mapping[str, str]) -> str | None:
    """The `page_info` cursor of a `Link` header's `rel="next"` target, if any."""
    found = _NEXT.search(header(headers, "Link") or "")
    if not found:
        return None
    values = parse_qs(urlsplit(found.group(1)).query).get("page_info")
    return values[0] if values else None


def _shopline_request(request: httpx.Request) -> None:
    """httpx request hook for SHOPLINE calls: the JSON charset SHOPLINE documents, and no
    outgoing `traceId` (that header is SHOPLINE's answer, read back as the request id)."""
    if API_PATH not in request.url.path:
        return
    request.headers.pop(TRACE_HEADER, None)
    if request.headers.get("Content-Type", "").startswith("application/json"):
        request.headers["Content-Type"] = CONTENT_TYPE


def _local_id() -> str:
    return f"{LOCAL_ID_PREFIX}{uuid.uuid4().hex}"


@dataclass(frozen=True, slots=True)
class Answer:
    """A decoded successful answer and what its headers say."""

    body: Any
    trace_id: str | None
    next_page_info: str | None


class ShoplineClient:
    """JSON over HTTP to one store; paths are relative to the pinned API root (`orders.json`)."""

    def __init__(
        self,
        base_url: str,
        access_token: str,
        *,
        http: httpx.Client | None = None,
        limiter: LeakyBucket | None = None,
        timeout: float | httpx.Timeout = 30.0,
    ) -> None:
        self.limiter = limiter if limiter is not None else LeakyBucket()
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(timeout=timeout)
        hooks = self._http.event_hooks
        if _shopline_request not in hooks.get("request", []):
            self._http.event_hooks = {
                **hooks,
                "request": [*hooks.get("request", []), _shopline_request],
            }
        self.store_url = store_root(base_url)
        self.endpoint = f"{self.store_url}{API_PATH}"
        self._json = JsonHttpClient(
            self.endpoint,
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=timeout,
            http=self._http,
            secrets=(access_token,),
            status_rules=STATUS_RULES,
            request_id_header=TRACE_HEADER,
            new_request_id=_local_id,
        )

    def __repr__(self) -> str:
        return f"ShoplineClient({self.store_url!r}, version={API_VERSION!r})"

    def call(
        self,
        method: HttpMethod,
        path: str,
        *,
        payload: Mapping[str, Any] | Sequence[Any] | None = None,
        params: QueryParams | None = None,
        writes: bool = False,
    ) -> Answer:
        """One call (429s waited out and retried a few times); failures are typed errors."""
        operation = f"{method} {path}"
        attempt = 0
        while True:
            self.limiter.wait_turn()
            try:
                response = self._json.request_json(
                    method, path, payload=payload, params=params, writes=writes
                )
            except RateLimited as error:
                wait = self.limiter.throttled(error.retry_after)
                self._log(operation, error.status, error.request_id, retry_after=wait)
                attempt += 1
                if attempt > self.limiter.max_retries:
                    refined = refine(error, operation=operation)
                    if isinstance(refined, RateLimited):
                        refined.retry_after = wait
                    raise refined from None
                self.limiter.backoff(wait)
                continue
            except ConnectorError as error:
                self._log(operation, error.status, error.request_id, error=error.code)
                raise refine(error, operation=operation) from None
            trace = header(response.headers, TRACE_HEADER)
            self._log(operation, response.status, trace)
            return Answer(response.body, trace, next_page_info(response.headers))

    def _log(self, operation: str, status: int | None, trace: str | None, **extra: Any) -> None:
        log.info(
            "shopline_call",
            operation=operation,
            status=status,
            trace_id=trace,
            store=self.store_url,
            **extra,
        )

    def get(self, path: str, *, params: QueryParams | None = None) -> Answer:
        return self.call("GET", path, params=params)

    def post(self, path: str, payload: Mapping[str, Any], *, writes: bool) -> Answer:
        return self.call("POST", path, payload=payload, writes=writes)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()
