"""Loop's error bodies, in the several shapes Loop answers with (research notes §1; the saved
reconstruction's examples), and the exception an API route raises to answer one."""

from __future__ import annotations

from typing import Any

UNAUTHORIZED = {
    "error": {"code": "401", "http_code": "GEN-UNAUTHORIZED", "message": "Unauthorized."}
}
"""The documented 401 body (its ``code`` and ``http_code`` look swapped; so does Loop's)."""
TOO_MANY = {"message": "Too Many Attempts."}
"""The 429 body [assumption: Loop documents the status, not the body]."""
SERVER_ERROR = {"message": "Server Error"}
UNAVAILABLE = {"message": "Service Unavailable"}
NOT_FOUND = {"message": "Not Found"}


class ApiError(Exception):
    """An error answer: HTTP ``status`` with JSON ``body``."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers


def draft_error(code: str, message: str, status: int = 422) -> ApiError:
    """A draft returns refusal: ``{"errors": [{"code", "message"}]}``."""
    return ApiError(status, {"errors": [{"code": code, "message": message}]})


def not_found(what: str) -> ApiError:
    return ApiError(404, {"message": f"{what} not found."})


def invalid(field: str, message: str) -> ApiError:
    """A validation 422: ``{"message", "errors": {field: [message]}}`` (Laravel's shape)."""
    return ApiError(422, {"message": message, "errors": {field: [message]}})


def unprocessable_state(state: str) -> dict[str, Any]:
    """Refusal of an action on a settled return, answered inside an HTTP 200 [spec3p]."""
    message = f"Return is {state} and therefore cannot be processed."
    return {"errors": {"message": message, "code": "UNPROCESSABLE_RETURN"}}


def unprocessable_message(state: str) -> dict[str, Any]:
    """The cancelled / in-review refusal, also inside an HTTP 200 [spec3p]."""
    return {"message": f"Return is {state} and therefore cannot be processed."}


def cannot_cancel(why: str) -> dict[str, Any]:
    """Cancel's refusal of an expired or flagged return, inside an HTTP 200 [spec3p]."""
    return {"content": f"Return is {why} and cannot be processed."}
