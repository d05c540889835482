"""Strict parsing of JSON request bodies: duplicate keys refused, numbers keep their text.

The standard parser keeps the last of two equal keys and turns `5e-1000000` into 0.0; both
would let a body mean something other than what was sent. Parsed here once, the result is
handed to FastAPI through `ParsedJSONRequest`.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.requests import Request

from returnbridge.api.problems import ApiProblem


class JsonNumber(float):
    """A JSON number with a fraction or exponent, remembering the text it was written as."""

    json_text: str

    def __new__(cls, text: str) -> JsonNumber:
        number = super().__new__(cls, text)
        number.json_text = text
        return number


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(key)
        result[key] = value
    return result


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _invalid(field: str, message: str, kind: str) -> RequestValidationError:
    return RequestValidationError(
        [{"type": kind, "loc": ("body", field) if field else ("body",), "msg": message}]
    )


def parse_json_body(raw: bytes) -> Any:
    """The body as Python values; 422 for invalid JSON or duplicate keys, 400 if too deep."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid("", "the body is not UTF-8", "json_invalid") from exc
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_float=JsonNumber)
    except _DuplicateKeyError as exc:
        raise _invalid(exc.key, f"duplicate key '{exc.key}'", "duplicate_key") from exc
    except json.JSONDecodeError as exc:
        raise _invalid("", f"not valid JSON: {exc.msg}", "json_invalid") from exc
    except RecursionError as exc:
        raise ApiProblem(400, "BAD_REQUEST", "the body nests too deeply") from exc


def is_json(request: Request) -> bool:
    """Whether the request declares a JSON body (`application/json` or `+json`)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class ParsedJSONRequest(Request):
    """A request whose JSON body was already read and parsed strictly."""

    def __init__(self, request: Request, *, raw: bytes, parsed: Any) -> None:
        super().__init__(request.scope, request.receive)
        self._raw_body = raw
        self._parsed_body = parsed

    async def body(self) -> bytes:
        return self._raw_body

    async def json(self) -> Any:
        return self._parsed_body
