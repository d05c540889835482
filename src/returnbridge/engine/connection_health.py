"""How a connection is doing, as this process saw it: the last call to the platform, the last
error, and the rate limiter's headroom (for the dashboard and `GET /v1/connections/{id}`).

Every connection's pooled HTTP client goes through `RecordingTransport`, which notes each
answer's time and status, and each failure (an HTTP error status, a timeout, a refused
connection) in the connection's process-wide state. In the embedded gateway one process does
everything; scaled out, each process knows its own calls.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from returnbridge.store.clock import utc_now

HEALTH_KEY = "health"


@dataclass
class Health:
    calls: int = 0
    failures: int = 0
    last_call_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    headroom: str | None = None


class RecordingTransport(httpx.BaseTransport):
    """An HTTP transport that notes each call's outcome in `health` (thread-safe)."""

    def __init__(self, inner: httpx.BaseTransport, health: Health) -> None:
        self.inner = inner
        self._health = health
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = self.inner.handle_request(request)
        except httpx.TransportError as exc:
            self._note(None, _sentence(exc))
            raise
        failed = response.status_code >= 400
        self._note(response.status_code, f"HTTP {response.status_code}" if failed else None)
        return response

    def _note(self, status: int | None, error: str | None) -> None:
        now = utc_now()
        with self._lock:
            health = self._health
            health.calls += 1
            health.last_call_at, health.last_status = now, status
            if error is not None:
                health.failures += 1
                health.last_error, health.last_error_at = error, now

    def close(self) -> None:
        self.inner.close()


def _sentence(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "the platform did not answer in time"
    if isinstance(exc, httpx.ConnectError):
        return "could not connect to the platform"
    return "the connection to the platform failed"


def health_of(state: dict[str, Any]) -> Health:
    """The connection's health with its limiter's headroom now (a copy)."""
    recorded: Health = state.get(HEALTH_KEY) or Health()
    limiter = state.get("limiter") or state.get("loop_budget")
    headroom = limiter.headroom() if limiter is not None and hasattr(limiter, "headroom") else None
    return Health(
        calls=recorded.calls,
        failures=recorded.failures,
        last_call_at=recorded.last_call_at,
        last_status=recorded.last_status,
        last_error=recorded.last_error,
        last_error_at=recorded.last_error_at,
        headroom=headroom,
    )
