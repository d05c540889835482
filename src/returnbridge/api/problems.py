"""RFC 9457 problem+json answers with a stable `code` for every error the API returns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from returnbridge.domain.errors import (
    ConnectorError,
    DomainError,
    ReturnBridgeError,
    TransientError,
)

PROBLEM_JSON = "application/problem+json"
_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Content too large",
    422: "Invalid input",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal error",
    502: "Bad gateway",
    503: "Service unavailable",
}


class ApiProblem(Exception):
    """Raised by routes to answer with a problem document."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://returnbridge.dev/problems/{code.lower().replace('_', '-')}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "detail": detail,
    }
    body.update(extra)
    # Also set here: the answer to an unexpected error bypasses the header middleware.
    answer_headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
    answer_headers.update(headers or {})
    if status == 401:
        answer_headers.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=answer_headers)


# Pydantic names the member of a union that failed ("decimal", "str", "function-after[...]")
# inside the error location; those are types, not fields, so they are left out of the path.
_UNION_MEMBER_TAGS = frozenset({"str", "int", "float", "bool", "decimal", "none", "json-or-python"})


def _is_union_tag(part: str) -> bool:
    return part in _UNION_MEMBER_TAGS or "[" in part


def _field_path(location: tuple[Any, ...] | list[Any]) -> str:
    parts = [
        str(p)
        for p in location
        if p not in ("body", "query", "path", "header") and not _is_union_tag(str(p))
    ]
    path = ""
    for part in parts:
        path += f"[{part}]" if part.isdigit() else (f".{part}" if path else part)
    return path or "body"


def install_problem_handlers(app: FastAPI) -> None:
    """Every error leaves the API as problem+json, validation errors naming their field."""

    @app.exception_handler(ApiProblem)
    async def _api_problem(_request: Request, exc: ApiProblem) -> JSONResponse:
        return problem(exc.status, exc.code, exc.detail, headers=exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                # A JSON syntax error's location is a character offset, not a field.
                "field": "body"
                if err.get("type") == "json_invalid"
                else _field_path(err.get("loc", ())),
                "message": err.get("msg", "invalid"),
            }
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        return problem(
            422,
            "VALIDATION_ERROR",
            f"{first['field']}: {first['message']}",
            field=first["field"],
            errors=errors,
        )

    @app.exception_handler(DomainError)
    async def _domain(_request: Request, exc: DomainError) -> JSONResponse:
        extra: dict[str, Any] = {"field": exc.field} if exc.field else {}
        return problem(422, exc.code, exc.message, **extra)

    @app.exception_handler(ConnectorError)
    async def _platform(_request: Request, exc: ConnectorError) -> JSONResponse:
        # The merchant's platform answered a call made for this request: unavailable for now
        # (503, try again) or with something we cannot use (502), never our own 500.
        status = 503 if isinstance(exc, TransientError) else 502
        return problem(status, exc.code, f"the platform: {exc.message}")

    @app.exception_handler(ReturnBridgeError)
    async def _ours(_request: Request, exc: ReturnBridgeError) -> JSONResponse:
        return problem(500, exc.code, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(
            exc.status_code, "HTTP_ERROR"
        )
        return problem(exc.status_code, code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, _exc: Exception) -> JSONResponse:
        # Starlette still re-raises the exception after this answer, so it is logged.
        return problem(500, "INTERNAL_ERROR", "an unexpected error occurred; it has been logged")
