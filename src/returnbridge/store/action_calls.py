"""Idempotency records of Connectivity API writes (`ActionCall`).

A write is claimed under its key before the platform is called and finished with its answer.
A replay with the same key and request gets the kept answer; a claim still running (another
request, or a worker that died mid-call) is refused until it is stale, then taken over: the
platform call is keyed by the same idempotency key, so running it again cannot double it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from returnbridge.store.clock import Clock, utc_now
from returnbridge.store.ids import IdSource, new_id
from returnbridge.store.tables import ActionCall

STALE_AFTER = timedelta(minutes=2)
"""A running claim older than this is taken over by the next request with its key."""


def request_hash(connection_id: str, action: str, payload: dict[str, Any]) -> str:
    """SHA-256 of what the request asks (its canonical JSON), to recognise a reused key."""
    text = json.dumps([connection_id, action, payload], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Claim:
    """What `claim` found: `new` (go ahead), `stale` (a claim left running by a request that
    never finished, now this one's: the platform may or may not have acted), `done` (replay
    `call`'s answer), `running` (another request holds the key), or `mismatch` (the key was
    used for another request)."""

    kind: Literal["new", "stale", "done", "running", "mismatch"]
    call: ActionCall


def claim(
    session: Session,
    *,
    tenant_id: str,
    connection_id: str,
    action: str,
    key: str,
    digest: str,
    ids: IdSource = new_id,
    clock: Clock = utc_now,
) -> Claim:
    """Claim `key` for this request in a transaction of its own (the caller commits)."""
    now = clock()
    existing = _locked(session, tenant_id, key)
    if existing is None:
        call = ActionCall(
            id=ids("act"),
            tenant_id=tenant_id,
            connection_id=connection_id,
            action=action,
            idempotency_key=key,
            request_hash=digest,
            state="running",
            status_code=None,
            response=None,
            created_at=now,
            updated_at=now,
        )
        try:
            with session.begin_nested():
                session.add(call)
        except IntegrityError:  # a concurrent request inserted it first
            existing = _locked(session, tenant_id, key)
            if existing is None:  # pragma: no cover - the row that clashed is there
                raise
        else:
            return Claim("new", call)
    if existing.request_hash != digest:
        return Claim("mismatch", existing)
    if existing.state == "done":
        return Claim("done", existing)
    if now - existing.updated_at < STALE_AFTER:
        return Claim("running", existing)
    existing.updated_at = now  # stale: this request takes it over
    return Claim("stale", existing)


def finish(
    session: Session,
    call_id: str,
    *,
    status_code: int,
    response: dict[str, Any],
    clock: Clock = utc_now,
) -> None:
    """Keep the answer of a claimed call for replays."""
    call = session.get(ActionCall, call_id)
    if call is None:  # pragma: no cover - claims are never deleted while running
        return
    call.state, call.status_code, call.response = "done", status_code, response
    call.updated_at = clock()


def release(session: Session, call_id: str) -> None:
    """Forget a claim whose call may be retried (the platform was unreachable or busy)."""
    call = session.get(ActionCall, call_id)
    if call is not None and call.state == "running":
        session.delete(call)


def _locked(session: Session, tenant_id: str, key: str) -> ActionCall | None:
    query = (
        select(ActionCall)
        .where(ActionCall.tenant_id == tenant_id, ActionCall.idempotency_key == key)
        .with_for_update()
    )
    return session.scalar(query)
