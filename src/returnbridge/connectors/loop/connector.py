"""The Loop Returns client the engine's sync step uses (`ReturnsSystem`), API version 2026-10.

- **Auth**: `X-Authorization: <api key>`; the key never appears in a log or an error.
- **Budget**: 300 requests a minute per key (`limits.py`), shared by the connection's threads;
  a 429 holds the whole connection (Loop's `Retry-After` if sent, else 1, 2, 4, 8 s) and the
  call is retried a few times.
- **Errors** (`errors.py`): Loop's error objects, also inside HTTP 200, are refusals in our
  words; `returns-unavailable-for-order` is permanent; 5xx and timeouts stay transient.
- **Opening a return, once**: Return Create (draft returns): create the draft with the order
  name and the secondary input, add each returned line from the draft's `_templates`, submit,
  then note our key on the return. Before creating, the order's returns are read and the one
  carrying our key is taken instead (docs/connectors/loop.md#exactly-once).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from returnbridge.connectors.base.http import HttpMethod, JsonHttpClient, QueryParams
from returnbridge.connectors.base.returns_system import ExternalReturn, ReturnsSystemRequest
from returnbridge.connectors.loop.errors import (
    STATUS_RULES,
    LoopRefused,
    explain,
    refusal_in_body,
)
from returnbridge.connectors.loop.limits import MAX_RETRIES, MinuteBudget, backoff
from returnbridge.connectors.loop.mapping import external_return, numeric_id
from returnbridge.domain.errors import (
    ConnectorError,
    DomainError,
    NotFound,
    RateLimited,
    Rejected,
    TransientError,
)

__all__ = ["DEFAULT_BASE_URL", "VERSION", "LoopConnector", "LoopRefused", "from_connection"]

VERSION = "2026-10"
DEFAULT_BASE_URL = "https://api.loopreturns.com"
WINDOW = timedelta(days=119)
"""The detailed list takes at most 120 days per call."""
PAGE_SIZE = 250
"""Rows per page of the detailed list (Loop: default 100, at most 750)."""
NOTE_LIMIT = 254
"""A note's content must be under 255 characters."""
NOTE_ATTEMPTS = 3
"""Tries of the key note: without it a retry cannot recognise the return."""
_API_ROOT = re.compile(r"^/?api/[^/]+/")
log = logging.getLogger(__name__)


class LoopConnector:
    """One Loop account (API key); its HTTP client and budget are the connection's, shared."""

    platform = "loop"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        http: httpx.Client | None = None,
        budget: MinuteBudget | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._client = JsonHttpClient(
            f"{(base_url or DEFAULT_BASE_URL).rstrip('/')}/api/{VERSION}",
            headers={"X-Authorization": api_key},
            timeout=timeout,
            http=http,
            secrets=[api_key],
            status_rules=STATUS_RULES,
        )
        self._budget = budget or MinuteBudget(sleep=sleep)
        self._clock = clock
        self._page_size = max(1, min(page_size, 750))

    # -- the calls ------------------------------------------------------------------------

    def _call(
        self,
        method: HttpMethod,
        path: str,
        *,
        action: str,
        payload: Mapping[str, Any] | None = None,
        params: QueryParams | None = None,
        writes: bool = False,
    ) -> Any:
        """One API call within the budget; a 429 is waited out, a refusal raised in our words."""
        for attempt in range(MAX_RETRIES + 1):
            self._budget.wait_turn()
            try:
                response = self._client.request_json(
                    method, path, payload=payload, params=params, writes=writes
                )
            except RateLimited as error:
                self._budget.hold(backoff(attempt, error.retry_after))
                if attempt < MAX_RETRIES:
                    continue
                raise RateLimited(
                    error.code,
                    f"Loop kept refusing to {action} for its rate limit (300 a minute per key)",
                    retry_after=backoff(attempt + 1, error.retry_after),
                    status=error.status,
                    request_id=error.request_id,
                    ambiguous=False,
                ) from None
            except ConnectorError as error:
                raise explain(error, action) from None
            refusal = refusal_in_body(response.body, action)
            if refusal is not None:
                raise refusal
            return response.body
        raise AssertionError("unreachable")  # pragma: no cover

    # -- ReturnsSystem --------------------------------------------------------------------

    def open_return(self, request: ReturnsSystemRequest) -> ExternalReturn:
        line_ids = [_loop_line_id(line.line_item_id) for line in request.lines]
        found = self._find_by_key(request)
        if found is not None:
            return found
        draft = self._call(
            "POST",
            "draft-returns",
            action=f"start a return of order {request.order_name}",
            payload={
                "order_name": request.order_name,
                "secondary_input": request.secondary_input,
                "is_gift": False,
            },
            writes=True,
        )
        for line, line_id in zip(request.lines, line_ids, strict=True):
            draft = self._call(
                "POST",
                _template_target(draft, ADD_ITEM, "line-items"),
                action=f"add line {line.line_item_id} to the return of {request.order_name}",
                payload={
                    "line_item_id": line_id,
                    "quantity": line.quantity,
                    "reason": line.reason,
                },
                writes=True,
            )
        submitted = self._submit(draft, request.order_name)
        return_id = ((submitted or {}).get("draft_return") or {}).get("return_id")
        if return_id in (None, ""):
            raise Rejected(
                "LOOP_RETURN_NOT_CREATED",
                f"Loop accepted the return of order {request.order_name} but created none:"
                " its draft may need steps (outcomes, address) that are set up in Loop",
            )
        return_id = str(return_id)
        self._key_note(return_id, _key_note(request))
        return self.get_return(return_id)

    def process(self, return_id: str, note: str | None = None) -> None:
        self._act(return_id, "process", note)

    def close(self, return_id: str, note: str | None = None) -> None:
        self._act(return_id, "close", note)

    def cancel(self, return_id: str, note: str | None = None) -> None:
        self._act(return_id, "cancel", note)

    def get_return(self, return_id: str) -> ExternalReturn:
        body = self._call(
            "GET",
            "warehouse/return/details",
            action=f"read return {return_id}",
            params={"return_id": return_id},
        )
        return external_return(body)

    def changed_since(self, since: datetime, until: datetime) -> list[ExternalReturn]:
        """Returns updated in [since, until], every page, in windows Loop accepts."""
        found: dict[str, ExternalReturn] = {}
        for start, end in windows(since, until):
            for item in self._list(start, end, by="updated_at"):
                found[item.id] = item
        return list(found.values())

    # -- helpers --------------------------------------------------------------------------

    def _act(self, return_id: str, verb: str, note: str | None) -> None:
        """process / close / cancel, then (best effort: the action is done) a note on it."""
        self._call(
            "POST",
            f"warehouse/return/{return_id}/{verb}",
            action=f"{verb} return {return_id}",
            writes=True,
        )
        if note:
            try:
                self._note(return_id, note)
            except ConnectorError as error:
                log.warning("loop: return %s: %s; the note was not added", return_id, error)

    def _submit(self, draft: Any, order_name: str) -> Any:
        """Submit the draft; a submit that may have been committed (timeout) is asked again:
        Loop answers a submitted draft with its return."""
        target = _template_target(draft, SUBMIT, "submit")
        action = f"submit the return of order {order_name}"
        try:
            return self._call("POST", target, action=action, writes=True)
        except TransientError as error:
            if not error.details.get("ambiguous"):
                raise
            try:
                return self._call("POST", target, action=action, writes=True)
            except ConnectorError:
                raise error from None

    def _list(self, start: datetime, end: datetime, *, by: str) -> list[ExternalReturn]:
        """Every page of the detailed list for one window (at most 120 days)."""
        path = "warehouse/return/list"
        params: dict[str, str] = {
            "from": _iso(start),
            "to": _iso(end),
            "filter": by,
            "paginate": "true",
            "pageSize": str(self._page_size),
        }
        out: list[ExternalReturn] = []
        seen: set[str] = set()
        while True:
            body = self._call("GET", path, action="list returns", params=params)
            rows = body.get("returns", []) if isinstance(body, dict) else body
            out.extend(external_return(row) for row in rows or ())
            following = body.get("nextPageUrl") if isinstance(body, dict) else None
            if not following or str(following) in seen:  # the last page, or going round
                return out
            seen.add(str(following))
            path = _relative(str(following)) or path
            params = dict(parse_qsl(urlsplit(str(following)).query))

    def _find_by_key(self, request: ReturnsSystemRequest) -> ExternalReturn | None:
        """The return of this order that carries our key, opened by an earlier attempt."""
        now = self._clock()
        names = {
            request.order_name,
            request.order_name.lstrip("#"),
            "#" + request.order_name.lstrip("#"),
        }
        candidates = sorted(
            (
                r
                for r in self._list(now - WINDOW, now + timedelta(minutes=5), by="created_at")
                if r.order_name in names
            ),
            key=lambda r: r.state == "cancelled",
        )
        for candidate in candidates:
            try:
                body = self._call(
                    "GET",
                    f"warehouse/return/{candidate.id}/notes",
                    action=f"read the notes of return {candidate.id}",
                )
            except (Rejected, NotFound):
                continue  # Loop answers 422 when a return has no notes
            notes = body.get("notes", []) if isinstance(body, dict) else []
            if any(request.key in str(n.get("content", "")) for n in notes if isinstance(n, dict)):
                return self.get_return(candidate.id)
        return None

    def _key_note(self, return_id: str, content: str) -> None:
        """The note a retry recognises the return by; tried again on a transient failure
        (a duplicate note is harmless, a missing one opens the return twice)."""
        for attempt in range(NOTE_ATTEMPTS):
            try:
                self._note(return_id, content)
                return
            except TransientError:
                if attempt == NOTE_ATTEMPTS - 1:
                    raise
                self._budget.hold(backoff(attempt))

    def _note(self, return_id: str, content: str) -> None:
        self._call(
            "POST",
            f"warehouse/return/{return_id}/note",
            action=f"add a note to return {return_id}",
            payload={"content": truncate_note(content)},
            writes=True,
        )


def windows(since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
    """[since, until] cut into consecutive windows of at most 119 days."""
    out: list[tuple[datetime, datetime]] = []
    start = since
    while start < until:
        end = min(start + WINDOW, until)
        out.append((start, end))
        start = end
    return out


def truncate_note(content: str) -> str:
    """A note Loop accepts: under 255 characters, cut at a word where possible, marked '…'."""
    text = " ".join(content.split())
    if len(text) <= NOTE_LIMIT:
        return text
    cut = text[: NOTE_LIMIT - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > NOTE_LIMIT // 2 else cut).rstrip() + "…"


def _key_note(request: ReturnsSystemRequest) -> str:
    text = f"returnbridge key {request.key}"
    return f"{text}: {request.note}" if request.note else text


ADD_ITEM = ("add-returning-item", "add-line-item")
"""The draft's relation for adding a returned line: Loop's 2026-10 name, the sandbox's."""
SUBMIT = ("submit-draft-return", "submit")
"""The draft's relation for submitting: Loop's 2026-10 name, the sandbox's."""


def _loop_line_id(line_item_id: str) -> int:
    """Loop's (Shopify's numeric) id of a store line item; a DomainError when it has none."""
    try:
        return int(numeric_id(line_item_id))
    except ValueError:
        raise DomainError(
            "LOOP_LINE_ID", f"line item {line_item_id!r} has no numeric id Loop can use"
        ) from None


def _template_target(draft: Any, names: tuple[str, ...], fallback: str) -> str:
    """Follow the draft's hypermedia (HAL-Forms `_templates`, else `_links`) by relation name,
    relative to our pinned API root: only the path is kept, so the key is never sent to a
    host a body names. Without either, `draft-returns/{id}/{fallback}`."""
    for name in names:
        for controls, field in (("_templates", "target"), ("_links", "href")):
            target = ((draft.get(controls) or {}).get(name) or {}).get(field)
            if target:
                return _relative(str(target))
    return f"draft-returns/{draft['draft_return']['id']}/{fallback}"


def _relative(url: str) -> str:
    """The path of a URL Loop gave us, relative to our pinned API root (host and version
    dropped: the key only goes to our base URL)."""
    return _API_ROOT.sub("", urlsplit(url).path, count=1).lstrip("/")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def from_connection(
    base_url: str,
    credentials: Mapping[str, Any],
    timeout: float,
    state: dict[str, Any],
    settings: Mapping[str, Any],
) -> LoopConnector:
    """The connector for a stored `loop` connection; its budget lives in `state`."""
    budget = state.get("loop_budget")
    if not isinstance(budget, MinuteBudget):
        budget = state.setdefault("loop_budget", MinuteBudget())
    return LoopConnector(
        base_url,
        str(credentials["api_key"]),
        timeout=timeout,
        http=state.get("http"),
        budget=budget,
    )
