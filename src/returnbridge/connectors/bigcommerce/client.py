"""Raw HTTP to one BigCommerce store: `/stores/{hash}/v2|v3/...`, `X-Auth-Token`, rate window.

Every request first passes the connection's `WindowLimiter`; every answer (429s included)
reports the window back to it through an httpx response hook. A 429 is retried in-process a
few times after the wait BigCommerce names (nothing was processed); everything else is raised
as the typed error of `errors.py` for the engine to decide.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from returnbridge.connectors.base.http import HttpMethod, JsonHttpClient, QueryParams
from returnbridge.connectors.bigcommerce.errors import STATUS_RULES, refine
from returnbridge.connectors.bigcommerce.limits import WindowLimiter
from returnbridge.domain.errors import ConnectorError, RateLimited

DEFAULT_BASE_URL = "https://api.bigcommerce.com"


class BigCommerceClient:
    """JSON over HTTP to one store; paths are relative to `/stores/{hash}/` (`v2/orders`)."""

    def __init__(
        self,
        base_url: str,
        store_hash: str,
        access_token: str,
        *,
        http: httpx.Client | None = None,
        limiter: WindowLimiter | None = None,
        timeout: float | httpx.Timeout = 30.0,
    ) -> None:
        self.limiter = limiter if limiter is not None else WindowLimiter()
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(timeout=timeout)
        hooks = self._http.event_hooks
        if self.limiter.observe_response not in hooks.get("response", []):
            # One hook per limiter even when a pooled client is shared by many connectors.
            self._http.event_hooks = {
                **hooks,
                "response": [*hooks.get("response", []), self.limiter.observe_response],
            }
        self.store_hash = store_hash
        self._json = JsonHttpClient(
            f"{(base_url or DEFAULT_BASE_URL).rstrip('/')}/stores/{store_hash}",
            headers={"X-Auth-Token": access_token},
            timeout=timeout,
            http=self._http,
            secrets=(access_token,),
            status_rules=STATUS_RULES,
        )

    def request(
        self,
        method: HttpMethod,
        path: str,
        *,
        payload: Mapping[str, Any] | Sequence[Any] | None = None,
        params: QueryParams | None = None,
        writes: bool = False,
    ) -> Any:
        """The decoded body (None for 204); 429s retried after the window's reset."""
        attempt = 0
        while True:
            self.limiter.wait_turn()
            try:
                response = self._json.request_json(
                    method, path, payload=payload, params=params, writes=writes
                )
            except RateLimited as error:
                attempt += 1
                if attempt > self.limiter.max_retries:
                    raise _with_wait(
                        error, self.limiter.last_retry_after, operation=f"{method} {path}"
                    ) from None
                self.limiter.backoff()
                continue
            except ConnectorError as error:
                raise refine(error, operation=f"{method} {path}") from None
            return response.body

    def get(self, path: str, *, params: QueryParams | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, payload: Mapping[str, Any], *, writes: bool) -> Any:
        return self.request("POST", path, payload=payload, writes=writes)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()


def _with_wait(error: RateLimited, seconds: float, *, operation: str) -> ConnectorError:
    """The last 429, waiting what BigCommerce named (its window's reset)."""
    refined = refine(error, operation=operation)
    if isinstance(refined, RateLimited):
        refined.retry_after = seconds
    return refined
