"""SHOPLINE's error bodies: ``{"code", "message", "errors"}``, and the 429's own body.

The Go SDK reads ``code``, ``message`` and ``errors`` (a string, list or map); the code names
are the sandbox's. The 429 body is exactly what the rate-limit documentation shows.
"""

from __future__ import annotations

from typing import Any

CODES = {
    400: "INVALID_PARAMS",
    401: "UNAUTHORIZED",
    404: "NOT_FOUND",
    409: "CONFLICT",
    422: "UNPROCESSABLE",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}
MESSAGES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    409: "Conflict",
    422: "Unprocessable Entity",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
TOO_MANY = {"errors": "Too many request"}


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """The body of an error answer with ``status``."""
    if status == 429:
        return dict(TOO_MANY)
    text = message or MESSAGES.get(status, "Error")
    return {"code": CODES.get(status, "ERROR"), "message": text, "errors": text}


class ApiError(Exception):
    """A refusal an operation answers with (status and message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def unprocessable(message: str) -> ApiError:
    """A 422 refusal."""
    return ApiError(422, message)


def bad_request(message: str) -> ApiError:
    """A 400 refusal."""
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    """A 404 refusal."""
    return ApiError(404, message)
