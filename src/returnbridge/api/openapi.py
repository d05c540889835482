"""The OpenAPI document tells the truth about errors: every one is `application/problem+json`.

FastAPI documents validation failures as its own `HTTPValidationError` in `application/json`;
our answers are RFC 9457 problems (`problems.py`). This replaces that entry on every
operation, and documents the other problem answers the routes give.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

PROBLEM_JSON = "application/problem+json"
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string", "description": "stable, machine-readable"},
        "detail": {"type": "string"},
        "field": {"type": "string", "description": "the input that was refused, if one was"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}
_ANSWERS = {
    "401": "no or unknown key",
    "403": "this key may not use the route",
    "404": "no such record for this key",
    "409": "conflicts with what is stored (a reused key, a return that cannot be retried)",
    "413": "the body is larger than the gateway accepts",
    "422": "invalid input; `field` names it",
    "429": "too many failed authentications from this address; see Retry-After",
}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def install_problem_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` document problem+json error answers on every operation."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                routes=app.routes,
            )
            _declare_problems(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _declare_problems(document: dict[str, Any]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for route, path in document.get("paths", {}).items():
        for method, operation in path.items():
            responses = operation.setdefault("responses", {})
            secured = bool(operation.get("security"))
            for status, meaning in _ANSWERS.items():
                if status in ("401", "403", "429") and not secured:
                    continue
                if status == "404" and "{" not in route:
                    continue
                if status == "409" and not (method == "post" and route.startswith("/v1/returns")):
                    continue
                if status == "413" and "requestBody" not in operation:
                    continue
                responses[status] = {
                    "description": meaning,
                    "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}},
                }
