"""Return Data (details, detailed list) and Return Actions (process, close, cancel, flag,
notes) under ``/warehouse/return`` [docs, spec3p]."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from returnbridge.sandbox.loop import actions
from returnbridge.sandbox.loop.errors import ApiError, invalid, not_found
from returnbridge.sandbox.loop.gateway import API_PREFIX, Call, admit
from returnbridge.sandbox.loop.state import RETURN_STATES, LoopReturn, Note
from returnbridge.sandbox.loop.views import details_json, note_json, return_json

router = APIRouter(prefix=f"{API_PREFIX}/warehouse/return")
MAX_WINDOW_DAYS = 120
PAGE_SIZE, MAX_PAGE_SIZE = 100, 750
NOTE_LIMIT = 255
"""A note's content must be shorter than this."""


def _find(call: Call, return_id: int) -> LoopReturn:
    found = call.sim.world.returns.get(return_id)
    if found is None or found.shop != call.shop.name:
        raise not_found("Return")
    return found


@router.get("/details")
async def details(
    version: str,
    request: Request,
    return_id: int | None = None,
    order_id: str | None = None,
    order_name: str | None = None,
) -> Response:
    """One return by ``return_id``, Loop ``order_id`` or ``order_name`` (the latest of the
    order's), with its notes."""
    call = await admit(request, version, "getReturnDetails")
    with call.sim.world.lock:
        if return_id is not None:
            found: LoopReturn | None = _find(call, return_id)
        else:
            names = {order_name, f"#{(order_name or '').lstrip('#')}"} if order_name else set()
            mine = [
                r
                for r in call.sim.world.returns.values()
                if r.shop == call.shop.name
                and (r.order.name in names or (order_id and str(r.order.loop_id) == order_id))
            ]
            found = max(mine, key=lambda r: r.id, default=None)
        if found is None:
            raise not_found("Return")
        answer = details_json(call.sim, found)
    return await call.respond(answer)


def _instant(value: str | None, field: str) -> float:
    if not value:
        raise invalid(field, f"The {field} field is required.")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(field, f"The {field} is not a valid date.") from None
    if moment.tzinfo is None:
        raise invalid(field, f"The {field} must carry a time zone.")
    return moment.timestamp()


@router.get("/list")
async def detailed_list(version: str, request: Request) -> Response:
    """``from``/``to`` (at most 120 days apart), ``filter`` (``created_at``|``updated_at``),
    ``state``; an array, or with ``paginate=true`` a page under ``returns`` with
    ``nextPageUrl``/``previousPageUrl`` (``pageSize`` 100 by default, at most 750)."""
    call = await admit(request, version, "getDetailedReturnsList")
    query = request.query_params
    start, end = _instant(query.get("from"), "from"), _instant(query.get("to"), "to")
    if end < start or end - start > MAX_WINDOW_DAYS * 86400:
        raise invalid("to", f"The range must be at most {MAX_WINDOW_DAYS} days, from to to.")
    by = query.get("filter") or "created_at"
    if by not in ("created_at", "updated_at"):
        raise invalid("filter", "The selected filter is invalid.")
    state = query.get("state")
    if state is not None and state not in RETURN_STATES:
        raise invalid("state", "The selected state is invalid.")
    with call.sim.world.lock:
        rows = sorted(
            (
                r
                for r in call.sim.world.returns.values()
                if r.shop == call.shop.name
                and start <= (r.updated_at if by == "updated_at" else r.created_at) <= end
                and (state is None or r.state == state)
            ),
            key=lambda r: r.id,
        )
        data = [return_json(call.sim, r) for r in rows]
    if query.get("paginate") not in ("true", "1"):
        return await call.respond(data)
    return await call.respond(_page(request, data))


def _page(request: Request, data: list[dict[str, Any]]) -> dict[str, Any]:
    """One page by id cursor: ``cursor`` (after this id) or ``before`` (the page before)."""
    query = request.query_params
    try:
        size = max(1, min(int(query.get("pageSize") or PAGE_SIZE), MAX_PAGE_SIZE))
    except ValueError:
        raise invalid("pageSize", "The page size must be an integer.") from None
    ids = [int(d["id"]) for d in data]
    if query.get("before"):
        end = sum(1 for i in ids if i < int(query["before"]))
        first = max(0, end - size)
    else:
        after = int(query.get("cursor") or 0)
        first = sum(1 for i in ids if i <= after)
    page = data[first : first + size]
    params = {k: v for k, v in query.items() if k not in ("cursor", "before")}
    base = str(request.url.remove_query_params(list(request.query_params.keys())))

    def url(**cursor: Any) -> str:
        return f"{base}?{urlencode({**params, **cursor})}"

    more = first + size < len(data)
    return {
        "returns": page,
        "nextPageUrl": url(cursor=page[-1]["id"]) if more and page else None,
        "previousPageUrl": url(before=page[0]["id"]) if first > 0 and page else None,
    }


async def _act(version: str, return_id: int, request: Request, operation: str) -> Response:
    call = await admit(request, version, operation)
    with call.sim.world.lock:
        found = _find(call, return_id)
        verb = operation.removesuffix("Return")
        if verb == "process":
            body, effect = actions.process(call.sim, call.shop, found)
        else:
            body, effect = getattr(actions, verb)(call.sim, found)
    return await call.respond(body, effect=effect)


@router.post("/{return_id}/process")
async def process(version: str, return_id: int, request: Request) -> Response:
    """Queue processing: 200 ``true`` (asynchronous), or a refusal inside a 200."""
    return await _act(version, return_id, request, "processReturn")


@router.post("/{return_id}/close")
async def close(version: str, return_id: int, request: Request) -> Response:
    """Close without refund: 200 ``true``, or a refusal inside a 200."""
    return await _act(version, return_id, request, "closeReturn")


@router.post("/{return_id}/cancel")
async def cancel(version: str, return_id: int, request: Request) -> Response:
    """Cancel (frees the items): 200 ``true``, or a refusal inside a 200."""
    return await _act(version, return_id, request, "cancelReturn")


@router.post("/{return_id}/flag")
async def flag(version: str, return_id: int, request: Request) -> Response:
    """Put into review: 200 ``true``, or a refusal inside a 200."""
    return await _act(version, return_id, request, "flagReturn")


@router.get("/{return_id}/notes")
async def notes(version: str, return_id: int, request: Request) -> Response:
    """``{"notes": [...]}``; 422 ``"false"`` when there are none [spec3p]."""
    call = await admit(request, version, "getReturnNotes")
    with call.sim.world.lock:
        found = _find(call, return_id)
        listed = [note_json(call.sim, n) for n in found.notes]
    if not listed:
        raise ApiError(422, "false")
    return await call.respond({"notes": listed})


@router.post("/{return_id}/note")
async def note(version: str, return_id: int, request: Request) -> Response:
    """``{content}`` (required, under 255 characters): 200 ``"true"`` [spec3p]."""
    call = await admit(request, version, "createReturnNote")
    content = (await call.body()).get("content")
    if not isinstance(content, str) or not content.strip() or len(content) >= NOTE_LIMIT:
        message = "Content is required and must be less than 255 characters."
        raise ApiError(422, {"errors": {"message": message}})
    with call.sim.world.lock:
        found = _find(call, return_id)
        found.notes.append(Note(call.sim.world.next_small_id(), content, call.sim.clock()))
    return await call.respond("true", effect="note_created")
