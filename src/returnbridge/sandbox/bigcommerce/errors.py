"""Error bodies: v2 answers a JSON array of ``{status, message}``, v3 a problem object."""

from __future__ import annotations

from typing import Any, Literal

Version = Literal["v2", "v3"]
STATUS_DOC = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def v2_error(status: int, message: str) -> list[dict[str, Any]]:
    """``[{"status": 404, "message": "..."}]``."""
    return [{"status": status, "message": message}]


def v3_error(status: int, title: str, errors: dict[str, str] | None = None) -> dict[str, Any]:
    """``{"status", "title", "type", "errors"}``."""
    return {"status": status, "title": title, "type": STATUS_DOC, "errors": errors or {}}


def error_body(version: Version, status: int, message: str | None = None) -> Any:
    """The error body of an API version for a status."""
    text = message or TITLES.get(status, "Error")
    return v2_error(status, text) if version == "v2" else v3_error(status, text)
