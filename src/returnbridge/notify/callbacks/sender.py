"""One HTTP attempt of a callback: to the checked address, no redirects, our own error words."""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from returnbridge.notify.callbacks.ssrf import CallbackUrlError, Target, check_url

EXCERPT = 500
MAX_ADDRESSES = 3
"""Addresses of one name tried in one attempt, at most."""


@dataclass(frozen=True, slots=True)
class Attempt:
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int
    excerpt: str | None


def post(
    client: httpx.Client,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allow_private: bool,
) -> Attempt:
    """POST `body` to `url`; 2xx is a success, anything else a failed attempt."""
    started = time.monotonic()
    try:
        target = check_url(url, allow_private=allow_private)
    except CallbackUrlError as error:
        return Attempt(False, None, error.message, 0, None)
    try:
        response, excerpt = _send(client, target, url, body, headers)
    except httpx.TimeoutException:
        return _failed("the endpoint did not answer in time", started)
    except httpx.HTTPError:
        return _failed("the endpoint could not be reached", started)
    elapsed = int((time.monotonic() - started) * 1000)
    if 200 <= response.status_code < 300:
        return Attempt(True, response.status_code, None, elapsed, excerpt)
    answered = f"the endpoint answered {response.status_code}"
    return Attempt(False, response.status_code, answered, elapsed, excerpt)


def _send(
    client: httpx.Client, target: Target, url: str, body: bytes, headers: dict[str, str]
) -> tuple[httpx.Response, str | None]:
    """Send to the first of the checked addresses that takes the connection (a name with an
    IPv6 and an IPv4 address may be reachable on one only); the Host header and TLS server
    name stay the URL's."""
    parts = urlsplit(url)
    default_port = 443 if parts.scheme == "https" else 80
    named = f"[{target.host}]" if ":" in target.host else target.host
    host_header = named if target.port == default_port else f"{named}:{target.port}"
    tried = target.addresses[:MAX_ADDRESSES]
    for index, address in enumerate(tried):
        host = f"[{address}]" if ":" in address else address
        pinned = urlunsplit(
            (parts.scheme, f"{host}:{target.port}", parts.path or "/", parts.query, "")
        )
        request = client.build_request(
            "POST",
            pinned,
            content=body,
            headers={
                **headers,
                "Host": host_header,
                "Content-Type": "application/json",
                "Accept-Encoding": "identity",  # nothing to inflate: only the excerpt is read
            },
            extensions={"sni_hostname": target.host},
        )
        try:
            response = client.send(request, stream=True, follow_redirects=False)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            if index == len(tried) - 1:
                raise
            continue  # nothing was sent: the next address
        try:
            return response, _excerpt(response)
        finally:
            response.close()
    raise AssertionError("check_url returns at least one address")


def _excerpt(response: httpx.Response) -> str | None:
    """The answer's first `EXCERPT` characters; the rest is never read (it may be endless)."""
    read = b""
    for chunk in response.iter_bytes():
        read += chunk
        if len(read) >= EXCERPT * 4:  # a UTF-8 character is at most 4 bytes
            break
    if not read:
        return None
    try:
        return read.decode(response.charset_encoding or "utf-8", errors="replace")[:EXCERPT]
    except LookupError:  # a charset Python does not know
        return read.decode("utf-8", errors="replace")[:EXCERPT]


def _failed(error: str, started: float) -> Attempt:
    return Attempt(False, None, error, int((time.monotonic() - started) * 1000), None)
