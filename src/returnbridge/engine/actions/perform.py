"""An action as a tenant asks for it: the connection checked, a write claimed under its
`Idempotency-Key` (a replay answers the kept result), the platform called, the call audited.

Reads run without a key. A write's platform key is derived from the tenant and its key, so a
request retried after a crash (its claim gone stale) reaches the platform with the same key
and the platform, or our note on the refund, keeps it to one effect.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from returnbridge.connectors import registry
from returnbridge.engine.actions import catalog
from returnbridge.engine.actions.run import (
    ActionFailed,
    execute,
    parse_input,
    uncertain_after_failure,
)
from returnbridge.engine.runtime import Runtime
from returnbridge.observability import get_logger
from returnbridge.store import action_calls, audit
from returnbridge.store.connections import get_connection
from returnbridge.store.errors import RecordNotFoundError
from returnbridge.store.tables import Connection

log = get_logger(__name__)

MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks: the tenant, the channel (api, mcp, dashboard) and the actor's name."""

    tenant_id: str
    channel: str = "api"
    actor: str = "api-key"


@dataclass(frozen=True, slots=True)
class Performed:
    status: int
    body: dict[str, Any]
    replayed: bool = False


def platform_key(tenant_id: str, key: str) -> str:
    """The key the platform sees for a tenant's `Idempotency-Key` (fixed, short, opaque)."""
    digest = hashlib.sha256(f"{tenant_id}\x00{key}".encode()).hexdigest()
    return f"rbx-{digest[:24]}"


def tenant_connection(runtime: Runtime, tenant_id: str, connection_id: str) -> Connection:
    """The tenant's connection; `ActionFailed` 404 when it has none of that id."""
    with runtime.sessions() as session:
        try:
            return get_connection(session, connection_id, tenant_id=tenant_id)
        except RecordNotFoundError as exc:
            raise ActionFailed(
                404, "CONNECTION_NOT_FOUND", f"connection {connection_id} not found"
            ) from exc


def perform(
    runtime: Runtime,
    caller: Caller,
    connection_id: str,
    action_name: str,
    payload: dict[str, Any],
    *,
    idempotency_key: str | None = None,
) -> Performed:
    """Run one action for `caller`; raises `ActionFailed` (audited) when it cannot."""
    started = time.monotonic()

    def audited(outcome: str, status: int, detail: str | None = None) -> None:
        _audit(
            runtime,
            caller.tenant_id,
            audit.Entry(
                channel=caller.channel,
                actor=caller.actor,
                action=action_name,
                outcome=outcome,
                connection_id=connection_id,
                idempotency_key=idempotency_key,
                status_code=status,
                detail=detail,
                summary=_summary(payload),
                duration_ms=int((time.monotonic() - started) * 1000),
            ),
        )

    try:
        connection = tenant_connection(runtime, caller.tenant_id, connection_id)
        action = catalog.find_action(connection.platform, action_name)
        if action is None:
            raise ActionFailed(
                404,
                "ACTION_NOT_FOUND",
                f"{connection.platform} connections have no action {action_name!r}; "
                "GET /v1/connectors lists them",
            )
        data = parse_input(action, payload)
        if not action.write:
            body = execute(runtime.connector(connection), connection, action, data, "")
            result = Performed(200, body)
        else:
            result = _write(runtime, caller, connection, action, data, key=idempotency_key)
    except ActionFailed as failure:
        audited("error", failure.status, failure.detail)
        raise
    audited("replayed" if result.replayed else "ok", result.status)
    return result


def _write(
    runtime: Runtime,
    caller: Caller,
    connection: Connection,
    action: catalog.Action,
    data: Any,
    *,
    key: str | None,
) -> Performed:
    if not key or not key.strip():
        raise ActionFailed(
            428,
            "IDEMPOTENCY_KEY_REQUIRED",
            f"{action.name} changes the platform: send an Idempotency-Key header (any unique "
            "string, e.g. a UUID) and send the same one when you retry",
        )
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ActionFailed(
            422, "INVALID_IDEMPOTENCY_KEY", "Idempotency-Key: at most 255 printable characters"
        )
    digest = action_calls.request_hash(connection.id, action.name, data.model_dump(mode="json"))
    with runtime.sessions.begin() as session:
        claim = action_calls.claim(
            session,
            tenant_id=caller.tenant_id,
            connection_id=connection.id,
            action=action.name,
            key=key,
            digest=digest,
        )
        call_id = claim.call.id
        kept = (claim.call.status_code, claim.call.response)
    if claim.kind == "mismatch":
        raise ActionFailed(
            422,
            "IDEMPOTENCY_KEY_REUSED",
            "this Idempotency-Key was used for another request; use a new key for a new request",
        )
    if claim.kind == "running":
        raise ActionFailed(
            409,
            "IDEMPOTENCY_KEY_IN_USE",
            "a request with this Idempotency-Key is still running; retry in a few seconds",
            retry_after=2,
        )
    if claim.kind == "done":
        return Performed(kept[0] or 200, dict(kept[1] or {}), replayed=True)
    uncertain = uncertain_after_failure(action.name, registry.capabilities(connection.platform))
    if claim.kind == "stale" and uncertain:
        raise _unknown_outcome(runtime, call_id)
    try:
        body = execute(
            runtime.connector(connection),
            connection,
            action,
            data,
            platform_key(caller.tenant_id, key),
        )
    except ActionFailed as failure:
        if uncertain and failure.status == 503:  # sent, perhaps applied: never twice
            raise _unknown_outcome(runtime, call_id) from failure
        with runtime.sessions.begin() as session:
            if failure.retryable:
                action_calls.release(session, call_id)
            else:
                refusal = {"code": failure.code, "detail": failure.detail, "status": failure.status}
                action_calls.finish(
                    session, call_id, status_code=failure.status, response={"error": refusal}
                )
        raise
    with runtime.sessions.begin() as session:
        action_calls.finish(session, call_id, status_code=201, response=body)
    return Performed(201, body)


def _unknown_outcome(runtime: Runtime, call_id: str) -> ActionFailed:
    """Keep, for this key, that the write's outcome is unknown (a stock adjustment that may
    have been applied): retrying it could apply it twice."""
    failure = ActionFailed(
        409,
        "OUTCOME_UNKNOWN",
        "the platform did not confirm this stock adjustment, so it may have been applied: "
        "check the stock; to send it again, use a new Idempotency-Key",
    )
    refusal = {"code": failure.code, "detail": failure.detail, "status": failure.status}
    with runtime.sessions.begin() as session:
        action_calls.finish(session, call_id, status_code=409, response={"error": refusal})
    return failure


def _summary(payload: dict[str, Any]) -> dict[str, Any]:
    """What the call asked, small enough to keep: scalar fields and the size of lists."""
    out: dict[str, Any] = {}
    for name, value in payload.items():
        if isinstance(value, list):
            out[name] = f"{len(value)} item(s)"
        elif isinstance(value, str | int | float | bool) or value is None:
            out[name] = value if not isinstance(value, str) else value[:200]
    return out


def _audit(runtime: Runtime, tenant_id: str, entry: audit.Entry) -> None:
    try:
        with runtime.sessions.begin() as session:
            audit.record(session, tenant_id, entry)
    except Exception:  # the answer is not lost for a failed audit write; it is logged
        log.exception("audit write failed", action=entry.action, tenant_id=tenant_id)
