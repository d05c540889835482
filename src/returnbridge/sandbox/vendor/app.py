"""The vendor's HTTP API: the same records by page number, body cursor, `Link` header or feed.

- ``GET /pages/returns?updated_since=&page=&per_page=`` -> ``{"returns": [...], "has_more"}``
- ``GET /cursor/returns?updated_since=&cursor=&limit=`` -> ``{"returns": [...], "next_cursor"}``
  (the cursor is an opaque encoding of an offset, so shifting pages hurt it like page numbers)
- ``GET /link/returns?updated_since=&page=&per_page=`` -> a list, next page in ``Link: rel=next``
- ``GET /feed/returns?cursor=&limit=`` -> ascending change feed: ``{"returns", "next_cursor",
  "end_of_stream"}``; the last ``next_cursor`` is where the next sync starts.

Auth (``POST /_control/auth``): none, bearer, basic, or an HMAC-SHA256 signature of
``"{timestamp}.{METHOD}.{path}?{query}"`` in ``X-Signature: sha256=<hex>`` with the Unix time
in ``X-Timestamp`` (at most 300 s old).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from returnbridge.sandbox.vendor.helpdesk import Clock, FailurePlan, Helpdesk, wall_clock

SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Timestamp"
SIGNATURE_MAX_AGE = 300


class AuthSetting(BaseModel):
    kind: str = "none"
    token: str | None = None
    username: str | None = None
    password: str | None = None
    secret: str | None = None


class FailSetting(BaseModel):
    after: int = 0
    count: int = 1
    status: int = 503


class ChurnSetting(BaseModel):
    enabled: bool = True
    seed: int = 0


def _allowed(setting: AuthSetting, request: Request) -> bool:
    header = request.headers.get("authorization", "")
    if setting.kind == "none":
        return True
    if setting.kind == "bearer":
        return hmac.compare_digest(header, f"Bearer {setting.token}")
    if setting.kind == "basic":
        pair = f"{setting.username}:{setting.password}".encode()
        return hmac.compare_digest(header, f"Basic {base64.b64encode(pair).decode()}")
    if setting.kind == "hmac":
        stamp = request.headers.get(TIMESTAMP_HEADER, "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > SIGNATURE_MAX_AGE:
            return False
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        message = f"{stamp}.{request.method}.{target}".encode()
        digest = hmac.new((setting.secret or "").encode(), message, hashlib.sha256).hexdigest()
        return hmac.compare_digest(request.headers.get(SIGNATURE_HEADER, ""), f"sha256={digest}")
    return False


def _since(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def _decode(cursor: str) -> int:
    return int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("o:"))


def create_app(*, clock: Clock = wall_clock) -> FastAPI:
    """A fresh vendor with no records, no auth, no churn."""
    app = FastAPI(title="returnbridge vendor helpdesk sandbox")
    desk = Helpdesk(clock=clock)
    auth = {"setting": AuthSetting()}
    pace = {"seconds": 0.0}
    app.state.helpdesk = desk

    def gate(request: Request) -> Response | None:
        if pace["seconds"]:
            time.sleep(pace["seconds"])  # a slow vendor: syncs that take a while
        if not _allowed(auth["setting"], request):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        status = desk.begin_request(target)
        if status is not None:
            return JSONResponse({"error": "temporarily unavailable"}, status_code=status)
        return None

    api = APIRouter()

    @api.get("/pages/returns")
    def by_page(
        request: Request,
        updated_since: str | None = None,
        page: Annotated[int, Query(ge=1)] = 1,
        per_page: Annotated[int, Query(ge=1, le=500)] = 25,
    ) -> Any:
        if (refused := gate(request)) is not None:
            return refused
        rows = desk.listing(_since(updated_since))
        chunk = rows[(page - 1) * per_page : page * per_page]
        return {"returns": chunk, "page": page, "has_more": len(rows) > page * per_page}

    @api.get("/cursor/returns")
    def by_cursor(
        request: Request,
        updated_since: str | None = None,
        cursor: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 25,
    ) -> Any:
        if (refused := gate(request)) is not None:
            return refused
        rows = desk.listing(_since(updated_since))
        offset = _decode(cursor) if cursor else 0
        more = len(rows) > offset + limit
        return {
            "returns": rows[offset : offset + limit],
            "next_cursor": _encode(offset + limit) if more else None,
        }

    @api.get("/link/returns")
    def by_link(
        request: Request,
        response: Response,
        updated_since: str | None = None,
        page: Annotated[int, Query(ge=1)] = 1,
        per_page: Annotated[int, Query(ge=1, le=500)] = 25,
    ) -> Any:
        if (refused := gate(request)) is not None:
            return refused
        rows = desk.listing(_since(updated_since))
        if len(rows) > page * per_page:
            following = request.url.include_query_params(page=page + 1)
            response.headers["Link"] = f'<{following}>; rel="next"'
        return rows[(page - 1) * per_page : page * per_page]

    @api.get("/feed/returns")
    def feed(
        request: Request,
        cursor: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 25,
    ) -> Any:
        if (refused := gate(request)) is not None:
            return refused
        after = _decode(cursor) if cursor else 0
        rows = desk.feed(after, limit)
        last = rows[-1]["seq"] if rows else after
        return {
            "returns": rows,
            "next_cursor": _encode(last),
            "end_of_stream": len(rows) < limit,
        }

    control = APIRouter(prefix="/_control")

    @control.post("/seed")
    def seed(count: int = 10) -> dict[str, Any]:
        desk.seed(count)
        return {"records": len(desk.records)}

    @control.post("/records")
    def add_record(fields: dict[str, Any]) -> dict[str, Any]:
        """One new record with some fields given (order_number, customer, items, reason)."""
        return desk.insert(fields)

    @control.post("/auth")
    def set_auth(setting: AuthSetting) -> dict[str, str]:
        auth["setting"] = setting
        return {"kind": setting.kind}

    @control.post("/churn")
    def churn(setting: ChurnSetting) -> dict[str, Any]:
        if setting.enabled:
            desk.start_churn(setting.seed)
        else:
            desk.stop_churn()
        return {"enabled": setting.enabled, "hot_id": desk.hot_id}

    @control.post("/fail")
    def fail(setting: FailSetting) -> dict[str, int]:
        desk.failure = FailurePlan(after=setting.after, count=setting.count, status=setting.status)
        return {"after": setting.after, "count": setting.count}

    @control.post("/delay")
    def delay(seconds: Annotated[float, Query(ge=0, le=60)] = 0.0) -> dict[str, float]:
        """Answer each list request this late."""
        pace["seconds"] = seconds
        return {"seconds": seconds}

    @control.post("/update/{record_id}")
    def update(record_id: str) -> dict[str, Any]:
        return desk.update(record_id)

    @control.get("/state")
    def state() -> dict[str, Any]:
        return desk.state()

    app.include_router(api)
    app.include_router(control)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def new_token() -> str:
    """A random bearer token or HMAC secret for a demo vendor."""
    return secrets.token_urlsafe(24)
