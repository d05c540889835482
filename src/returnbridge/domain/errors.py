"""The error hierarchy, grouped by what the caller should do (retry, fail, reconcile).

Connectors raise the connector errors; the engine decides from the class alone whether to retry,
park the return for review, or fail it. Messages never carry secrets: redact where built.
"""

from __future__ import annotations

from typing import Any


class ReturnBridgeError(Exception):
    """Root of every error this package raises on purpose."""

    code: str = "ERROR"

    def __init__(self, code: str | None = None, message: str = "", **details: Any) -> None:
        if code is not None:
            self.code = code
        self.message = message or self.code
        self.details: dict[str, Any] = details
        super().__init__(self.message)

    @property
    def field(self) -> str | None:
        value = self.details.get("field")
        return value if isinstance(value, str) else None


class DomainError(ReturnBridgeError):
    """Bad input or a broken invariant: never retried."""

    code = "DOMAIN_ERROR"


class ConnectorError(ReturnBridgeError):
    """A platform call failed; subclasses say what to do about it."""

    code = "CONNECTOR_ERROR"

    def __init__(
        self,
        code: str | None = None,
        message: str = "",
        *,
        status: int | None = None,
        request_id: str | None = None,
        **details: Any,
    ) -> None:
        super().__init__(code, message, **details)
        self.status = status
        self.request_id = request_id


class TransientError(ConnectorError):
    """Worth retrying: 5xx, timeouts, resets. The write may or may not have happened."""

    code = "TRANSIENT"


class RateLimited(TransientError):
    """The platform asked us to slow down; `retry_after` (seconds) is its hint."""

    code = "RATE_LIMITED"

    def __init__(
        self, code: str | None = None, message: str = "", *, retry_after: float = 1.0, **kw: Any
    ) -> None:
        super().__init__(code, message, **kw)
        self.retry_after = retry_after


class PermanentError(ConnectorError):
    """Retrying the same call cannot succeed."""

    code = "PERMANENT"


class AuthError(PermanentError):
    code = "AUTH"


class NotFound(PermanentError):
    code = "NOT_FOUND"


class Rejected(PermanentError):
    """The platform refused the request for a business reason (its message is kept)."""

    code = "REJECTED"


class AlreadyDone(ConnectorError):
    """The operation already took effect (e.g. same idempotency key): reconcile and carry on."""

    code = "ALREADY_DONE"
