"""The Loop Returns client the engine's sync step uses (`ReturnsSystem`), API version 2026-10.

- **Auth**: `X-Authorization: <api key>`; the key never appears in a log or an error.
- **Budget**: 300 requests a minute per key (`limits.py`); a 429 is waited out with
  exponential backoff (Loop sends no `Retry-After`) and retried a few times.
- **Errors in the body**: Loop answers some refusals with HTTP 200 and an error object
  (`{"errors": {...}}`, `{"message": ...}`, `{"content": ...}`): those are refusals here too.
- **Opening a return, once**: Return Create (draft returns): create the draft with the order
  name and the customer's email as secondary input, add each returned line from the draft's
  `_templates`, submit, then note our key on the return. Before creating, the order's
  returns are read and the one carrying our key is taken instead.
  `returns-unavailable-for-order` is permanent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from returnbridge.connectors.base.http import (
    DEFAULT_STATUS_RULES,
    JsonHttpClient,
    QueryParams,
    StatusRule,
)
from returnbridge.connectors.base.returns_system import ExternalReturn, ReturnsSystemRequest
from returnbridge.connectors.loop.limits import MinuteBudget
from returnbridge.connectors.loop.mapping import external_return, numeric_id
from returnbridge.domain.errors import (
    AuthError,
    ConnectorError,
    PermanentError,
    RateLimited,
    Rejected,
)

VERSION = "2026-10"
DEFAULT_BASE_URL = "https://api.loopreturns.com"
MAX_RATE_RETRIES = 4
WINDOW = timedelta(days=119)
"""The detailed list takes at most 120 days per call."""
NOTE_LIMIT = 254
_ERROR_KEYS = frozenset({"errors", "error", "message", "content"})
STATUS_RULES: tuple[StatusRule, ...] = (
    StatusRule.of({401}, AuthError, "LOOP_UNAUTHORIZED"),
    *DEFAULT_STATUS_RULES,
)


class LoopRefused(Rejected):
    """Loop refused an action (often inside an HTTP 200); the message is Loop's reason."""

    code = "LOOP_REFUSED"


def _refusal(body: Any) -> str | None:
    """Loop's reason when `body` is one of its error objects, else None."""
    if not isinstance(body, dict) or not body or not set(body) <= _ERROR_KEYS:
        return None
    errors = body.get("errors") or body.get("error")
    if isinstance(errors, dict) and errors.get("message"):
        return str(errors["message"])
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("message") or errors[0].get("code"))
    return str(body.get("message") or body.get("content") or errors)


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
        self._sleep = sleep
        self._clock = clock

    # -- the calls ------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        payload: Mapping[str, Any] | None = None,
        params: QueryParams | None = None,
        writes: bool = False,
    ) -> Any:
        for attempt in range(MAX_RATE_RETRIES + 1):
            self._budget.wait_turn()
            try:
                response = self._client.request_json(
                    method,  # type: ignore[arg-type]
                    path,
                    payload=payload,
                    params=params,
                    writes=writes,
                )
            except RateLimited:
                if attempt == MAX_RATE_RETRIES:
                    raise
                self._sleep(2.0**attempt)
                continue
            except PermanentError as error:
                raise _explained(error) from None
            reason = _refusal(response.body)
            if reason is not None:
                raise LoopRefused("LOOP_REFUSED", f"Loop refused {path}: {reason}")
            return response.body
        raise AssertionError("unreachable")  # pragma: no cover

    # -- ReturnsSystem --------------------------------------------------------------------

    def open_return(self, request: ReturnsSystemRequest) -> ExternalReturn:
        found = self._find_by_key(request)
        if found is not None:
            return found
        draft = self._call(
            "POST",
            "draft-returns",
            payload={
                "order_name": request.order_name,
                "secondary_input": request.secondary_input,
                "is_gift": False,
            },
            writes=True,
        )
        for line in request.lines:
            target = _template_target(draft, "add-line-item", "line-items")
            draft = self._call(
                "POST",
                target,
                payload={
                    "line_item_id": int(numeric_id(line.line_item_id)),
                    "quantity": line.quantity,
                    "reason": line.reason,
                },
                writes=True,
            )
        submitted = self._call("POST", _template_target(draft, "submit", "submit"), writes=True)
        return_id = str(submitted["draft_return"]["return_id"])
        self._note(return_id, _key_note(request))
        return self.get_return(return_id)

    def process(self, return_id: str, note: str | None = None) -> None:
        self._call("POST", f"warehouse/return/{return_id}/process", writes=True)
        if note:
            self._note(return_id, note)

    def close(self, return_id: str, note: str | None = None) -> None:
        self._call("POST", f"warehouse/return/{return_id}/close", writes=True)
        if note:
            self._note(return_id, note)

    def cancel(self, return_id: str, note: str | None = None) -> None:
        self._call("POST", f"warehouse/return/{return_id}/cancel", writes=True)
        if note:
            self._note(return_id, note)

    def get_return(self, return_id: str) -> ExternalReturn:
        body = self._call("GET", "warehouse/return/details", params={"return_id": return_id})
        return external_return(body)

    def changed_since(self, since: datetime, until: datetime) -> list[ExternalReturn]:
        found: dict[str, ExternalReturn] = {}
        start = since
        while start < until:
            end = min(start + WINDOW, until)
            for item in self._list(start, end, by="updated_at"):
                found[item.id] = item
            start = end
        return list(found.values())

    # -- helpers --------------------------------------------------------------------------

    def _list(self, start: datetime, end: datetime, *, by: str) -> list[ExternalReturn]:
        params: dict[str, str] = {
            "from": _iso(start),
            "to": _iso(end),
            "filter": by,
            "paginate": "true",
            "pageSize": "250",
        }
        out: list[ExternalReturn] = []
        while True:
            body = self._call("GET", "warehouse/return/list", params=params)
            rows = body.get("returns", []) if isinstance(body, dict) else body
            out.extend(external_return(row) for row in rows)
            following = body.get("nextPageUrl") if isinstance(body, dict) else None
            if not following:
                return out
            params = dict(parse_qsl(urlsplit(str(following)).query))

    def _find_by_key(self, request: ReturnsSystemRequest) -> ExternalReturn | None:
        """The return of this order that carries our key, opened by an earlier attempt."""
        now = self._clock()
        name = request.order_name
        candidates = [
            r
            for r in self._list(now - WINDOW, now + timedelta(minutes=5), by="created_at")
            if r.order_name in (name, name.lstrip("#"), "#" + name.lstrip("#"))
            and r.state != "cancelled"
        ]
        for candidate in candidates:
            try:
                body = self._call("GET", f"warehouse/return/{candidate.id}/notes")
            except ConnectorError:
                continue  # Loop answers 422 when a return has no notes
            notes = body.get("notes", []) if isinstance(body, dict) else []
            if any(request.key in str(n.get("content", "")) for n in notes):
                return self.get_return(candidate.id)
        return None

    def _note(self, return_id: str, content: str) -> None:
        self._call(
            "POST",
            f"warehouse/return/{return_id}/note",
            payload={"content": content[:NOTE_LIMIT]},
            writes=True,
        )


def _key_note(request: ReturnsSystemRequest) -> str:
    text = f"returnbridge key {request.key}"
    return f"{text}: {request.note}" if request.note else text


def _template_target(draft: Any, template: str, fallback: str) -> str:
    """Follow the draft's HAL-Forms template (Loop's hypermedia), relative to the API root."""
    target = ((draft.get("_templates") or {}).get(template) or {}).get("target")
    if not target:
        return f"draft-returns/{draft['draft_return']['id']}/{fallback}"
    path = urlsplit(str(target)).path
    marker = f"/api/{VERSION}/"
    return path.split(marker, 1)[1] if marker in path else path.lstrip("/")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _explained(error: PermanentError) -> PermanentError:
    """Our own sentence for the refusals a merchant can act on."""
    body = str(error.details.get("body", "")) if hasattr(error, "details") else ""
    if "returns-unavailable-for-order" in body:
        return Rejected(
            "RETURNS_UNAVAILABLE_FOR_ORDER",
            "Loop has no return policy covering this order (returns-unavailable-for-order):"
            " check the order's address and the return policies in Loop",
        )
    if "order-not-found" in body:
        return Rejected(
            "LOOP_ORDER_NOT_FOUND",
            "Loop found no order with that name and customer email",
        )
    if isinstance(error, AuthError):
        return AuthError(
            "LOOP_UNAUTHORIZED",
            "Loop refused the API key (401): check the key and its scopes (returns, draft returns)",
        )
    return error


def from_connection(
    base_url: str,
    credentials: Mapping[str, Any],
    timeout: float,
    state: dict[str, Any],
    settings: Mapping[str, Any],
) -> LoopConnector:
    """The connector for a stored `loop` connection; its budget lives in `state`."""
    budget = state.setdefault("loop_budget", MinuteBudget())
    return LoopConnector(
        base_url,
        str(credentials["api_key"]),
        timeout=timeout,
        http=state.get("http"),
        budget=budget,
    )
