"""Raw REST calls to one WooCommerce site: API `wc/v3`, key authentication, pagination.

Built on the shared `JsonHttpClient` (timeouts, request ids, redaction, status table); this
adds the key's signature to every request, WordPress's list headers, and WooCommerce's error
codes (`errors.classify`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from returnbridge.connectors.base.http import HttpMethod, JsonHttpClient, JsonResponse
from returnbridge.connectors.woocommerce.auth import (
    AuthMode,
    Credentials,
    choose_mode,
    new_nonce,
    signer_for,
)
from returnbridge.connectors.woocommerce.errors import WOOCOMMERCE_STATUS_RULES, classify
from returnbridge.domain.errors import ConnectorError, TransientError

API_PATH = "/wp-json/wc/v3"
MAX_PER_PAGE = 100  # WordPress caps `per_page` at 100


def site_base_url(site_url: str) -> str:
    """`https://{site}` for a bare domain; an explicit scheme (a loopback sandbox) is kept, and
    a pasted API root (`.../wp-json/wc/v3`) is taken back to the site."""
    url = site_url.strip().rstrip("/")
    for suffix in (API_PATH, "/wp-json"):
        url = url.removesuffix(suffix)
    if "://" not in url:
        url = f"https://{url}"
    return url


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list and WordPress's totals (`X-WP-Total`, `X-WP-TotalPages`)."""

    items: list[Mapping[str, Any]]
    total: int | None
    total_pages: int | None


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            try:
                return int(value)
            except ValueError:
                return None
    return None


class WooCommerceClient:
    """JSON over httpx for one site's `wc/v3` API, signed with its REST API key."""

    def __init__(
        self,
        site_url: str,
        credentials: Credentials,
        *,
        auth: AuthMode | str | None = None,
        http: httpx.Client | None = None,
        timeout: float | httpx.Timeout = 30.0,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = new_nonce,
    ) -> None:
        self.site_url = site_base_url(site_url)
        self.endpoint = f"{self.site_url}{API_PATH}"
        self.auth_mode = choose_mode(self.site_url, auth)
        self._signer = signer_for(self.auth_mode, credentials, clock=clock, nonce=nonce)
        self._http = JsonHttpClient(
            self.endpoint,
            headers=self._signer.headers,
            timeout=timeout,
            http=http,
            secrets=self._signer.secrets,
            status_rules=WOOCOMMERCE_STATUS_RULES,
        )

    def __repr__(self) -> str:
        return f"WooCommerceClient({self.site_url!r}, auth={self.auth_mode.value!r})"

    def request(
        self,
        method: HttpMethod,
        path: str,
        *,
        params: Sequence[tuple[str, str]] = (),
        payload: Mapping[str, Any] | None = None,
        writes: bool = False,
    ) -> JsonResponse:
        """One signed call to `{site}/wp-json/wc/v3{path}`; failures are classified errors."""
        url = f"{self.endpoint}/{path.lstrip('/')}"
        signed = tuple(self._signer.params(method, url, params))
        try:
            return self._http.request_json(
                method, path, params=signed, payload=payload, writes=writes
            )
        except ConnectorError as error:
            raise classify(error, operation=f"{method} {path}", writes=writes) from None

    def get(self, path: str, params: Sequence[tuple[str, str]] = ()) -> Any:
        """The decoded body of a GET."""
        return self.request("GET", path, params=params).body

    def post(self, path: str, payload: Mapping[str, Any], *, writes: bool = True) -> Any:
        """The decoded body of a POST; by default a failure may hide a committed write."""
        return self.request("POST", path, payload=payload, writes=writes).body

    def page(
        self, path: str, params: Sequence[tuple[str, str]] = (), *, page: int, per_page: int
    ) -> Page:
        """One page of a list endpoint."""
        response = self.request(
            "GET", path, params=[*params, ("page", str(page)), ("per_page", str(per_page))]
        )
        if not isinstance(response.body, list):
            raise TransientError(
                "INVALID_RESPONSE",
                f"GET {path}: a list was expected",
                request_id=response.request_id,
                ambiguous=False,
            )
        return Page(
            items=[item for item in response.body if isinstance(item, Mapping)],
            total=_header_int(response.headers, "X-WP-Total"),
            total_pages=_header_int(response.headers, "X-WP-TotalPages"),
        )

    def pages(
        self,
        path: str,
        params: Sequence[tuple[str, str]] = (),
        *,
        per_page: int = MAX_PER_PAGE,
        max_pages: int | None = None,
    ) -> Iterator[Page]:
        """Pages 1, 2, ... until `X-WP-TotalPages` (or a short page, or `max_pages`)."""
        number = 1
        while True:
            current = self.page(path, params, page=number, per_page=per_page)
            yield current
            last = current.total_pages if current.total_pages is not None else None
            if last is not None and number >= last:
                return
            if last is None and len(current.items) < per_page:
                return
            if max_pages is not None and number >= max_pages:
                return
            number += 1

    def close(self) -> None:
        self._http.close()
